"""Dify "apps" and everything serving them: model config, site, API keys, end users, conversations,
messages, feedback, files and annotations. Table shapes follow Dify's (``../shared/contract/platform.md`` 1.2-1.3).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from accounts.models import TenantScopedModel, TimestampedModel


class AppMode(models.TextChoices):
    COMPLETION = "completion"
    WORKFLOW = "workflow"
    CHAT = "chat"
    ADVANCED_CHAT = "advanced-chat"
    AGENT_CHAT = "agent-chat"

    @classmethod
    def workflow_modes(cls) -> frozenset[str]:
        return frozenset({cls.WORKFLOW, cls.ADVANCED_CHAT})

    @classmethod
    def chat_modes(cls) -> frozenset[str]:
        return frozenset({cls.CHAT, cls.AGENT_CHAT, cls.ADVANCED_CHAT})


class IconType(models.TextChoices):
    EMOJI = "emoji"
    IMAGE = "image"
    LINK = "link"


class App(TenantScopedModel):
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    mode = models.CharField(max_length=32, choices=AppMode.choices)
    icon_type = models.CharField(max_length=16, choices=IconType.choices, default=IconType.EMOJI)
    icon = models.CharField(max_length=255, blank=True, default="🤖")
    icon_background = models.CharField(max_length=255, blank=True, default="#FFEAD5")
    app_model_config = models.ForeignKey(
        "AppModelConfig", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The published workflow version serving the app (workflow and advanced-chat modes).
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, default="normal")
    enable_site = models.BooleanField(default=True)
    enable_api = models.BooleanField(default=True)
    api_rpm = models.IntegerField(default=0)
    api_rph = models.IntegerField(default=0)
    is_demo = models.BooleanField(default=False)
    is_public = models.BooleanField(default=False)
    is_universal = models.BooleanField(default=False)
    tracing = models.JSONField(null=True, blank=True)
    max_active_requests = models.IntegerField(null=True, blank=True)
    use_icon_as_answer_icon = models.BooleanField(default=False)
    # Record every run's outside I/O as a replay log (RunReplayLog); a request may ask for it too.
    replay_log_enabled = models.BooleanField(default=False)
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "mode", "created_at"])]

    def __str__(self) -> str:
        return self.name


class AppModelConfig(TimestampedModel):
    """One saved configuration of a chat, agent-chat or completion app (all of Dify's keys in ``config``).

    Rows are never edited: saving a new configuration writes a new row and points the app at it, so
    each message keeps the configuration it ran with.
    """

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="model_configs")
    provider = models.CharField(max_length=255, blank=True, default="")
    model_id = models.CharField(max_length=255, blank=True, default="")
    config = models.JSONField(default=dict)
    created_by = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return f"config {self.id} of {self.app_id}"


class Site(TenantScopedModel):
    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="site")
    title = models.CharField(max_length=255)
    icon_type = models.CharField(max_length=16, blank=True, default="")
    icon = models.CharField(max_length=255, blank=True, default="")
    icon_background = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    default_language = models.CharField(max_length=32, default="en-US")
    chat_color_theme = models.CharField(max_length=255, blank=True, default="")
    chat_color_theme_inverted = models.BooleanField(default=False)
    copyright = models.CharField(max_length=255, blank=True, default="")
    privacy_policy = models.CharField(max_length=255, blank=True, default="")
    show_workflow_steps = models.BooleanField(default=True)
    use_icon_as_answer_icon = models.BooleanField(default=False)
    custom_disclaimer = models.CharField(max_length=512, blank=True, default="")
    customize_domain = models.CharField(max_length=255, blank=True, default="")
    customize_token_strategy = models.CharField(max_length=16, default="not_allow")
    prompt_public = models.BooleanField(default=False)
    status = models.CharField(max_length=16, default="normal")
    code = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.title


class ApiTokenType(models.TextChoices):
    APP = "app"
    DATASET = "dataset"


class ApiToken(TenantScopedModel):
    """An API key. Only its SHA-256 is stored; ``prefix`` (the first characters) identifies it in lists."""

    app = models.ForeignKey(App, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens")
    type = models.CharField(max_length=16, choices=ApiTokenType.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}…"


class EndUser(TenantScopedModel):
    """Someone using an app through the Service API or a web app, identified by the developer's ``user``."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="end_users")
    type = models.CharField(max_length=32, default="service_api")
    external_user_id = models.CharField(max_length=255, blank=True, default="")
    name = models.CharField(max_length=255, blank=True, default="")
    is_anonymous = models.BooleanField(default=False)
    session_id = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "type", "session_id"], name="unique_end_user")]

    def __str__(self) -> str:
        return self.session_id


class InvokeFrom(models.TextChoices):
    SERVICE_API = "service-api"
    WEB_APP = "web-app"
    EXPLORE = "explore"
    DEBUGGER = "debugger"


class Conversation(TenantScopedModel):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="conversations")
    app_model_config_id = models.UUIDField(null=True, blank=True)
    workflow_id = models.UUIDField(null=True, blank=True)
    model_provider = models.CharField(max_length=255, blank=True, default="")
    model_id = models.CharField(max_length=255, blank=True, default="")
    override_model_configs = models.JSONField(null=True, blank=True)
    mode = models.CharField(max_length=32)
    name = models.CharField(max_length=255, blank=True, default="")
    summary = models.TextField(blank=True, default="")
    inputs = models.JSONField(default=dict)
    introduction = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, default="normal")
    invoke_from = models.CharField(max_length=32, choices=InvokeFrom.choices)
    from_source = models.CharField(max_length=16)  # api | console
    from_end_user = models.ForeignKey(
        EndUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_account_id = models.UUIDField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    dialogue_count = models.IntegerField(default=0)
    is_deleted = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["app", "from_end_user", "is_deleted", "updated_at"]),
            models.Index(fields=["app", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.name or str(self.id)


class MessageStatus(models.TextChoices):
    NORMAL = "normal"
    ERROR = "error"
    PAUSED = "paused"


class Message(TenantScopedModel):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    app_model_config_id = models.UUIDField(null=True, blank=True)
    model_provider = models.CharField(max_length=255, blank=True, default="")
    model_id = models.CharField(max_length=255, blank=True, default="")
    override_model_configs = models.JSONField(null=True, blank=True)
    inputs = models.JSONField(default=dict)
    query = models.TextField(blank=True, default="")
    message = models.JSONField(null=True, blank=True)  # the prompt messages sent to the model
    message_tokens = models.IntegerField(default=0)
    message_unit_price = models.DecimalField(max_digits=20, decimal_places=10, default=Decimal(0))
    message_price_unit = models.DecimalField(max_digits=10, decimal_places=7, default=Decimal("0.001"))
    answer = models.TextField(blank=True, default="")
    answer_tokens = models.IntegerField(default=0)
    answer_unit_price = models.DecimalField(max_digits=20, decimal_places=10, default=Decimal(0))
    answer_price_unit = models.DecimalField(max_digits=10, decimal_places=7, default=Decimal("0.001"))
    total_price = models.DecimalField(max_digits=20, decimal_places=10, default=Decimal(0))
    currency = models.CharField(max_length=16, default="USD")
    provider_response_latency = models.FloatField(default=0)
    parent_message_id = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.NORMAL)
    error = models.TextField(blank=True, default="")
    message_metadata = models.JSONField(default=dict)
    invoke_from = models.CharField(max_length=32, choices=InvokeFrom.choices)
    from_source = models.CharField(max_length=16)
    from_end_user = models.ForeignKey(
        EndUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_account_id = models.UUIDField(null=True, blank=True)
    agent_based = models.BooleanField(default=False)
    workflow_run_id = models.UUIDField(null=True, blank=True)
    app_mode = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["app", "created_at"]),
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["workflow_run_id"]),
        ]

    def __str__(self) -> str:
        return f"message {self.id}"


class MessageFeedback(TenantScopedModel):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedbacks")
    rating = models.CharField(max_length=16)  # like | dislike
    content = models.TextField(blank=True, default="")
    from_source = models.CharField(max_length=16)  # user | admin
    from_end_user = models.ForeignKey(
        EndUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_account_id = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["app", "created_at"])]

    def __str__(self) -> str:
        return f"{self.rating} on {self.message_id}"


class MessageFile(TimestampedModel):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="files")
    type = models.CharField(max_length=32)
    transfer_method = models.CharField(max_length=32)
    url = models.TextField(blank=True, default="")
    belongs_to = models.CharField(max_length=16, default="user")  # user | assistant
    upload_file = models.ForeignKey(
        "files.UploadFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_role = models.CharField(max_length=16)
    created_by = models.UUIDField()

    def __str__(self) -> str:
        return f"file of {self.message_id}"


class MessageAgentThought(TimestampedModel):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="agent_thoughts")
    position = models.IntegerField()
    thought = models.TextField(blank=True, default="")
    tool = models.TextField(blank=True, default="")
    tool_labels = models.JSONField(default=dict)
    tool_meta = models.JSONField(default=dict)
    tool_input = models.TextField(blank=True, default="")
    observation = models.TextField(blank=True, default="")
    answer = models.TextField(blank=True, default="")
    message_files = models.JSONField(default=list)
    tokens = models.IntegerField(default=0)
    total_price = models.DecimalField(max_digits=20, decimal_places=10, default=Decimal(0))
    currency = models.CharField(max_length=16, default="USD")
    latency = models.FloatField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"thought {self.position} of {self.message_id}"


class MessageAnnotation(TenantScopedModel):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="annotations")
    conversation_id = models.UUIDField(null=True, blank=True)
    message_id = models.UUIDField(null=True, blank=True)
    question = models.TextField(blank=True, default="")
    content = models.TextField()
    hit_count = models.IntegerField(default=0)
    account_id = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["app", "created_at"]), models.Index(fields=["message_id"])]

    def __str__(self) -> str:
        return self.question[:50]


class AppAnnotationSetting(TenantScopedModel):
    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="annotation_setting")
    enabled = models.BooleanField(default=False)
    score_threshold = models.FloatField(default=0.9)
    embedding_provider_name = models.CharField(max_length=255, blank=True, default="")
    embedding_model_name = models.CharField(max_length=255, blank=True, default="")
    created_user_id = models.UUIDField(null=True, blank=True)
    updated_user_id = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return f"annotation reply of {self.app_id}"


class AppAnnotationHitHistory(TenantScopedModel):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    annotation = models.ForeignKey(MessageAnnotation, on_delete=models.CASCADE, related_name="hit_histories")
    source = models.CharField(max_length=32)
    question = models.TextField(blank=True, default="")
    account_id = models.UUIDField(null=True, blank=True)
    score = models.FloatField(default=0)
    message_id = models.UUIDField(null=True, blank=True)
    annotation_question = models.TextField(blank=True, default="")
    annotation_content = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"hit of {self.annotation_id}"


class Tag(TenantScopedModel):
    type = models.CharField(max_length=16)  # app | knowledge
    name = models.CharField(max_length=255)
    created_by = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class TagBinding(TenantScopedModel):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="bindings")
    target_id = models.UUIDField()
    created_by = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tag", "target_id"], name="unique_tag_binding")]

    def __str__(self) -> str:
        return f"{self.tag_id} on {self.target_id}"


class WebAppAccessMode(models.TextChoices):
    """Who may open an app's web site (Dify enterprise's web-app access modes)."""

    PUBLIC = "public"  # anyone with the link
    PRIVATE_ALL = "private_all"  # signed-in members of the app's workspace
    PRIVATE = "private"  # signed-in accounts whose email is listed


class WebAppAccess(TenantScopedModel):
    """The access mode of an app's web site. No row means public, as Dify without web-app auth."""

    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="web_access")
    access_mode = models.CharField(
        max_length=16, choices=WebAppAccessMode.choices, default=WebAppAccessMode.PUBLIC
    )
    allowed_emails = models.JSONField(default=list)  # lower-cased; used by the `private` mode

    def __str__(self) -> str:
        return f"{self.access_mode} access to {self.app_id}"


class PinnedConversation(TenantScopedModel):
    """A web-app user's pinned conversation (Dify's ``pinned_conversations``)."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    created_by_role = models.CharField(max_length=16, default="end_user")
    created_by = models.UUIDField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "conversation", "created_by_role", "created_by"],
                name="unique_pinned_conversation",
            )
        ]

    def __str__(self) -> str:
        return f"pin of {self.conversation_id}"


class SavedMessage(TenantScopedModel):
    """A web-app user's saved completion (Dify's ``saved_messages``)."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    created_by_role = models.CharField(max_length=16, default="end_user")
    created_by = models.UUIDField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "message", "created_by_role", "created_by"], name="unique_saved_message"
            )
        ]
        indexes = [models.Index(fields=["app", "created_by", "created_at"])]

    def __str__(self) -> str:
        return f"saved {self.message_id}"


class AppMCPServerStatus(models.TextChoices):
    ACTIVE = "active"
    INACTIVE = "inactive"


class AppMCPServer(TenantScopedModel):
    """An app exposed as an MCP server at `/mcp/server/<server_code>/mcp` (Dify's `app_mcp_servers`).

    `parameters` describes the app's inputs for the tool's schema (`{variable: description}`); the server
    code is the only credential the endpoint takes, so it is long, random and can be refreshed."""

    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="mcp_server")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    server_code = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=16, choices=AppMCPServerStatus.choices, default=AppMCPServerStatus.ACTIVE
    )
    parameters = models.JSONField(default=dict, blank=True)


class WorkflowToolProvider(TenantScopedModel):
    """A published workflow app offered as a workspace tool (Dify's `tool_workflow_providers`).

    `name` is the tool's name (letters, digits, underscores); `parameter_configuration` describes each
    start variable for the model (`[{name, description, form}]`, `form` llm or form)."""

    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="workflow_tool")
    user = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=255)
    label = models.CharField(max_length=255)
    icon = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True, default="")
    parameter_configuration = models.JSONField(default=list, blank=True)
    privacy_policy = models.CharField(max_length=255, blank=True, default="")
    labels = models.JSONField(default=list, blank=True)
    version = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="unique_workflow_tool_provider_name")
        ]


class AppDailyUsage(TenantScopedModel):
    """One app's usage on one calendar day of one time zone, rolled up by ``operations.roll_up_usage``;
    the statistics endpoints read it for the days its workspace's ``DailyUsageWatermark`` covers (a day
    with no row there had no traffic). Debugger traffic is left out and runs are published runs, as in
    the statistics themselves."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    timezone = models.CharField(max_length=64)
    day = models.DateField()
    message_count = models.IntegerField(default=0)
    conversation_count = models.IntegerField(default=0)
    end_user_count = models.IntegerField(default=0)
    message_tokens = models.BigIntegerField(default=0)
    answer_tokens = models.BigIntegerField(default=0)
    total_price = models.DecimalField(max_digits=30, decimal_places=10, default=Decimal(0))
    latency_sum = models.FloatField(default=0)
    run_count = models.IntegerField(default=0)
    run_user_count = models.IntegerField(default=0)
    run_tokens = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "app daily usage"
        constraints = [
            models.UniqueConstraint(fields=["app", "timezone", "day"], name="unique_app_daily_usage")
        ]
        indexes = [models.Index(fields=["tenant", "timezone", "day"])]

    def __str__(self) -> str:
        return f"{self.app_id} {self.day} ({self.timezone})"


class DailyUsageWatermark(TenantScopedModel):
    """Every day up to ``through_day`` (in ``timezone``) is rolled up for all of the workspace's apps."""

    timezone = models.CharField(max_length=64)
    through_day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "timezone"], name="unique_daily_usage_watermark")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} through {self.through_day} ({self.timezone})"


class RunReplayLog(TenantScopedModel):
    """A workflow run's recorded outside calls (workflows.engine.replay), redacted, for replaying it."""

    app_id = models.UUIDField(db_index=True)
    workflow_run_id = models.UUIDField(unique=True)
    workflow_id = models.UUIDField()
    inputs = models.JSONField(default=dict)
    system = models.JSONField(default=dict)  # sys.* without files (those are re-read from inputs)
    conversation = models.JSONField(default=list)
    log = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"replay log of {self.workflow_run_id}"


class BudgetPeriod(models.TextChoices):
    DAILY = "daily"
    MONTHLY = "monthly"


class Budget(TenantScopedModel):
    """A spending limit for the workspace (``app_id`` empty) or one app: money in the model prices'
    currency and/or tokens, per day or month. Usage lives in counters (Redis or BudgetCounter)."""

    app_id = models.UUIDField(null=True, blank=True)
    period = models.CharField(max_length=16, choices=BudgetPeriod.choices, default=BudgetPeriod.MONTHLY)
    amount = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=8, default="USD")
    token_limit = models.BigIntegerField(null=True, blank=True)
    alert_threshold = models.FloatField(default=0.8)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "app_id"], name="unique_budget_scope")]

    def __str__(self) -> str:
        return f"budget {self.tenant_id}/{self.app_id or '*'}"


class BudgetCounter(TimestampedModel):
    """Spend and tokens of one budget in one period (embedded mode; Redis keeps them when scaled)."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="counters")
    period_key = models.CharField(max_length=16)  # 2026-12 or 2026-12-07
    spent = models.DecimalField(max_digits=24, decimal_places=10, default=Decimal(0))
    tokens = models.BigIntegerField(default=0)
    alerted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["budget", "period_key"], name="unique_budget_counter")]

    def __str__(self) -> str:
        return f"{self.budget_id} {self.period_key}"

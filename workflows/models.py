"""Workflows (a draft and immutable published versions), runs, node executions and app logs.

Shaped like Dify's ``workflows``, ``workflow_runs``, ``workflow_node_executions``, ``workflow_app_logs``
and ``workflow_conversation_variables``. ``app_id`` is a plain UUID, not a foreign key: apps depend on
workflows, never the reverse (DESIGN.md section 2); deleting an app deletes its workflows in a service.
"""

from __future__ import annotations

from django.db import models

from accounts.models import TenantScopedModel

DRAFT = "draft"


class WorkflowType(models.TextChoices):
    WORKFLOW = "workflow"
    CHAT = "chat"


class Workflow(TenantScopedModel):
    """One row per app for the draft (``version == "draft"``) plus one immutable row per published version.

    ``version`` is Dify's publish timestamp string (what its APIs return); ``number`` counts publications.
    """

    app_id = models.UUIDField(db_index=True)
    type = models.CharField(max_length=16, choices=WorkflowType.choices)
    version = models.CharField(max_length=64)
    number = models.PositiveIntegerField(null=True, blank=True)
    marked_name = models.CharField(max_length=255, blank=True, default="")
    marked_comment = models.CharField(max_length=255, blank=True, default="")
    graph = models.JSONField(default=dict)
    features = models.JSONField(default=dict)
    # Secret values are stored encrypted inside the list (see workflows.variables).
    environment_variables = models.JSONField(default=list)
    conversation_variables = models.JSONField(default=list)
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app_id", "version"], name="unique_workflow_version")]
        indexes = [models.Index(fields=["tenant", "app_id", "version"])]

    def __str__(self) -> str:
        return f"workflow {self.app_id} {self.version}"

    @property
    def is_draft(self) -> bool:
        return self.version == DRAFT


class WorkflowRunStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    PARTIAL_SUCCEEDED = "partial-succeeded"
    PAUSED = "paused"


class TriggeredFrom(models.TextChoices):
    DEBUGGING = "debugging"
    APP_RUN = "app-run"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"


class WorkflowRun(TenantScopedModel):
    app_id = models.UUIDField(db_index=True)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    type = models.CharField(max_length=16, choices=WorkflowType.choices)
    triggered_from = models.CharField(max_length=32, choices=TriggeredFrom.choices)
    version = models.CharField(max_length=64)
    graph = models.JSONField(default=dict)
    inputs = models.JSONField(default=dict)
    status = models.CharField(
        max_length=32, choices=WorkflowRunStatus.choices, default=WorkflowRunStatus.RUNNING
    )
    outputs = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    elapsed_time = models.FloatField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    total_steps = models.IntegerField(default=0)
    exceptions_count = models.IntegerField(default=0)
    created_by_role = models.CharField(max_length=16)
    created_by = models.UUIDField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "app_id", "triggered_from", "created_at"]),
            models.Index(fields=["app_id", "status"]),
        ]

    def __str__(self) -> str:
        return f"run {self.id} ({self.status})"


class NodeExecutionStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXCEPTION = "exception"
    STOPPED = "stopped"
    PAUSED = "paused"
    RETRY = "retry"


class WorkflowNodeExecution(TenantScopedModel):
    app_id = models.UUIDField(db_index=True)
    workflow_id = models.UUIDField()
    triggered_from = models.CharField(max_length=32)  # workflow-run | single-step
    workflow_run = models.ForeignKey(
        WorkflowRun, null=True, blank=True, on_delete=models.CASCADE, related_name="node_executions"
    )
    index = models.IntegerField(default=1)
    predecessor_node_id = models.CharField(max_length=255, blank=True, default="")
    node_execution_id = models.CharField(max_length=255, blank=True, default="")
    node_id = models.CharField(max_length=255)
    node_type = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True, default="")
    inputs = models.JSONField(null=True, blank=True)
    process_data = models.JSONField(null=True, blank=True)
    outputs = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=NodeExecutionStatus.choices)
    error = models.TextField(blank=True, default="")
    elapsed_time = models.FloatField(default=0)
    execution_metadata = models.JSONField(null=True, blank=True)
    created_by_role = models.CharField(max_length=16)
    created_by = models.UUIDField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workflow_run", "index"]),
            models.Index(fields=["tenant", "app_id", "node_id", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.node_type} {self.node_id} ({self.status})"


class WorkflowAppLog(TenantScopedModel):
    """A published run (service API, web app), listed by the logs endpoints; debug runs are not logged."""

    app_id = models.UUIDField(db_index=True)
    workflow_id = models.UUIDField()
    workflow_run = models.OneToOneField(WorkflowRun, on_delete=models.CASCADE, related_name="app_log")
    created_from = models.CharField(max_length=32)  # service-api | web-app | installed-app
    created_by_role = models.CharField(max_length=16)
    created_by = models.UUIDField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "app_id", "created_at"])]

    def __str__(self) -> str:
        return f"log of {self.workflow_run_id}"


class ConversationVariable(TenantScopedModel):
    """The current value of one conversation variable in one chatflow conversation."""

    app_id = models.UUIDField(db_index=True)
    conversation_id = models.UUIDField()
    variable_id = models.CharField(max_length=255)  # the DSL's id; Dify does not require a UUID here
    name = models.CharField(max_length=255)
    value_type = models.CharField(max_length=32)
    value = models.JSONField(null=True, blank=True)
    description = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation_id", "variable_id"], name="unique_conversation_variable"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} of {self.conversation_id}"


class WorkflowPause(TenantScopedModel):
    """A run paused for human input: the engine's serialised state, and the forms waiting for an answer."""

    workflow_run = models.OneToOneField(WorkflowRun, on_delete=models.CASCADE, related_name="pause")
    state = models.JSONField()
    reasons = models.JSONField(default=list)
    resumed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"pause of {self.workflow_run_id}"


class HumanInputForm(TenantScopedModel):
    pause = models.ForeignKey(WorkflowPause, on_delete=models.CASCADE, related_name="forms")
    node_id = models.CharField(max_length=255)
    token_hash = models.CharField(max_length=64, unique=True)
    definition = models.JSONField(default=dict)
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    action = models.CharField(max_length=255, blank=True, default="")
    submitted_inputs = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"form {self.node_id} of {self.pause_id}"


class WorkflowTestCase(TenantScopedModel):
    """A test of a workflow/chatflow app (issue 16): inputs (and a query for chatflows), mocked nodes
    (``workflows.testcases``: fixed outputs, errors or delays by node id or type) and what to expect of
    the run (status, outputs, streamed answer). Exported in the app's DSL under ``x-test-cases``."""

    app_id = models.UUIDField(db_index=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    inputs = models.JSONField(default=dict)
    query = models.TextField(blank=True, default="")
    mocks = models.JSONField(default=list)
    auto_mock = models.BooleanField(default=False)
    expect = models.JSONField(default=dict)
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app_id", "name"], name="workflow_test_case_name")]
        ordering = ["created_at"]


class WorkflowTestResult(TenantScopedModel):
    """One run of a test case: which version it ran, whether it passed and why not."""

    test_case = models.ForeignKey(WorkflowTestCase, on_delete=models.CASCADE, related_name="results")
    app_id = models.UUIDField(db_index=True)
    workflow_id = models.UUIDField(null=True, blank=True)
    passed = models.BooleanField()
    status = models.CharField(max_length=32)
    outputs = models.JSONField(null=True, blank=True)
    answer = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    failures = models.JSONField(default=list)
    elapsed_time = models.FloatField(default=0.0)
    created_by = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

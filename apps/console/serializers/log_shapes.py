"""Console logs: workflow runs and node executions, app logs, conversations, messages, feedback, statistics."""

from __future__ import annotations

from rest_framework import serializers

from apps.console.serializers.shared import (
    ConsolePageOut,
    ConsoleSimpleAccountOut,
    ConsoleSimpleEndUserOut,
    TimestampOut,
    _json,
)

# --- logs ---------------------------------------------------------------------------------------------------


class ConsoleRunListQuery(serializers.Serializer):
    last_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    status = serializers.ChoiceField(
        choices=["running", "succeeded", "failed", "stopped", "partial-succeeded", "paused"], required=False
    )
    triggered_from = serializers.ChoiceField(choices=["debugging", "app-run"], required=False)


class ConsoleRunListItemOut(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.CharField()
    status = serializers.CharField()
    elapsed_time = serializers.FloatField()
    total_tokens = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    created_by_account = ConsoleSimpleAccountOut(allow_null=True)
    created_at = TimestampOut()
    finished_at = TimestampOut(allow_null=True)
    exceptions_count = serializers.IntegerField()
    triggered_from = serializers.CharField()
    conversation_id = serializers.UUIDField(required=False, allow_null=True)
    message_id = serializers.UUIDField(required=False, allow_null=True)


class ConsoleRunPageOut(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = ConsoleRunListItemOut(many=True)


class ConsoleRunDetailOut(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.CharField()
    graph = _json()
    inputs = _json()
    status = serializers.CharField()
    outputs = _json(allow_null=True)
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    total_tokens = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    created_by_role = serializers.CharField()
    created_by_account = ConsoleSimpleAccountOut(allow_null=True)
    created_by_end_user = ConsoleSimpleEndUserOut(allow_null=True)
    created_at = TimestampOut()
    finished_at = TimestampOut(allow_null=True)
    exceptions_count = serializers.IntegerField()
    triggered_from = serializers.CharField()
    workflow_id = serializers.UUIDField()


class ConsoleNodeExecutionOut(serializers.Serializer):
    id = serializers.UUIDField()
    index = serializers.IntegerField()
    predecessor_node_id = serializers.CharField(allow_null=True)
    node_id = serializers.CharField()
    node_type = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    inputs = _json(allow_null=True)
    process_data = _json(allow_null=True)
    outputs = _json(allow_null=True)
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    execution_metadata = _json(allow_null=True)
    extras = _json()
    created_at = TimestampOut()
    created_by_role = serializers.CharField()
    created_by_account = ConsoleSimpleAccountOut(allow_null=True)
    created_by_end_user = ConsoleSimpleEndUserOut(allow_null=True)
    finished_at = TimestampOut(allow_null=True)
    inputs_truncated = serializers.BooleanField()
    outputs_truncated = serializers.BooleanField()
    process_data_truncated = serializers.BooleanField()


class ConsoleNodeExecutionListOut(serializers.Serializer):
    data = ConsoleNodeExecutionOut(many=True)


class ConsoleRunDetailWithNodesOut(ConsoleRunDetailOut):
    node_executions = ConsoleNodeExecutionOut(many=True)


class ConsoleAppLogQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)
    status = serializers.ChoiceField(
        choices=["running", "succeeded", "failed", "stopped", "partial-succeeded", "paused"], required=False
    )
    created_at__before = serializers.DateTimeField(required=False)
    created_at__after = serializers.DateTimeField(required=False)
    created_by_end_user_session_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    created_by_account = serializers.EmailField(required=False, allow_blank=True)


class _ConsoleRunForLogOut(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.CharField()
    status = serializers.CharField()
    triggered_from = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    total_tokens = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    created_at = TimestampOut()
    finished_at = TimestampOut(allow_null=True)
    exceptions_count = serializers.IntegerField()


class ConsoleAppLogOut(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_run = _ConsoleRunForLogOut(allow_null=True)
    details = _json(allow_null=True)
    created_from = serializers.CharField()
    created_by_role = serializers.CharField()
    created_by_account = ConsoleSimpleAccountOut(allow_null=True)
    created_by_end_user = ConsoleSimpleEndUserOut(allow_null=True)
    created_at = TimestampOut()


class ConsoleAppLogPageOut(ConsolePageOut):
    data = ConsoleAppLogOut(many=True)


class ConsoleConversationListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)
    start = serializers.CharField(required=False, allow_blank=True, max_length=16)
    end = serializers.CharField(required=False, allow_blank=True, max_length=16)
    annotation_status = serializers.ChoiceField(
        choices=["annotated", "not_annotated", "all"], required=False, default="all"
    )
    message_count_gte = serializers.IntegerField(required=False, min_value=1)
    sort_by = serializers.ChoiceField(
        choices=["created_at", "-created_at", "updated_at", "-updated_at"],
        required=False,
        default="-updated_at",
    )


class ConsoleFeedbackStatsOut(serializers.Serializer):
    like = serializers.IntegerField()
    dislike = serializers.IntegerField()


class ConsoleChatConversationOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_end_user_session_id = serializers.CharField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    from_account_name = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_blank=True)
    summary = serializers.CharField(allow_blank=True)
    read_at = TimestampOut(allow_null=True)
    created_at = TimestampOut()
    updated_at = TimestampOut()
    annotated = serializers.BooleanField()
    model_config = _json()
    message_count = serializers.IntegerField()
    user_feedback_stats = ConsoleFeedbackStatsOut()
    admin_feedback_stats = ConsoleFeedbackStatsOut()
    status_count = _json(allow_null=True)


class ConsoleChatConversationPageOut(ConsolePageOut):
    data = ConsoleChatConversationOut(many=True)


class ConsoleCompletionConversationOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_end_user_session_id = serializers.CharField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    from_account_name = serializers.CharField(allow_null=True)
    read_at = TimestampOut(allow_null=True)
    created_at = TimestampOut()
    updated_at = TimestampOut()
    annotation = _json(allow_null=True)
    model_config = _json()
    user_feedback_stats = ConsoleFeedbackStatsOut()
    admin_feedback_stats = ConsoleFeedbackStatsOut()
    message = _json(allow_null=True)


class ConsoleCompletionConversationPageOut(ConsolePageOut):
    data = ConsoleCompletionConversationOut(many=True)


class ConsoleConversationDetailOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    created_at = TimestampOut()
    updated_at = TimestampOut(required=False)
    annotated = serializers.BooleanField(required=False)
    introduction = serializers.CharField(required=False, allow_blank=True)
    model_config = _json()
    message_count = serializers.IntegerField(required=False)
    user_feedback_stats = ConsoleFeedbackStatsOut(required=False)
    admin_feedback_stats = ConsoleFeedbackStatsOut(required=False)
    message = _json(required=False, allow_null=True)


class ConsoleMessageListQuery(serializers.Serializer):
    conversation_id = serializers.CharField(max_length=64)
    first_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)


class ConsoleMessageOut(serializers.Serializer):
    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    inputs = _json()
    query = serializers.CharField(allow_blank=True)
    message = _json(allow_null=True)
    message_tokens = serializers.IntegerField()
    answer = serializers.CharField(allow_blank=True)
    answer_tokens = serializers.IntegerField()
    provider_response_latency = serializers.FloatField()
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    feedbacks = _json()
    workflow_run_id = serializers.UUIDField(allow_null=True)
    annotation = _json(allow_null=True)
    annotation_hit_history = _json(allow_null=True)
    created_at = TimestampOut()
    agent_thoughts = _json()
    message_files = _json()
    metadata = _json()
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    parent_message_id = serializers.UUIDField(allow_null=True)


class ConsoleMessagePageOut(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = ConsoleMessageOut(many=True)


class ConsoleFeedbackIn(serializers.Serializer):
    message_id = serializers.CharField(max_length=64)
    rating = serializers.ChoiceField(choices=["like", "dislike"], allow_null=True)
    content = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4000)


# --- statistics -----------------------------------------------------------------------------------------------


class ConsoleStatisticQuery(serializers.Serializer):
    start = serializers.CharField(
        required=False, allow_blank=True, max_length=16, help_text="YYYY-MM-DD HH:MM"
    )
    end = serializers.CharField(required=False, allow_blank=True, max_length=16, help_text="YYYY-MM-DD HH:MM")


class ConsoleStatisticOut(serializers.Serializer):
    data = serializers.ListField(
        child=serializers.DictField(), help_text="One object per day: {date, <metric>}."
    )

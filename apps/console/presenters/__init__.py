"""Output shaping for the console API: rows to the JSON bodies Dify's console returns (``fields/*.py``).

Functions taking a list batch their lookups, so a page costs a fixed number of queries. The matching
serializers in ``serializers`` document the same shapes in the OpenAPI schema.
"""

from apps.console.presenters.app_shapes import (
    annotation_reply,
    api_key,
    app_detail,
    app_list,
    base_url,
    icon_url,
    model_config,
    model_config_partial,
    simple_account,
    simple_end_user,
    site,
    tag,
    workflow_partial,
)
from apps.console.presenters.conversation_shapes import (
    annotation,
    annotation_hits,
    conversation_detail,
    conversations,
    messages,
)
from apps.console.presenters.workflow_shapes import (
    node_executions,
    workflow,
    workflow_app_logs,
    workflow_run_detail,
    workflow_runs,
    workflows,
)

__all__ = [
    "annotation",
    "annotation_hits",
    "annotation_reply",
    "api_key",
    "app_detail",
    "app_list",
    "base_url",
    "conversation_detail",
    "conversations",
    "icon_url",
    "messages",
    "model_config",
    "model_config_partial",
    "node_executions",
    "simple_account",
    "simple_end_user",
    "site",
    "tag",
    "workflow",
    "workflow_app_logs",
    "workflow_partial",
    "workflow_run_detail",
    "workflow_runs",
    "workflows",
]

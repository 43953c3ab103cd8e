"""Published versions: publish the draft, name them, restore one into the draft, delete unused ones.

A published version is an immutable row (graph, features, variables); only its ``marked_name`` and
``marked_comment`` may change later. ``number`` counts publications per app (1, 2, ...); ``version`` is
Dify's publish-timestamp string, which its APIs return.
"""

from __future__ import annotations

import copy
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from workflows.models import DRAFT, Workflow, WorkflowRun
from workflows.selectors import version_get
from workflows.services.errors import DraftWorkflowNotExist, IsDraftWorkflow, WorkflowNotFound
from workflows.services.graph import graph_validate_for_publish
from workflows.services.hashing import workflow_hash

MARKED_NAME_MAX = 20
MARKED_COMMENT_MAX = 100


def _version_string() -> str:
    # Dify stores str(naive_utc_now()): "2025-01-31 12:00:00.123456".
    return timezone.now().replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@transaction.atomic
def workflow_publish(
    *, tenant_id: Any, app_id: Any, account_id: Any, marked_name: str = "", marked_comment: str = ""
) -> Workflow:
    """Freeze the draft as the next numbered version. Refuses a draft the engine does not accept (400
    naming each problem) and changes nothing then. The caller points the app at the returned row."""
    draft = (
        Workflow.objects.select_for_update().filter(tenant_id=tenant_id, app_id=app_id, version=DRAFT).first()
    )
    if draft is None:
        raise DraftWorkflowNotExist()
    graph_validate_for_publish(draft.graph)
    last = Workflow.objects.filter(tenant_id=tenant_id, app_id=app_id).aggregate(n=Max("number"))["n"] or 0
    version = _version_string()
    while Workflow.objects.filter(
        app_id=app_id, version=version
    ).exists():  # two publishes in one microsecond
        version = _version_string()
    return Workflow.objects.create(
        tenant_id=tenant_id,
        app_id=app_id,
        type=draft.type,
        version=version,
        number=last + 1,
        marked_name=marked_name or "",
        marked_comment=marked_comment or "",
        graph=copy.deepcopy(draft.graph),
        features=copy.deepcopy(draft.features),
        environment_variables=copy.deepcopy(draft.environment_variables),
        conversation_variables=copy.deepcopy(draft.conversation_variables),
        created_by=account_id,
        updated_by=account_id,
    )


@transaction.atomic
def workflow_restore(*, tenant_id: Any, app_id: Any, workflow_id: Any, account_id: Any) -> Workflow:
    """Copy a published version (graph, features, variables) into the draft; the version is untouched."""
    source = version_get(tenant_id=tenant_id, app_id=app_id, workflow_id=workflow_id)
    if source.version == DRAFT:
        raise IsDraftWorkflow()
    draft = (
        Workflow.objects.select_for_update().filter(tenant_id=tenant_id, app_id=app_id, version=DRAFT).first()
    )
    if draft is None:
        draft = Workflow(tenant_id=tenant_id, app_id=app_id, version=DRAFT, created_by=account_id)
    draft.type = source.type
    draft.graph = copy.deepcopy(source.graph)
    draft.features = copy.deepcopy(source.features)
    draft.environment_variables = copy.deepcopy(source.environment_variables)
    draft.conversation_variables = copy.deepcopy(source.conversation_variables)
    draft.updated_by = account_id
    draft.save()
    return draft


@transaction.atomic
def workflow_version_update(
    *,
    tenant_id: Any,
    app_id: Any,
    workflow_id: Any,
    account_id: Any,
    marked_name: str | None,
    marked_comment: str | None,
) -> Workflow:
    """Rename or annotate a published version (its content stays immutable)."""
    workflow = version_get(tenant_id=tenant_id, app_id=app_id, workflow_id=workflow_id)
    if workflow.version == DRAFT:
        raise IsDraftWorkflow("The draft has no name; publish it first.")
    if marked_name is not None:
        workflow.marked_name = marked_name
    if marked_comment is not None:
        workflow.marked_comment = marked_comment
    workflow.updated_by = account_id
    workflow.save(update_fields=["marked_name", "marked_comment", "updated_by", "updated_at"])
    return workflow


@transaction.atomic
def workflow_version_delete(*, tenant_id: Any, app_id: Any, workflow_id: Any, in_use_id: Any) -> None:
    """Delete a published version nobody uses: not the draft, not the app's current version, none with runs."""
    workflow = version_get(tenant_id=tenant_id, app_id=app_id, workflow_id=workflow_id)
    if workflow.version == DRAFT:
        raise IsDraftWorkflow("Cannot delete the draft workflow.")
    if in_use_id and str(workflow.id) == str(in_use_id):
        raise IsDraftWorkflow("Cannot delete the workflow version the app is currently published with.")
    if WorkflowRun.objects.filter(workflow=workflow).exists():
        raise IsDraftWorkflow("Cannot delete a workflow version that has runs; its logs refer to it.")
    workflow.delete()


def workflow_hash_of(workflow: Workflow) -> str:
    return workflow_hash(graph=workflow.graph, features=workflow.features)


__all__ = [
    "MARKED_COMMENT_MAX",
    "MARKED_NAME_MAX",
    "WorkflowNotFound",
    "workflow_hash_of",
    "workflow_publish",
    "workflow_restore",
    "workflow_version_delete",
    "workflow_version_update",
]

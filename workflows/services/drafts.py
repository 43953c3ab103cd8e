"""The draft workflow of an app: create, sync (with Dify's content-hash check), variables and features.

There is one draft row per app (``version == "draft"``). Every write locks it, so two editors saving with
the same hash cannot both win: the second gets 409 ``draft_workflow_not_sync`` and changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from workflows.models import DRAFT, Workflow, WorkflowType
from workflows.services.defaults import default_features, default_graph
from workflows.services.errors import DraftWorkflowNotExist, DraftWorkflowNotSync, WorkflowGraphInvalid
from workflows.services.graph import MAX_DEPTH, _too_deep, graph_check_shape, graph_check_structure
from workflows.services.hashing import workflow_hash
from workflows.services.variables import conversation_variables_prepare, environment_variables_prepare

_UNSET: Any = object()


def workflow_type_for(mode: str) -> str:
    return WorkflowType.CHAT if mode == "advanced-chat" else WorkflowType.WORKFLOW


def draft_hash(workflow: Workflow) -> str:
    return workflow_hash(graph=workflow.graph, features=workflow.features)


def _locked_draft(*, tenant_id: Any, app_id: Any) -> Workflow | None:
    return (
        Workflow.objects.select_for_update().filter(tenant_id=tenant_id, app_id=app_id, version=DRAFT).first()
    )


@transaction.atomic
def workflow_draft_create_default(*, tenant_id: Any, app_id: Any, mode: str, account_id: Any) -> Workflow:
    """The starting draft of a blank workflow/chatflow app (see ``defaults``)."""
    return Workflow.objects.create(
        tenant_id=tenant_id,
        app_id=app_id,
        type=workflow_type_for(mode),
        version=DRAFT,
        graph=default_graph(mode),
        features=default_features(),
        environment_variables=[],
        conversation_variables=[],
        created_by=account_id,
        updated_by=account_id,
    )


@transaction.atomic
def workflow_draft_sync(
    *,
    tenant_id: Any,
    app_id: Any,
    mode: str,
    graph: Mapping[str, Any],
    features: Mapping[str, Any],
    unique_hash: str | None,
    account_id: Any,
    environment_variables: Any = _UNSET,
    conversation_variables: Any = _UNSET,
    check_structure: bool = False,
    force: bool = False,
) -> Workflow:
    """Save the draft's graph, features and (when given) variables; create the draft if there is none.

    Refuses with 409 ``draft_workflow_not_sync`` when a draft exists and ``unique_hash`` is not its current
    hash (Dify's optimistic lock; a missing hash counts as stale). ``force`` skips the check: the DSL
    import overwriting an app uses it, having decided to replace the draft wholesale.
    ``check_structure`` additionally refuses undrawable graphs (unknown node types, dangling edges).
    Secret environment values sent as ``[__HIDDEN__]`` keep their stored value.
    """
    graph_check_shape(graph)
    if not isinstance(features, Mapping) or _too_deep(features):
        raise WorkflowGraphInvalid(f"features must be an object nesting at most {MAX_DEPTH} levels.")
    if check_structure:
        graph_check_structure(graph)
    draft = _locked_draft(tenant_id=tenant_id, app_id=app_id)
    if draft is not None and not force and unique_hash != draft_hash(draft):
        raise DraftWorkflowNotSync()
    previous_env = draft.environment_variables if draft is not None else []
    env = (
        environment_variables_prepare(environment_variables, previous=previous_env)
        if environment_variables is not _UNSET
        else None
    )
    conv = (
        conversation_variables_prepare(conversation_variables)
        if conversation_variables is not _UNSET
        else None
    )
    if draft is None:
        return Workflow.objects.create(
            tenant_id=tenant_id,
            app_id=app_id,
            type=workflow_type_for(mode),
            version=DRAFT,
            graph=copy.deepcopy(dict(graph)),
            features=copy.deepcopy(dict(features)),
            environment_variables=env or [],
            conversation_variables=conv or [],
            created_by=account_id,
            updated_by=account_id,
        )
    draft.graph = copy.deepcopy(dict(graph))
    draft.features = copy.deepcopy(dict(features))
    draft.type = workflow_type_for(mode)
    if env is not None:
        draft.environment_variables = env
    if conv is not None:
        draft.conversation_variables = conv
    draft.updated_by = account_id
    draft.save()
    return draft


@transaction.atomic
def workflow_draft_update_variables(
    *,
    tenant_id: Any,
    app_id: Any,
    account_id: Any,
    environment_variables: Any = _UNSET,
    conversation_variables: Any = _UNSET,
) -> Workflow:
    """Replace the draft's environment and/or conversation variables (the hash does not cover them)."""
    draft = _locked_draft(tenant_id=tenant_id, app_id=app_id)
    if draft is None:
        raise DraftWorkflowNotExist()
    if environment_variables is not _UNSET:
        draft.environment_variables = environment_variables_prepare(
            environment_variables, previous=draft.environment_variables
        )
    if conversation_variables is not _UNSET:
        draft.conversation_variables = conversation_variables_prepare(conversation_variables)
    draft.updated_by = account_id
    draft.save()
    return draft


@transaction.atomic
def workflow_draft_update_features(
    *, tenant_id: Any, app_id: Any, account_id: Any, features: Mapping[str, Any]
) -> Workflow:
    """Replace the draft's features (Dify's ``/workflows/draft/features``; changes the hash)."""
    draft = _locked_draft(tenant_id=tenant_id, app_id=app_id)
    if draft is None:
        raise DraftWorkflowNotExist()
    draft.features = copy.deepcopy(dict(features))
    draft.updated_by = account_id
    draft.save()
    return draft

"""Errors of the workflow services, with Dify's codes (``controllers/console/app/error.py``)."""

from __future__ import annotations

from typing import Any

from dify_project.api.errors import ApiError, InvalidParam, NotFound


class DraftWorkflowNotExist(ApiError):
    code = "draft_workflow_not_exist"
    message = "Draft workflow need to be initialized."


class DraftWorkflowNotSync(ApiError):
    code = "draft_workflow_not_sync"
    status = 409
    message = "Workflow graph might have been modified, please refresh and resubmit."


class WorkflowNotFound(NotFound):
    message = "Workflow not found."


class WorkflowGraphInvalid(InvalidParam):
    """The graph does not validate; ``issues`` lists every problem, each naming its node."""

    message = "The workflow graph is invalid."

    def __init__(self, message: str, *, issues: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, issues=issues or [])


class VariableInvalid(InvalidParam):
    message = "Invalid variable."


class IsDraftWorkflow(InvalidParam):
    message = "Source workflow must be published."

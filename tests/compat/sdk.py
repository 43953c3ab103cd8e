"""Dify's Python SDK as its users run it, pointed at our live server.

The pinned release, ``dify-client`` 0.1.10 (the only one on our package index), has ``DifyClient``,
``CompletionClient`` and ``ChatClient`` on top of ``requests``, a hard-coded ``base_url`` attribute
(self-hosters overwrite it) and no timeout. It has no ``WorkflowClient``, no async clients, and lacks
several calls that later releases added. Those later calls are added here as thin methods over 0.1.10's
own transport (``_send_request``), sending exactly the method, path, body and query that releases
0.1.11/0.1.12 send (``../shared/contract/service-api.md`` section 5; ``sdks/python-client`` in Dify's
repository), so every request still leaves through the SDK's code path with its headers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dify_client
import requests


class DifyClient(dify_client.DifyClient):
    def __init__(self, api_key: str, base_url: str) -> None:
        super().__init__(api_key)
        self.base_url = base_url  # what 0.1.10 users do to reach a self-hosted server

    # --- added in later releases ---------------------------------------------------------------------

    def get_meta(self, user: str) -> requests.Response:
        return self._send_request("GET", "/meta", params={"user": user})

    def get_app_info(self) -> requests.Response:
        return self._send_request("GET", "/info")

    def get_app_site_info(self) -> requests.Response:
        return self._send_request("GET", "/site")

    def get_file_preview(self, file_id: str) -> requests.Response:
        return self._send_request("GET", f"/files/{file_id}/preview")


class CompletionClient(DifyClient, dify_client.CompletionClient):
    pass


class ChatClient(DifyClient, dify_client.ChatClient):
    # --- added in later releases ---------------------------------------------------------------------

    def get_suggested(self, message_id: str, user: str) -> requests.Response:
        return self._send_request("GET", f"/messages/{message_id}/suggested", params={"user": user})

    def stop_message(self, task_id: str, user: str) -> requests.Response:
        return self._send_request("POST", f"/chat-messages/{task_id}/stop", {"user": user})

    def rename_conversation_v012(
        self, conversation_id: str, name: str | None, auto_generate: bool, user: str
    ) -> requests.Response:
        """0.1.12's ``rename_conversation(conversation_id, name, auto_generate, user)``."""
        data = {"name": name, "auto_generate": auto_generate, "user": user}
        return self._send_request("POST", f"/conversations/{conversation_id}/name", data)

    def delete_conversation(self, conversation_id: str, user: str) -> requests.Response:
        # The user travels in a JSON body on DELETE.
        return self._send_request("DELETE", f"/conversations/{conversation_id}", {"user": user})

    def get_conversation_variables(self, conversation_id: str, user: str) -> requests.Response:
        return self._send_request("GET", f"/conversations/{conversation_id}/variables", params={"user": user})

    def list_conversation_variables_with_pagination(
        self, conversation_id: str, user: str, page: int = 1, limit: int = 20
    ) -> requests.Response:
        # `page` is not a server parameter; the SDK sends it anyway.
        params = {"user": user, "page": page, "limit": limit}
        return self._send_request("GET", f"/conversations/{conversation_id}/variables", params=params)

    def update_conversation_variable(
        self, conversation_id: str, variable_id: str, value: Any, user: str, *, method: str = "PUT"
    ) -> requests.Response:
        """PUT in 0.1.12, PATCH in 0.1.11."""
        url = f"/conversations/{conversation_id}/variables/{variable_id}"
        return self._send_request(method, url, {"value": value, "user": user})


class WorkflowClient(DifyClient):
    """0.1.12's WorkflowClient. ``run`` does not ask ``requests`` to stream (as in the SDK)."""

    def run(
        self, inputs: dict[str, Any], response_mode: str = "streaming", user: str = "abc-123"
    ) -> requests.Response:
        data = {"inputs": inputs, "response_mode": response_mode, "user": user}
        return self._send_request("POST", "/workflows/run", data)

    def run_specific_workflow(
        self,
        workflow_id: str,
        inputs: dict[str, Any],
        response_mode: str = "streaming",
        user: str = "abc-123",
    ) -> requests.Response:
        data = {"inputs": inputs, "response_mode": response_mode, "user": user}
        return self._send_request(
            "POST", f"/workflows/{workflow_id}/run", data, stream=response_mode == "streaming"
        )

    def stop(self, task_id: str, user: str) -> requests.Response:
        return self._send_request("POST", f"/workflows/tasks/{task_id}/stop", {"user": user})

    def get_result(self, workflow_run_id: str) -> requests.Response:
        return self._send_request("GET", f"/workflows/run/{workflow_run_id}")

    def get_workflow_logs(
        self, keyword: str | None = None, status: str | None = None, page: int = 1, limit: int = 20
    ) -> requests.Response:
        params: dict[str, Any] = {"page": page, "limit": limit}
        if keyword:
            params["keyword"] = keyword
        if status:
            params["status"] = status
        return self._send_request("GET", "/workflows/logs", params=params)


def iter_readme_events(response: requests.Response) -> Iterator[dict[str, Any]]:
    """Parse a stream exactly as the SDK's README tells its users to: a line that is not a JSON event
    (an ``id:`` line, a comment, a ``[DONE]`` sentinel) would crash their loop, so it fails here too."""
    for line in response.iter_lines(decode_unicode=True):
        line = line.split("data:", 1)[-1]
        if line.strip():
            yield json.loads(line.strip())


def readme_events(response: requests.Response) -> list[dict[str, Any]]:
    return list(iter_readme_events(response))

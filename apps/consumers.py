"""WebSocket: the console follows a run's events live (``/ws/runs/<run_id>/events``).

Authentication is the console's access token (``?token=`` or the ``access_token`` cookie); the run must
belong to one of the caller's workspaces. ``?after=N`` replays from event N + 1. Each event is sent as one
JSON text frame, the same payloads as the SSE stream; the socket closes when the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import TenantAccountJoin
from accounts.tokens import InvalidToken, decode_access_token
from apps.runs.bus import event_log
from dify_project.db import db_sync_to_async
from workflows.models import WorkflowRun

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404


def _token(scope: dict[str, Any]) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode())
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookie = SimpleCookie(value.decode())
            if "access_token" in cookie:
                return cookie["access_token"].value
    return None


def _run_visible_to(account_id: str, run_id: str) -> bool:
    tenant_ids = TenantAccountJoin.objects.filter(account_id=account_id).values("tenant_id")
    return WorkflowRun.objects.filter(id=run_id, tenant_id__in=tenant_ids).exists()


class RunEventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.follower: asyncio.Task | None = None
        token = _token(self.scope)
        try:
            payload = decode_access_token(token or "")
        except InvalidToken:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        run_id = str(self.scope["url_route"]["kwargs"]["run_id"])
        if not await db_sync_to_async(_run_visible_to)(payload["user_id"], run_id):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            after = max(int(query.get("after", ["0"])[0]), 0)
        except ValueError:
            after = 0
        await self.accept()
        self.follower = asyncio.get_running_loop().create_task(self._follow(run_id, after))

    async def _follow(self, run_id: str, after: int) -> None:
        source = await event_log().follow(run_id, after)
        if source is not None:
            async for seq, event in source:
                await self.send_json({"seq": seq, **event})
        else:
            run = await db_sync_to_async(WorkflowRun.objects.filter(id=run_id).first)()
            if run is not None:
                await self.send_json(
                    {
                        "seq": 0,
                        "event": "workflow_finished",
                        "workflow_run_id": run_id,
                        "data": {
                            "id": run_id,
                            "status": run.status,
                            "outputs": run.outputs,
                            "error": run.error or None,
                        },
                    }
                )
        await self.close()

    async def disconnect(self, code: int) -> None:
        if self.follower is not None:
            self.follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.follower

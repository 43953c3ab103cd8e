"""The console's WebSocket view of a run's events."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from accounts.models import TenantRole
from accounts.tokens import issue_access_token
from tests import factories


@pytest.fixture
def finished_run(live_asgi):
    tenant = factories.tenant_factory()
    owner = factories.member_factory(tenant=tenant, role=TenantRole.OWNER)
    app = factories.app_factory(tenant=tenant, mode="workflow")
    key = factories.api_key_factory(app=app)
    response = httpx.post(
        f"{live_asgi.url}/v1/workflows/run",
        json={"inputs": {"query": "ws"}, "user": "u"},
        headers={"Authorization": f"Bearer {key}"},
    )
    return owner, response.json()["workflow_run_id"]


def ws_url(live_asgi, run_id: str, **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"ws://127.0.0.1:{live_asgi.port}/ws/runs/{run_id}/events?{params}"


def test_a_member_replays_a_runs_events(live_asgi, finished_run):
    owner, run_id = finished_run
    token = issue_access_token(account_id=str(owner.id))
    with connect(ws_url(live_asgi, run_id, token=token)) as socket:
        frames = [json.loads(message) for message in socket]
    assert frames[0]["event"] == "workflow_started" and frames[-1]["event"] == "workflow_finished"
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert frames[-1]["data"]["outputs"] == {"query": "ws"}


def test_replay_after_a_sequence_number(live_asgi, finished_run):
    owner, run_id = finished_run
    token = issue_access_token(account_id=str(owner.id))
    with connect(ws_url(live_asgi, run_id, token=token, after="3")) as socket:
        frames = [json.loads(message) for message in socket]
    assert frames[0]["seq"] == 4


def test_strangers_and_bad_tokens_are_refused(live_asgi, finished_run):
    _, run_id = finished_run
    stranger_tenant = factories.tenant_factory()
    stranger = factories.member_factory(tenant=stranger_tenant, role=TenantRole.OWNER)
    for token in (issue_access_token(account_id=str(stranger.id)), "forged"):
        # a refused socket is closed before the handshake completes: HTTP 403, nothing streamed
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(live_asgi, run_id, token=token))
        assert refused.value.response.status_code == 403

"""Runs executed by a Celery worker (APP_RUN_EXECUTOR=celery): the same answers and records as in-process
runs, with the events relayed from the worker through Redis Streams. Needs Redis (the scaled mode)."""

from __future__ import annotations

import json

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from dify_project.celery import app as celery_app
from tests import factories
from tests.providers_django.given import openai_values, provider_credential
from tests.support.fake_llm import Reply
from workflows.models import WorkflowRun

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL, reason="the Celery executor needs REDIS_URL (scaled mode)"
)


@pytest.fixture
def celery_mode(live_asgi, settings):
    settings.APP_RUN_EXECUTOR = "celery"
    with start_worker(
        celery_app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        queues=["workflow"],
        shutdown_timeout=15,
    ):
        yield live_asgi


def events_of(response: httpx.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def test_workflow_run_in_a_worker(celery_mode):
    tenant = factories.tenant_factory()
    factories.member_factory(tenant=tenant, role="owner")
    app = factories.app_factory(tenant=tenant, mode="workflow")
    key = factories.api_key_factory(app=app)
    with httpx.Client(
        base_url=f"{celery_mode.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        blocking = client.post(
            "/workflows/run", json={"inputs": {"query": "in a worker"}, "user": "u"}
        ).json()
        assert blocking["data"]["status"] == "succeeded" and blocking["data"]["outputs"] == {
            "query": "in a worker"
        }
        with client.stream(
            "POST",
            "/workflows/run",
            json={"inputs": {"query": "streamed"}, "user": "u", "response_mode": "streaming"},
        ) as response:
            events = events_of(response)
    assert events[0]["event"] == "workflow_started" and events[-1]["event"] == "workflow_finished"
    assert events[-1]["data"]["outputs"] == {"query": "streamed"}
    assert WorkflowRun.objects.get(id=events[0]["workflow_run_id"]).status == "succeeded"
    # input errors are still answered by the web process before anything is queued
    with httpx.Client(base_url=f"{celery_mode.url}/v1", headers={"Authorization": f"Bearer {key}"}) as client:
        assert client.post("/workflows/run", json={"inputs": {}, "user": "u"}).status_code == 400


def test_chat_run_in_a_worker(celery_mode, fake_llm):
    tenant = factories.tenant_factory()
    factories.member_factory(tenant=tenant, role="owner")
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    app = factories.app_factory(tenant=tenant, mode="chat")
    key = factories.api_key_factory(app=app)
    fake_llm.push(Reply(text="from the worker", chunks=3))
    with httpx.Client(
        base_url=f"{celery_mode.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        body = client.post(
            "/chat-messages", json={"inputs": {}, "query": "hi", "user": "u", "auto_generate_name": False}
        ).json()
    assert body["answer"] == "from the worker" and body["conversation_id"]

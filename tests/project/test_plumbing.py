"""Project plumbing every domain uses: error bodies, probes, schema, encryption, SSE, pagination."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.test import override_settings

from dify_project import crypto
from dify_project.api.pagination import paginate
from dify_project.api.sse import sse_frame, sse_response


@pytest.mark.django_db
def test_unknown_url_gets_the_error_body(api_client):
    response = api_client.get("/console/api/does-not-exist")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["status"] == 404


@pytest.mark.django_db
def test_wrong_method_gets_the_error_body(api_client):
    response = api_client.delete("/console/api/setup")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_probes(api_client):
    assert api_client.get("/healthz").json()["status"] == "ok"
    ready = api_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker(api_client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = api_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_openapi_schema_and_swagger_ui(api_client):
    schema = api_client.get("/openapi.json", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/console/api/setup" in paths and "/console/api/login" in paths
    assert api_client.get("/docs/").status_code == 200


@pytest.mark.django_db
def test_admin_login_page(client):
    assert client.get("/admin/login/").status_code == 200


def test_encryption_round_trip_and_rotation():
    token = crypto.encrypt("sk-very-secret")
    assert "sk-very-secret" not in token
    assert crypto.decrypt(token) == "sk-very-secret"
    old_key, new_key = crypto.generate_key(), crypto.generate_key()
    with override_settings(SECRETS_ENCRYPTION_KEYS=[old_key]):
        under_old = crypto.encrypt("value")
    with override_settings(SECRETS_ENCRYPTION_KEYS=[new_key, old_key]):
        assert crypto.decrypt(under_old) == "value"  # old ciphertexts stay readable
        rotated = crypto.rotate(under_old)
    with override_settings(SECRETS_ENCRYPTION_KEYS=[new_key]):
        assert crypto.decrypt(rotated) == "value"  # and rotation makes them independent of the old key
        with pytest.raises(crypto.SecretDecryptionError):
            crypto.decrypt(under_old)


def test_mask_never_shows_the_whole_secret():
    assert crypto.mask("sk-1234567890abcdef") == "sk-123************ef"
    assert crypto.mask("short") == "*" * 20
    assert crypto.mask("") == ""


def test_sse_frames_and_headers():
    assert (
        sse_frame({"event": "message", "answer": "hé"})
        == 'data: {"event": "message", "answer": "hé"}\n\n'.encode()
    )
    response = sse_response(iter([{"a": 1}]))
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["X-Accel-Buffering"] == "no"
    assert b"".join(response.streaming_content) == b'data: {"a": 1}\n\n'


async def test_sse_pings_while_the_source_is_silent_and_keeps_the_pending_event():
    async def slow_events():
        yield {"n": 1}
        await asyncio.sleep(0.25)
        yield {"n": 2}

    response = sse_response(slow_events(), ping_interval=0.1)
    frames = [frame async for frame in response.streaming_content]
    assert frames[0] == b'data: {"n": 1}\n\n'
    assert frames[-1] == b'data: {"n": 2}\n\n'
    assert frames[1:-1] and all(frame == b"event: ping\n\n" for frame in frames[1:-1])


def test_paginate_shape():
    page = paginate(list(range(45)), page=3, limit=20, render=lambda rows: [r * 10 for r in rows])
    assert page == {"page": 3, "limit": 20, "total": 45, "has_more": False, "data": [400, 410, 420, 430, 440]}
    assert paginate(list(range(45)), page=1, limit=20, render=list)["has_more"] is True

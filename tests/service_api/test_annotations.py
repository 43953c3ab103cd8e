"""Annotations through the Service API."""

from __future__ import annotations

import pytest

from apps.models import AppAnnotationSetting, MessageAnnotation

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(chat_app, app_client):
    return app_client(chat_app)


def test_crud_and_listing(client, chat_app, owner):
    created = client.post(
        "/v1/apps/annotations", {"question": "What is X?", "answer": "X is Y."}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    assert (
        set(body) == {"id", "question", "answer", "hit_count", "created_at"} and body["answer"] == "X is Y."
    )
    assert MessageAnnotation.objects.get(id=body["id"]).account_id == owner.id  # the key acts as the owner
    client.post("/v1/apps/annotations", {"question": "Other?", "answer": "Z."}, format="json")
    page = client.get("/v1/apps/annotations", {"limit": 1}).json()
    assert (page["total"], page["has_more"], page["page"], len(page["data"])) == (2, True, 1, 1)
    assert client.get("/v1/apps/annotations", {"keyword": "X is"}).json()["total"] == 1
    updated = client.put(
        f"/v1/apps/annotations/{body['id']}", {"question": "What is X?", "answer": "X is W."}, format="json"
    )
    assert updated.json()["answer"] == "X is W."
    assert client.delete(f"/v1/apps/annotations/{body['id']}").status_code == 204
    assert client.delete(f"/v1/apps/annotations/{body['id']}").status_code == 404
    assert (
        client.put(
            "/v1/apps/annotations/not-a-uuid", {"question": "q", "answer": "a"}, format="json"
        ).status_code
        == 404
    )


def test_validation(client):
    response = client.post("/v1/apps/annotations", {"question": "only a question"}, format="json")
    assert response.status_code == 400 and response.json()["params"] == "answer"
    assert not MessageAnnotation.objects.exists()


def test_reply_setting_jobs(client, chat_app):
    bad = client.post(
        "/v1/apps/annotation-reply/enable",
        {
            "embedding_provider_name": "openai",
            "embedding_model_name": "text-embedding-3-small",
            "score_threshold": 2,
        },
        format="json",
    )
    assert bad.status_code == 400
    job = client.post(
        "/v1/apps/annotation-reply/enable",
        {
            "embedding_provider_name": "openai",
            "embedding_model_name": "text-embedding-3-small",
            "score_threshold": 0.8,
        },
        format="json",
    ).json()
    assert set(job) == {"job_id", "job_status"}
    status = client.get(f"/v1/apps/annotation-reply/enable/status/{job['job_id']}").json()
    assert status == {"job_id": job["job_id"], "job_status": "completed", "error_msg": ""}
    setting = AppAnnotationSetting.objects.get(app=chat_app)
    assert setting.enabled and setting.score_threshold == 0.8
    client.post("/v1/apps/annotation-reply/disable", {}, format="json")
    assert not AppAnnotationSetting.objects.get(app=chat_app).enabled
    unknown = client.get("/v1/apps/annotation-reply/enable/status/nope")
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_param"
    assert client.post("/v1/apps/annotation-reply/toggle", {}, format="json").status_code == 400

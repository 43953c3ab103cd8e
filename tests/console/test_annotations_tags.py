"""Annotations from the console (CRUD, CSV import/export, reply setting, hit histories) and tags."""

from __future__ import annotations

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import TenantRole
from apps.models import AppAnnotationHitHistory, AppAnnotationSetting, MessageAnnotation, Tag, TagBinding
from tests import factories
from tests.console.conftest import conversation_factory, message_factory


def _csv(rows: list[list[str]]) -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile("annotations.csv", buffer.getvalue().encode(), content_type="text/csv")


def test_annotation_crud(make_app, editor_client, normal_client):
    app = make_app("chat")
    base = f"/console/api/apps/{app.id}/annotations"
    created = editor_client.post(base, {"question": "Opening hours?", "answer": "9 to 5."}, format="json")
    assert created.status_code == 200
    body = created.json()
    assert (body["question"], body["answer"], body["hit_count"]) == ("Opening hours?", "9 to 5.", 0)
    edited = editor_client.post(
        f"{base}/{body['id']}", {"question": "Hours?", "answer": "9-5"}, format="json"
    )
    assert edited.json()["answer"] == "9-5"
    page = editor_client.get(base, {"keyword": "hours"}).json()
    assert set(page) == {"page", "limit", "total", "has_more", "data"} and page["total"] == 1
    assert editor_client.get(f"{base}/count").json() == {"count": 1}
    # annotations are an editor's tool
    assert normal_client.get(base).status_code == 403
    assert normal_client.post(base, {"question": "q", "answer": "a"}, format="json").status_code == 403
    # a question is needed without a message; a missing annotation is 404
    assert editor_client.post(base, {"answer": "a"}, format="json").status_code == 400
    assert (
        editor_client.post(
            f"{base}/00000000-0000-0000-0000-000000000000", {"question": "q", "answer": "a"}, format="json"
        ).status_code
        == 404
    )
    assert editor_client.delete(f"{base}/{body['id']}").status_code == 204
    assert not MessageAnnotation.objects.filter(app=app).exists()


def test_annotate_a_message_creates_then_replaces(make_app, editor_client):
    app = make_app("chat")
    message = message_factory(conversation=conversation_factory(app=app), query="Is it free?")
    base = f"/console/api/apps/{app.id}/annotations"
    first = editor_client.post(base, {"message_id": str(message.id), "answer": "Yes"}, format="json").json()
    second = editor_client.post(
        base, {"message_id": str(message.id), "answer": "Yes, always"}, format="json"
    ).json()
    assert first["id"] == second["id"] and second["question"] == "Is it free?"
    annotation = MessageAnnotation.objects.get(app=app)
    assert annotation.message_id == message.id and annotation.content == "Yes, always"
    other = make_app("chat")
    foreign = message_factory(conversation=conversation_factory(app=other))
    assert (
        editor_client.post(base, {"message_id": str(foreign.id), "answer": "x"}, format="json").status_code
        == 404
    )


def test_csv_import_and_export(make_app, editor_client):
    app = make_app("chat")
    base = f"/console/api/apps/{app.id}/annotations"
    upload = _csv([["question", "answer"], ["Where?", "Here"], ["When?", 'Now, "quoted", with commas']])
    response = editor_client.post(f"{base}/batch-import", {"file": upload}, format="multipart")
    assert response.status_code == 200, response.json()
    job = response.json()
    assert job["job_status"] == "completed" and job["record_count"] == 2
    status = editor_client.get(f"{base}/batch-import-status/{job['job_id']}").json()
    assert status["job_status"] == "completed"
    exported = editor_client.get(f"{base}/export", {"file_format": "csv"})
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows == [["question", "answer"], ["Where?", "Here"], ["When?", 'Now, "quoted", with commas']]
    assert len(editor_client.get(f"{base}/export").json()["data"]) == 2


def test_bad_csv_files_are_refused_whole(make_app, editor_client):
    app = make_app("chat")
    url = f"/console/api/apps/{app.id}/annotations/batch-import"
    bad_row = _csv([["question", "answer"], ["ok", "fine"], ["no answer", ""]])
    response = editor_client.post(url, {"file": bad_row}, format="multipart")
    assert response.status_code == 400 and "row 3" in response.json()["message"]
    empty = _csv([["question", "answer"]])
    assert editor_client.post(url, {"file": empty}, format="multipart").status_code == 400
    not_csv = SimpleUploadedFile("notes.txt", b"question,answer\nq,a\n")
    assert editor_client.post(url, {"file": not_csv}, format="multipart").status_code == 400
    assert editor_client.post(url, {}, format="multipart").json()["code"] == "no_file_uploaded"
    huge = SimpleUploadedFile("big.csv", b"question,answer\n" + b"q,a\n" * 600_000)
    assert editor_client.post(url, {"file": huge}, format="multipart").status_code == 413
    assert not MessageAnnotation.objects.filter(app=app).exists()


def test_reply_setting_and_hit_histories(make_app, editor_client, tenant):
    app = make_app("chat")
    base = f"/console/api/apps/{app.id}"
    assert editor_client.get(f"{base}/annotation-setting").json() == {"enabled": False}
    enabled = editor_client.post(
        f"{base}/annotation-reply/enable",
        {
            "score_threshold": 0.8,
            "embedding_provider_name": "openai",
            "embedding_model_name": "text-embedding-3-small",
        },
        format="json",
    )
    assert enabled.status_code == 200 and enabled.json()["job_status"] == "completed"
    status = editor_client.get(f"{base}/annotation-reply/enable/status/{enabled.json()['job_id']}").json()
    assert status["job_status"] == "completed"
    setting = editor_client.get(f"{base}/annotation-setting").json()
    assert setting["enabled"] is True and setting["score_threshold"] == 0.8
    assert setting["embedding_model"]["embedding_model_name"] == "text-embedding-3-small"
    # the model config of the app reports it, as Dify's annotation_reply does
    assert editor_client.get(base).json()["model_config"]["annotation_reply"]["enabled"] is True
    updated = editor_client.post(
        f"{base}/annotation-settings/{setting['id']}", {"score_threshold": 0.5}, format="json"
    )
    assert updated.json()["score_threshold"] == 0.5
    refused = editor_client.post(
        f"{base}/annotation-settings/{setting['id']}", {"score_threshold": 2}, format="json"
    )
    assert refused.status_code == 400 and "score_threshold" in refused.json()["message"]
    assert AppAnnotationSetting.objects.get(app=app).score_threshold == 0.5
    # hit histories of an annotation
    annotation = MessageAnnotation.objects.create(tenant=tenant, app=app, question="q", content="a")
    AppAnnotationHitHistory.objects.create(
        tenant=tenant,
        app=app,
        annotation=annotation,
        source="api",
        question="q?",
        score=0.93,
        annotation_question="q",
        annotation_content="a",
    )
    hits = editor_client.get(f"{base}/annotations/{annotation.id}/hit-histories").json()
    assert hits["total"] == 1 and hits["data"][0]["score"] == 0.93 and hits["data"][0]["match"] == "q"
    assert editor_client.post(f"{base}/annotation-reply/disable", {}, format="json").status_code == 200
    assert editor_client.get(f"{base}/annotation-setting").json() == {"enabled": False}
    assert editor_client.post(f"{base}/annotation-reply/toggle", {}, format="json").status_code == 400


def test_tags_crud_and_bindings(make_app, editor_client, normal_client, tenant, other_tenant):
    app = make_app("chat")
    created = editor_client.post("/console/api/tags", {"name": "support", "type": "app"}, format="json")
    assert created.status_code == 200 and created.json()["binding_count"] == "0"
    tag_id = created.json()["id"]
    duplicate = editor_client.post("/console/api/tags", {"name": "support", "type": "app"}, format="json")
    assert duplicate.status_code == 400 and "support" in duplicate.json()["message"]
    # bind to an app, list with the count, unbind
    bind = {"tag_ids": [tag_id], "target_id": str(app.id), "type": "app"}
    assert editor_client.post("/console/api/tag-bindings/create", bind, format="json").status_code == 200
    assert (
        editor_client.post("/console/api/tag-bindings", bind, format="json").status_code == 200
    )  # idempotent
    listed = normal_client.get("/console/api/tags", {"type": "app"}).json()
    assert listed == [{"id": tag_id, "name": "support", "type": "app", "binding_count": "1"}]
    assert editor_client.get(f"/console/api/apps/{app.id}").json()["tags"][0]["name"] == "support"
    remove = {"tag_id": tag_id, "target_id": str(app.id), "type": "app"}
    assert editor_client.post("/console/api/tag-bindings/remove", remove, format="json").status_code == 200
    assert not TagBinding.objects.exists()
    # rename and delete
    renamed = editor_client.patch(f"/console/api/tags/{tag_id}", {"name": "help"}, format="json")
    assert renamed.json()["name"] == "help"
    assert (
        normal_client.post("/console/api/tags", {"name": "x", "type": "app"}, format="json").status_code
        == 403
    )
    # another workspace's tag or app cannot be used
    stranger = factories.member_factory(tenant=other_tenant, role=TenantRole.OWNER)
    foreign_tag = Tag.objects.create(tenant=other_tenant, type="app", name="theirs")
    foreign_app = make_app("chat", in_tenant=other_tenant, by=stranger)
    assert (
        editor_client.post(
            "/console/api/tag-bindings",
            {"tag_ids": [str(foreign_tag.id)], "target_id": str(app.id), "type": "app"},
            format="json",
        ).status_code
        == 404
    )
    assert (
        editor_client.post(
            "/console/api/tag-bindings",
            {"tag_ids": [tag_id], "target_id": str(foreign_app.id), "type": "app"},
            format="json",
        ).status_code
        == 404
    )
    assert editor_client.delete(f"/console/api/tags/{foreign_tag.id}").status_code == 404
    assert editor_client.delete(f"/console/api/tags/{tag_id}").status_code == 204
    assert not Tag.objects.filter(id=tag_id).exists() and Tag.objects.filter(id=foreign_tag.id).exists()
    knowledge = editor_client.post(
        "/console/api/tags", {"name": "docs", "type": "knowledge"}, format="json"
    ).json()
    wrong_type = editor_client.post(
        "/console/api/tag-bindings",
        {"tag_ids": [knowledge["id"]], "target_id": str(app.id), "type": "app"},
        format="json",
    )
    assert wrong_type.status_code == 400 and "docs" in wrong_type.json()["message"]

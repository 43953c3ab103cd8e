"""Conversations, history, feedback, conversation variables and files through the Service API."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.models import Conversation, MessageFeedback, MessageFile
from apps.services.end_users import end_user_get_or_create
from files.models import UploadFile
from tests import factories
from workflows.models import ConversationVariable

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(chat_app):
    return end_user_get_or_create(app=chat_app, user="alice")


@pytest.fixture
def client(chat_app, app_client):
    return app_client(chat_app)


def test_conversations_list_is_per_user_and_paginates(chat_app, alice, client):
    bob = end_user_get_or_create(app=chat_app, user="bob")
    mine = [factories.conversation_factory(app=chat_app, end_user=alice, name=f"c{i}") for i in range(3)]
    factories.conversation_factory(app=chat_app, end_user=bob, name="bob's")
    first = client.get("/v1/conversations", {"user": "alice", "limit": 2}).json()
    assert first["limit"] == 2 and first["has_more"] is True
    assert [c["name"] for c in first["data"]] == ["c2", "c1"]  # most recently updated first
    assert set(first["data"][0]) == {
        "id",
        "name",
        "inputs",
        "status",
        "introduction",
        "created_at",
        "updated_at",
    }
    second = client.get(
        "/v1/conversations", {"user": "alice", "limit": 2, "last_id": first["data"][-1]["id"]}
    )
    assert [c["name"] for c in second.json()["data"]] == ["c0"] and second.json()["has_more"] is False
    # the SDK's first page sends an empty last_id
    assert client.get("/v1/conversations", {"user": "alice", "last_id": ""}).status_code == 200
    assert mine[0].id


def test_unknown_last_id_is_404(client, alice):
    response = client.get(
        "/v1/conversations", {"user": "alice", "last_id": "00000000-0000-0000-0000-000000000000"}
    )
    assert response.status_code == 404 and response.json()["message"] == "Last Conversation Not Exists."


def test_conversation_routes_refuse_a_workflow_app(workflow_app, app_client):
    response = app_client(workflow_app).get("/v1/conversations", {"user": "alice"})
    assert response.status_code == 400 and response.json()["code"] == "not_chat_app"


def test_rename_and_delete(chat_app, alice, client):
    conversation = factories.conversation_factory(app=chat_app, end_user=alice, name="old")
    renamed = client.post(
        f"/v1/conversations/{conversation.id}/name", {"name": "  new  ", "user": "alice"}, format="json"
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "new"
    missing_name = client.post(f"/v1/conversations/{conversation.id}/name", {"user": "alice"}, format="json")
    assert missing_name.status_code == 400 and missing_name.json()["params"] == "name"
    deleted = client.delete(f"/v1/conversations/{conversation.id}", {"user": "alice"}, format="json")
    assert deleted.status_code == 204 and deleted.content == b""
    assert Conversation.objects.get(id=conversation.id).is_deleted  # kept for logs, hidden from the user
    assert client.get("/v1/conversations", {"user": "alice"}).json()["data"] == []
    again = client.delete(f"/v1/conversations/{conversation.id}", {"user": "alice"}, format="json")
    assert again.status_code == 404 and again.json()["message"] == "Conversation Not Exists."


def test_another_users_conversation_is_not_found(chat_app, alice, client):
    conversation = factories.conversation_factory(app=chat_app, end_user=alice)
    response = client.get("/v1/messages", {"user": "mallory", "conversation_id": str(conversation.id)})
    assert response.status_code == 404
    rename = client.post(
        f"/v1/conversations/{conversation.id}/name", {"name": "x", "user": "mallory"}, format="json"
    )
    assert rename.status_code == 404
    assert Conversation.objects.get(id=conversation.id).name == ""


def test_message_history_scrolls_back_oldest_first(chat_app, alice, client):
    conversation = factories.conversation_factory(app=chat_app, end_user=alice)
    messages = [factories.message_factory(conversation=conversation, query=f"q{i}") for i in range(5)]
    latest = client.get(
        "/v1/messages", {"user": "alice", "conversation_id": str(conversation.id), "limit": 2}
    )
    body = latest.json()
    assert [m["query"] for m in body["data"]] == ["q3", "q4"] and body["has_more"] is True
    item = body["data"][0]
    assert item["feedback"] is None and item["message_files"] == [] and item["agent_thoughts"] == []
    assert item["conversation_id"] == str(conversation.id) and isinstance(item["created_at"], int)
    older = client.get(
        "/v1/messages",
        {
            "user": "alice",
            "conversation_id": str(conversation.id),
            "limit": 10,
            "first_id": body["data"][0]["id"],
        },
    ).json()
    assert [m["query"] for m in older["data"]] == ["q0", "q1", "q2"] and older["has_more"] is False
    assert messages


def test_message_history_query_count_does_not_grow_with_the_page(
    chat_app, alice, client, django_assert_max_num_queries
):
    conversation = factories.conversation_factory(app=chat_app, end_user=alice)
    for i in range(30):
        factories.message_factory(conversation=conversation, query=f"q{i}")
    with django_assert_max_num_queries(12):
        response = client.get(
            "/v1/messages", {"user": "alice", "conversation_id": str(conversation.id), "limit": 30}
        )
    assert len(response.json()["data"]) == 30


def test_messages_needs_a_conversation_id(client):
    response = client.get("/v1/messages", {"user": "alice"})
    assert response.status_code == 400 and response.json()["params"] == "conversation_id"


def test_feedback_like_change_and_revoke(chat_app, alice, client):
    message = factories.message_factory(
        conversation=factories.conversation_factory(app=chat_app, end_user=alice)
    )
    url = f"/v1/messages/{message.id}/feedbacks"
    assert client.post(url, {"rating": "like", "user": "alice"}, format="json").json() == {
        "result": "success"
    }
    client.post(url, {"rating": "dislike", "user": "alice", "content": "meh"}, format="json")
    feedback = MessageFeedback.objects.get(message=message)
    assert (feedback.rating, feedback.content) == ("dislike", "meh")
    listed = client.get("/v1/app/feedbacks").json()["data"]
    assert [f["rating"] for f in listed] == ["dislike"] and listed[0]["from_end_user_id"] == str(alice.id)
    client.post(url, {"rating": None, "user": "alice"}, format="json")
    assert not MessageFeedback.objects.filter(message=message).exists()
    revoke_again = client.post(url, {"rating": None, "user": "alice"}, format="json")
    assert revoke_again.status_code == 400


def test_feedback_validation(chat_app, alice, client):
    message = factories.message_factory(
        conversation=factories.conversation_factory(app=chat_app, end_user=alice)
    )
    url = f"/v1/messages/{message.id}/feedbacks"
    assert client.post(url, {"rating": "love", "user": "alice"}, format="json").json()["params"] == "rating"
    no_user = client.post(url, {"rating": "like"}, format="json")
    assert no_user.status_code == 400 and no_user.json()["message"] == "Arg user must be provided."
    other_user = client.post(url, {"rating": "like", "user": "bob"}, format="json")
    assert other_user.status_code == 404 and other_user.json()["message"] == "Message Not Exists."
    assert not MessageFeedback.objects.exists()


def test_conversation_variables_list_and_typed_update(chat_app, alice, client):
    conversation = factories.conversation_factory(app=chat_app, end_user=alice)
    ConversationVariable.objects.create(
        tenant_id=chat_app.tenant_id,
        app_id=chat_app.id,
        conversation_id=conversation.id,
        variable_id="opt-1",
        name="topic",
        value_type="string",
        value="cats",
    )
    ConversationVariable.objects.create(
        tenant_id=chat_app.tenant_id,
        app_id=chat_app.id,
        conversation_id=conversation.id,
        variable_id="v-2",
        name="count",
        value_type="number",
        value=1,
    )
    listed = client.get(f"/v1/conversations/{conversation.id}/variables", {"user": "alice"}).json()
    assert [(v["id"], v["name"], v["value"]) for v in listed["data"]] == [
        ("opt-1", "topic", "cats"),
        ("v-2", "count", 1),
    ]
    filtered = client.get(
        f"/v1/conversations/{conversation.id}/variables", {"user": "alice", "variable_name": "count"}
    ).json()
    assert [v["name"] for v in filtered["data"]] == ["count"]
    url = f"/v1/conversations/{conversation.id}/variables/v-2"
    ok = client.put(url, {"value": 5, "user": "alice"}, format="json")
    assert ok.status_code == 200 and ok.json()["value"] == 5
    wrong = client.patch(url, {"value": "five", "user": "alice"}, format="json")
    assert wrong.status_code == 400 and wrong.json()["code"] == "bad_request"
    assert ConversationVariable.objects.get(variable_id="v-2").value == 5
    missing = client.put(
        f"/v1/conversations/{conversation.id}/variables/nope", {"value": 1, "user": "alice"}, format="json"
    )
    assert missing.status_code == 404


def test_file_upload_and_preview(chat_app, alice, client):
    upload = SimpleUploadedFile("notes.txt", b"hello world", content_type="text/plain")
    response = client.post("/v1/files/upload", {"file": upload, "user": "alice"}, format="multipart")
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["size"], body["extension"], body["mime_type"]) == (
        "notes.txt",
        11,
        "txt",
        "text/plain",
    )
    assert body["created_by"] == str(alice.id)
    stored = UploadFile.objects.get(id=body["id"])
    assert stored.tenant_id == chat_app.tenant_id and stored.hash
    # not used in any message of this app yet: refused
    assert client.get(f"/v1/files/{stored.id}/preview").status_code == 403
    message = factories.message_factory(
        conversation=factories.conversation_factory(app=chat_app, end_user=alice)
    )
    MessageFile.objects.create(
        message=message,
        type="document",
        transfer_method="local_file",
        upload_file=stored,
        created_by_role="end_user",
        created_by=alice.id,
    )
    preview = client.get(f"/v1/files/{stored.id}/preview")
    assert preview.status_code == 200 and b"".join(preview.streaming_content) == b"hello world"


@pytest.mark.parametrize(
    ("files", "code", "status"),
    [
        ({}, "no_file_uploaded", 400),
        ({"file": SimpleUploadedFile("run.exe", b"MZ")}, "file_extension_blocked", 400),
        ({"file": SimpleUploadedFile("big.png", b"x" * (10 * 1024 * 1024 + 1))}, "file_too_large", 413),
    ],
)
def test_file_upload_errors(client, files, code, status):
    response = client.post("/v1/files/upload", {**files, "user": "alice"}, format="multipart")
    assert response.status_code == status
    assert response.json()["code"] == code
    assert not UploadFile.objects.exists()

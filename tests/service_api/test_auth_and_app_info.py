"""Service API key authentication and the app-level read endpoints."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import TenantStatus
from apps.models import ApiToken, EndUser
from apps.services.api_keys import api_key_delete
from tests import factories

pytestmark = pytest.mark.django_db


def test_index_needs_no_key(api_client):
    body = api_client.get("/v1/").json()
    assert body["welcome"] == "Dify OpenAPI" and body["api_version"] == "v1"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Authorization header must be provided and start with 'Bearer'"),
        ("app-abcdef", "Authorization header must be provided and start with 'Bearer'"),
        ("Basic app-abcdef", "Authorization scheme must be 'Bearer'"),
        ("Bearer app-not-a-real-key-000000000", "Access token is invalid"),
    ],
)
def test_bad_keys_are_401_with_difys_messages(api_client, chat_app, header, message):
    if header:
        api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get("/v1/parameters")
    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "message": message, "status": 401}


def test_keys_are_stored_hashed_and_the_scheme_is_case_insensitive(chat_app):
    plain = factories.api_key_factory(app=chat_app)
    assert plain.startswith("app-") and len(plain) == 28
    token = ApiToken.objects.get(app=chat_app)
    assert token.token_hash != plain and plain not in token.token_hash and token.prefix == plain[:10]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"bearer {plain}")
    assert client.get("/v1/info").status_code == 200


def test_a_revoked_key_stops_working_at_once(chat_app):
    plain = factories.api_key_factory(app=chat_app)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert client.get("/v1/info").status_code == 200  # now cached
    api_key_delete(token=ApiToken.objects.get(app=chat_app))
    assert client.get("/v1/info").status_code == 401


def test_a_dataset_key_is_not_an_app_key(chat_app):
    from apps.services.api_keys import api_key_create

    _, dataset_key = api_key_create(tenant=chat_app.tenant, type="dataset")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {dataset_key}")
    assert client.get("/v1/info").status_code == 401


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"enable_api": False}, "The app's API service has been disabled."),
        ({"status": "abnormal"}, "The app's status is abnormal."),
    ],
)
def test_disabled_or_abnormal_app_is_403(chat_app, app_client, change, message):
    client = app_client(chat_app)
    assert client.get("/v1/info").status_code == 200  # the process now holds a copy of the app
    for field, value in change.items():
        setattr(chat_app, field, value)
    chat_app.save()
    response = client.get("/v1/info")
    assert response.status_code == 403
    assert response.json()["message"] == message


def test_archived_workspace_is_403(chat_app, app_client):
    client = app_client(chat_app)
    assert client.get("/v1/info").status_code == 200
    chat_app.tenant.status = TenantStatus.ARCHIVE
    chat_app.tenant.save()
    response = client.get("/v1/info")
    assert response.status_code == 403
    assert response.json()["message"] == "The workspace's status is archived."


def test_info_meta_site(chat_app, app_client, owner):
    client = app_client(chat_app)
    info = client.get("/v1/info").json()
    assert info == {
        "name": "Chatty",
        "description": "",
        "tags": [],
        "mode": "chat",
        "author_name": owner.name,
    }
    assert client.get("/v1/meta").json() == {"tool_icons": {}}
    site = client.get("/v1/site").json()
    assert site["title"] == "Chatty" and site["default_language"] == "en-US"
    assert "code" not in site  # the web-app code is not part of the Service API answer


def test_parameters_of_a_chat_app_come_from_its_model_config(chat_app, app_client):
    params = app_client(chat_app).get("/v1/parameters", {"user": "abc"}).json()
    assert params["opening_statement"] == "Hello!"
    assert params["user_input_form"] == [
        {"text-input": {"label": "Name", "variable": "name", "required": False, "default": ""}}
    ]
    assert params["suggested_questions_after_answer"] == {"enabled": False}
    assert params["system_parameters"]["file_size_limit"] == 15


def test_a_new_model_config_is_served_at_once(chat_app, app_client):
    from apps.services.model_config import model_config_save

    client = app_client(chat_app)
    assert client.get("/v1/parameters").json()["opening_statement"] == "Hello!"
    config = {**chat_app.app_model_config.config, "opening_statement": "Welcome back!"}
    model_config_save(app=chat_app, account=None, config=config)
    assert client.get("/v1/parameters").json()["opening_statement"] == "Welcome back!"


def test_a_deleted_app_stops_answering_at_once(chat_app, app_client):
    from apps.services.apps_crud import app_delete

    client = app_client(chat_app)
    assert client.get("/v1/info").status_code == 200
    app_delete(app=chat_app)
    assert client.get("/v1/info").status_code in (401, 403)


def test_parameters_of_a_workflow_app_come_from_its_start_node(workflow_app, app_client):
    params = app_client(workflow_app).get("/v1/parameters").json()
    form = params["user_input_form"]
    assert form == [
        {
            "text-input": {
                "label": "Query",
                "variable": "query",
                "required": True,
                "max_length": 256,
                "default": "",
                "type": "text-input",
            }
        }
    ]
    assert params["file_upload"]["image"]["enabled"] is False


def test_end_user_lookup_is_scoped_to_the_app(chat_app, app_client, tenant):
    other_app = factories.app_factory(tenant=tenant, mode="chat")
    end_user = EndUser.objects.create(tenant=tenant, app=chat_app, session_id="u1")
    stranger = EndUser.objects.create(tenant=tenant, app=other_app, session_id="u1")
    client = app_client(chat_app)
    found = client.get(f"/v1/end-users/{end_user.id}")
    assert found.status_code == 200 and found.json()["session_id"] == "u1"
    missing = client.get(f"/v1/end-users/{stranger.id}")
    assert missing.status_code == 404 and missing.json()["code"] == "end_user_not_found"


def test_an_app_key_never_reaches_another_workspace(chat_app, app_client):
    other_tenant = factories.tenant_factory()
    other_app = factories.app_factory(tenant=other_tenant, mode="chat", name="Theirs")
    assert app_client(chat_app).get("/v1/info").json()["name"] == "Chatty"
    assert app_client(other_app).get("/v1/info").json()["name"] == "Theirs"

"""The server errors schemathesis found, each pinned by a request that used to answer 500."""

from __future__ import annotations

import pytest
from django.db import DataError

from apps.models import App
from dify_project.api.errors import exception_handler
from dify_project.api.pagination import paginate
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_page_far_past_the_end_is_empty_without_asking_the_database(tenant):
    # given one app; when a page whose offset is beyond any database integer is asked for
    factories.app_factory(tenant=tenant)
    page = paginate(App.objects.all(), page=10**22, limit=100, render=list)
    # then it is an empty page, not a database error
    assert page["data"] == [] and page["total"] == 1 and page["has_more"] is False


def test_logout_ignores_a_refresh_token_that_is_not_a_string(owner_client):
    response = owner_client.post("/console/api/logout", {"refresh_token": {"a": 1}}, format="json")
    assert response.status_code == 200
    assert response.json() == {"result": "success"}


def test_a_user_longer_than_its_column_is_invalid(tenant, owner, api_client):
    app = factories.app_factory(tenant=tenant)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key_factory(app=app)}")
    response = api_client.get("/v1/conversations", {"user": "u" * 256})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_param" and "user" in response.json()["message"]


def test_a_value_the_database_refuses_is_a_400_in_difys_body():
    response = exception_handler(DataError("value too long for type character varying(255)"), {})
    assert response.status_code == 400
    assert response.data["code"] == "invalid_param" and response.data["status"] == 400


def test_a_web_app_access_mode_for_an_id_that_is_not_a_uuid_is_not_found(api_client):
    response = api_client.get("/api/webapp/access-mode", {"appId": "console/api/"})
    assert response.status_code == 404
    assert response.json()["status"] == 404

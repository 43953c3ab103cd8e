"""The console app-building endpoints are documented in the OpenAPI schema, and operators get an admin."""

from __future__ import annotations

import pytest
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from tests import factories

DOCUMENTED = {
    "/console/api/apps": {"get", "post"},
    "/console/api/apps/{app_id}": {"get", "put", "delete"},
    "/console/api/apps/{app_id}/copy": {"post"},
    "/console/api/apps/{app_id}/export": {"get"},
    "/console/api/apps/imports": {"post"},
    "/console/api/apps/imports/{import_id}/confirm": {"post"},
    "/console/api/apps/{app_id}/site": {"post"},
    "/console/api/apps/{app_id}/api-keys": {"get", "post"},
    "/console/api/apps/{app_id}/model-config": {"post"},
    "/console/api/apps/{app_id}/workflows/draft": {"get", "post"},
    "/console/api/apps/{app_id}/workflows/publish": {"get", "post"},
    "/console/api/apps/{app_id}/workflows": {"get"},
    "/console/api/apps/{app_id}/workflows/{workflow_id}/restore": {"post"},
    "/console/api/apps/{app_id}/workflows/compare": {"get"},
    "/console/api/apps/{app_id}/workflow-runs/{run_id}": {"get"},
    "/console/api/apps/{app_id}/chat-conversations": {"get"},
    "/console/api/apps/{app_id}/statistics/daily-messages": {"get"},
    "/console/api/apps/{app_id}/workflow/statistics/daily-conversations": {"get"},
    "/console/api/apps/{app_id}/annotations": {"get", "post", "delete"},
    "/console/api/tags": {"get", "post"},
}


@pytest.fixture(scope="module")
def schema_and_problems():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = [
        message
        for message in list(GENERATOR_STATS._warn_cache) + list(GENERATOR_STATS._error_cache)
        if "apps/console" in message
        or "apps.console" in message
        or "/console/api/apps" in message
        or "/console/api/tag" in message
    ]
    return schema, problems


def test_schema_generation_reports_nothing_for_these_views(schema_and_problems):
    _, problems = schema_and_problems
    assert problems == []


def test_every_endpoint_is_documented_with_bodies(schema_and_problems):
    schema, _ = schema_and_problems
    for path, methods in DOCUMENTED.items():
        assert path in schema["paths"], path
        for method in methods:
            operation = schema["paths"][path][method]
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (path, method)
            if method in ("post", "put", "patch") and path not in (
                "/console/api/apps/{app_id}/api-keys",
                "/console/api/apps/imports/{import_id}/confirm",
                "/console/api/apps/{app_id}/workflows/{workflow_id}/restore",
            ):
                assert "requestBody" in operation, (path, method)
            if method == "get":
                ok = responses.get("200", {})
                assert "content" in ok, (path, method)


def test_admin_pages_load(db, client: Client, make_app, owner):
    staff = factories.account_factory(email="ops@example.com")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    app = make_app("workflow")
    client.force_login(staff)
    for url in (
        "/admin/llm_apps/app/",
        f"/admin/llm_apps/app/{app.id}/change/",
        "/admin/llm_apps/apitoken/",
        "/admin/llm_apps/conversation/",
        "/admin/workflows/workflow/",
        "/admin/workflows/workflowrun/",
    ):
        assert client.get(url).status_code == 200, url

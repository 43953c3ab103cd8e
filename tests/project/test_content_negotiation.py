"""Dify ignores ``Accept``: no endpoint answers 406 for the headers real clients send (issue 11).

The walk covers every route of the URL conf (Service API, console API, admin, schema, probes), with path
converters filled with dummy values, for GET and POST, authenticated the way each API expects; a dummy
id answers 404 and an empty body 400, but never 406 and never 5xx.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from rest_framework.test import APIClient

from accounts.tokens import issue_access_token
from tests import factories

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPTS = ["text/event-stream", "*/*", "application/json", BROWSER, None]

DUMMY_UUID = str(uuid.UUID(int=0x11))
DUMMIES = {"uuid": DUMMY_UUID, "int": "1", "slug": "x", "str": "x", "path": "x/y", "": "x"}


def _expand_route(route: str) -> str:
    return re.sub(r"<(?:(\w+):)?\w+>", lambda m: DUMMIES.get(m.group(1) or "", "x"), route)


def _expand_regex(regex: str) -> str:
    """Django admin's few regex routes: a group of alternatives takes the first, anything else ``x``."""

    def group(match: re.Match) -> str:
        body = match.group(1)
        return body.split("|")[0] if re.fullmatch(r"[\w|]+", body) else "x"

    return re.sub(r"\(\?P<\w+>([^)]*)\)", group, regex.lstrip("^").rstrip("$"))


def _routes(patterns: list, prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            part = _expand_route(str(pattern))
        elif isinstance(pattern, RegexPattern):
            part = _expand_regex(str(pattern))
        else:  # pragma: no cover - a LocalePrefixPattern, which this project does not use
            part = str(pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + part)
        elif isinstance(entry, URLPattern):
            yield prefix + part


ROUTES = sorted(set(_routes(get_resolver().url_patterns)))


def test_the_walk_covers_every_api():
    assert len(ROUTES) > 300
    assert any(r.startswith("v1/") for r in ROUTES) and any(r.startswith("console/api/") for r in ROUTES)
    assert "v1/workflows/run" in ROUTES and "v1/chat-messages" in ROUTES
    assert all("<" not in r and "(?" not in r for r in ROUTES)


@pytest.fixture
def clients(tenant, owner) -> dict[str, APIClient]:
    """A console client (the owner's token) and a Service API client (a workflow app's key)."""
    app = factories.app_factory(tenant=tenant, mode="workflow")
    console, service = APIClient(), APIClient()
    console.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(account_id=str(owner.id))}")
    service.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key_factory(app=app)}")
    return {"console": console, "service": service, "other": APIClient()}


def _client_for(route: str, clients: dict[str, APIClient]) -> APIClient:
    if route.startswith("v1/"):
        return clients["service"]
    if route.startswith(("console/api/", "api/")):
        return clients["console"]
    return clients["other"]


@pytest.mark.django_db
def test_no_route_answers_406_or_5xx_for_any_accept_header(clients):
    failures = []
    for route in ROUTES:
        client = _client_for(route, clients)
        for method in ("get", "post"):
            for accept in ACCEPTS:
                headers = {} if accept is None else {"HTTP_ACCEPT": accept}
                call = getattr(client, method)
                response = (
                    call(f"/{route}", {}, format="json", **headers)
                    if method == "post"
                    else call(f"/{route}", **headers)
                )
                status = response.status_code
                if status == 406 or status >= 500:
                    failures.append(f"{method.upper()} /{route} Accept={accept!r}: {status}")
    assert not failures, "\n".join(failures)

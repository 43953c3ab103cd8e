"""Cross-workspace probes: for every console and Service API route with an object id in its path, the
owner of another workspace (console token, app key, dataset key) gets 404 for workspace A's object, by
every method the route has, exactly as for an id that does not exist; A's own credentials get through.

The routes come from the URL conf, so a new route whose path parameter is not known here fails the test
until it is given an object (``World.path_ids``) or a reason it names no object (``NOT_OBJECT_IDS``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.providers_django.conftest import test_runtime  # noqa: F401 - autouse: the test runtime
from tests.security.world import (
    World,
    another_owner,
    build_world,
    enqueued_tasks,  # noqa: F401 - autouse: no broker
    first_owner,
)

pytestmark = pytest.mark.slow

METHODS = ("get", "post", "put", "patch", "delete")

# Path parameters that name no object of a workspace, and why probing them across workspaces means nothing.
NOT_OBJECT_IDS = {
    "action": "a verb of the route (enable, disable, archive ...)",
    "model_type": "a model type of the catalogue (llm, text-embedding ...)",
    "credential_type": "a kind of credential form of a builtin tool provider",
    "provider": "a provider of the catalogue (openai, time ...); each workspace's settings of it are read "
    "from the caller's own workspace",
    "node_id": "a node of the app's graph; the app in the same path is the object checked",
    "task_id": "a running task (covered by test_a_task_of_another_app_is_not_stopped)",
}

# Routes whose answer to an unknown id is Dify's and not a 404; the probe checks that workspace A's id gets
# exactly that same answer (nothing tells it apart from an id that does not exist).
UNKNOWN_ID_STATUS = {
    # Dify's Service API answers a job it does not know with 400 "The job does not exist."
    "v1/apps/annotation-reply/<str:action>/status/<str:job_id>": 400,
}

# Valid bodies for the routes that check their input before they look the object up (with an empty body
# they answer 400 whatever the id, which says nothing either way; with these they reach the lookup).
BODIES = {
    ("put", "console/api/workspaces/current/members/<uuid:member_id>/update-role"): {"role": "editor"},
    (
        "post",
        "console/api/workspaces/current/model-providers/<path:provider>/models/load-balancing-configs/"
        "<uuid:config_id>/credentials-validate",
    ): {"model": "gpt-4o-mini", "model_type": "llm", "credentials": {"openai_api_key": "sk-x"}},
    ("patch", "console/api/apps/<str:app_id>/workflows/<str:workflow_id>"): {"marked_name": "v1"},
    ("post", "v1/conversations/<uuid:conversation_id>/name"): {"name": "renamed"},
    ("put", "v1/conversations/<uuid:conversation_id>/variables/<str:variable_id>"): {"value": "y"},
    ("patch", "v1/conversations/<uuid:conversation_id>/variables/<str:variable_id>"): {"value": "y"},
    ("post", "v1/workflows/<uuid:workflow_id>/run"): {"inputs": {"query": "hi"}, "response_mode": "blocking"},
    ("post", "v1/form/human_input/<str:form_token>"): {"action": "submit", "inputs": {}},
    ("put", "v1/apps/annotations/<str:annotation_id>"): {"question": "q", "answer": "a"},
}


@dataclass
class Route:
    pattern: str
    methods: list[str]

    @property
    def params(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.pattern)

    def fill(self, values: dict[str, str]) -> str:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], self.pattern)


def api_routes() -> list[Route]:
    """Every console and Service API route with a path parameter, with the methods its view has."""

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry.callback

    routes = []
    for pattern, callback in walk(get_resolver().url_patterns):
        if not pattern.startswith(("console/api/", "v1/")) or "<" not in pattern:
            continue
        view = callback.view_class
        routes.append(Route(pattern, [m for m in METHODS if hasattr(view, m)]))
    return routes


def _values(world: World, route: Route, *, unknown: bool = False) -> dict[str, str]:
    ids = world.path_ids("/" + route.pattern)
    values = {}
    for name in route.params:
        if name in NOT_OBJECT_IDS:
            values[name] = _fixed_value(name)
        elif unknown:
            values[name] = uuid.uuid4().hex if name in ("form_token", "batch") else str(uuid.uuid4())
        else:
            values[name] = ids[name]
    return values


def _fixed_value(name: str) -> str:
    return {"action": "enable", "model_type": "llm", "credential_type": "api-key", "provider": "openai"}.get(
        name, "start"
    )


def _client(world: World, base_url: str, route: Route) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=world.auth_for("/" + route.pattern), timeout=15)


def _request(client: httpx.Client, method: str, route: Route, url: str) -> httpx.Response:
    body = dict(BODIES.get((method, route.pattern), {}))
    params = {}
    if url.startswith("/v1/"):
        params["user"] = body["user"] = "u1"
    if method in ("get", "delete"):
        return client.request(method, url, params=params)
    return client.request(method, url, params=params, json=body)


@pytest.fixture
def worlds(live_asgi, fake_llm) -> tuple[World, World]:
    account_a, token_a = first_owner(live_asgi.url)
    account_b, token_b = another_owner(live_asgi.url, "Bob")
    return (
        build_world(base_url=live_asgi.url, account=account_a, token=token_a, fake_llm=fake_llm),
        build_world(base_url=live_asgi.url, account=account_b, token=token_b, fake_llm=fake_llm),
    )


def test_every_id_in_a_path_is_known():
    # given every console and Service API route with a path parameter
    routes = api_routes()
    assert len(routes) > 100
    # then each parameter names an object a world makes, or is known to name none
    known = set(World.ID_PARAMS) | set(NOT_OBJECT_IDS)
    unknown = {(route.pattern, name) for route in routes for name in route.params if name not in known}
    assert not unknown, f"path parameters with no object in tests/security/world.py: {sorted(unknown)}"


def test_another_workspace_gets_404_for_every_object(live_asgi, worlds):
    a, b = worlds
    known = set(World.ID_PARAMS) | set(NOT_OBJECT_IDS)
    # (a route with a parameter not known here fails test_every_id_in_a_path_is_known instead)
    routes = [
        route
        for route in api_routes()
        if any(name not in NOT_OBJECT_IDS for name in route.params) and set(route.params) <= known
    ]
    leaks: list[str] = []
    probes = 0
    # when workspace B asks for each of A's objects, by every method of the route
    for route in routes:
        expected = UNKNOWN_ID_STATUS.get(route.pattern, 404)
        with _client(b, live_asgi.url, route) as client:
            for method in route.methods:
                theirs = _request(client, method, route, route.fill(_values(a, route)))
                unknown = _request(client, method, route, route.fill(_values(a, route, unknown=True)))
                probes += 1
                if theirs.status_code != expected or unknown.status_code != expected:
                    leaks.append(
                        f"{method.upper()} /{route.pattern}: A's id -> {theirs.status_code} "
                        f"{theirs.text[:160]!r}, an unknown id -> {unknown.status_code}"
                    )
    # and when B puts one of A's ids into a path of its own objects (its app, its dataset, its document)
    for route in routes:
        names = [name for name in route.params if name not in NOT_OBJECT_IDS]
        if len(names) < 2:
            continue
        expected = UNKNOWN_ID_STATUS.get(route.pattern, 404)
        own = _values(b, route)
        with _client(b, live_asgi.url, route) as client:
            for name in names[1:]:
                mixed = {**own, name: _values(a, route)[name]}
                for method in route.methods:
                    response = _request(client, method, route, route.fill(mixed))
                    probes += 1
                    if response.status_code != expected:
                        leaks.append(
                            f"{method.upper()} /{route.pattern} with B's objects and A's {name}: "
                            f"{response.status_code} {response.text[:160]!r}"
                        )
    # then B is told what it would be told for an id that does not exist: 404
    assert not leaks, f"{len(leaks)} of {probes} probes tell A's objects apart:\n" + "\n".join(leaks)
    # and A's own credentials reach the same objects (so a 404 above is not a broken URL); deletes last
    denied = []
    for route in sorted(routes, key=lambda r: r.methods == ["delete"]):
        method = "get" if "get" in route.methods else route.methods[0]
        with _client(a, live_asgi.url, route) as client:
            response = _request(client, method, route, route.fill(_values(a, route)))
        if response.status_code == 404 or response.status_code >= 500:
            denied.append(
                f"{method.upper()} /{route.pattern}: {response.status_code} {response.text[:160]!r}"
            )
    assert not denied, (
        f"{len(denied)} of {len(routes)} routes refuse workspace A its own objects:\n" + "\n".join(denied)
    )
    print(f"{len(routes)} routes, {probes} cross-workspace probes")


async def test_a_task_of_another_app_is_not_stopped():
    # given a running task of workspace A's app
    from apps.runs import control

    stops: list[str] = []
    app_a, app_b, task_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    control.register_task(task_id, stops.append, app_id=app_a)
    try:
        # when another app (another workspace's) asks to stop it, nothing happens (success, as for any
        # unknown task)
        await control.request_stop(task_id, app_id=app_b)
        assert stops == []
        # and when its own app asks, it stops
        await control.request_stop(task_id, app_id=app_a)
        assert stops == ["Stopped by user."]
    finally:
        control.unregister_task(task_id, app_id=app_a)

"""Schemathesis against our own OpenAPI schema: every console and Service API operation, fuzzed with
valid and invalid data, authenticated as a real workspace owner (console token from set-up + login) and
with real app and dataset keys, never answers a 5xx.

Bounded for CI: a few examples per operation and generation mode, no shrinking, no example database;
the whole run takes about a minute on two cores (``pytest tests/security/test_api_fuzz.py``). Path
parameters are filled with the ids of real objects of the workspace (so requests reach the serializers
and services, not only the 404 of an unknown id); each operation that deletes runs after every other,
so the objects exist while the rest is fuzzed, and the apps' Service API is switched back on before each
operation.
"""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup

from tests.providers_django.conftest import test_runtime  # noqa: F401 - autouse: the test runtime
from tests.security.world import (
    World,
    build_world,
    enqueued_tasks,  # noqa: F401 - autouse: no broker
    first_owner,
)

pytestmark = pytest.mark.slow

# Examples per operation and generation mode (positive, negative): FUZZ_EXAMPLES=50 for a deeper local run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
# Requests that start a run answer within the test runtime's timeouts; a slower one is a finding too.
REQUEST_TIMEOUT = 20

# Operations that are not fuzzed, and why.
SKIPPED = {
    # Server-sent events of a run until it ends; a fuzzed run id never ends and there is no blocking mode.
    ("GET", "/v1/workflow/{run_id}/events"),
}


@pytest.fixture
def world(live_asgi, fake_llm) -> World:
    account, token = first_owner(live_asgi.url)
    return build_world(base_url=live_asgi.url, account=account, token=token, fake_llm=fake_llm)


def _fuzz(operation, world: World, base_url: str, mode: GenerationMode, failures: list[str]) -> int:
    names = [p.name for p in operation.path_parameters]
    strategy = operation.as_strategy(
        generation_mode=mode,
        path_parameters={
            name: value for name, value in world.path_ids(operation.path).items() if name in names
        },
        headers=world.auth_for(operation.path),
    )
    calls = 0
    world.restore()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case) -> None:
        nonlocal calls
        calls += 1
        # Streaming operations answer in blocking mode, so the response ends.
        if isinstance(case.body, dict) and "response_mode" in case.body:
            case.body["response_mode"] = "blocking"
        try:
            case.call_and_validate(base_url=base_url, checks=[not_a_server_error], timeout=REQUEST_TIMEOUT)
        except (FailureGroup, Exception) as exc:  # a check's failures come as a group (a BaseExceptionGroup)
            failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {exc}")

    try:
        run()
    except Unsatisfiable:
        pass  # nothing in the operation can be made invalid (no parameters, no body)
    return calls


def test_no_operation_answers_a_server_error(live_asgi, world: World):
    # given our own schema, as the server publishes it
    schema = schemathesis.openapi.from_url(f"{live_asgi.url}/openapi.json?format=json")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in SKIPPED]
    # the Service API first (console edits may change the apps it runs), deletes last (the objects they
    # remove are there for everything else)
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path.startswith("/console/")))
    assert len(operations) > 250
    # when every operation is fuzzed with valid and invalid data
    failures: list[str] = []
    started = time.monotonic()
    calls = sum(
        _fuzz(op, world, live_asgi.url, mode, failures)
        for op in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    )
    elapsed = time.monotonic() - started
    print(f"fuzzed {len(operations)} operations with {calls} requests in {elapsed:.1f}s")
    # then none of them answered a 5xx
    assert not failures, f"{len(failures)} server errors:\n\n" + "\n\n".join(failures[:40])

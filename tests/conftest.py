"""Project-wide fixtures. Domain fixtures live in each tests/<package>/conftest.py."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Account, Tenant, TenantRole
from accounts.tokens import issue_access_token
from tests import factories
from tests.support.fixtures import fake_llm, fake_llm_server  # noqa: F401 - shared fixtures


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache_namespace() -> Iterator[None]:
    """Tests use their own key prefix, so running them against a shared Redis never touches real keys."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}"
    with override_settings(CACHES=caches):
        yield
        _clear_namespace()


def _clear_namespace() -> None:
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete_on_postgresql() -> Iterator[None]:
    """A transactional test (live server, Celery worker, streams) ends with Django's flush: one TRUNCATE
    of every table, which on PostgreSQL makes new files for each of the ~90 tables and their indexes,
    0.4-0.8 s a test. The handful of rows a test leaves go faster with DELETE (0.03 s for all tables);
    the flush runs in one transaction and every foreign key here is deferred, so the order does not
    matter. Sequence resets (no test asks for them) keep Django's TRUNCATE."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(
        self: Any, style: Any, tables: Any, *, reset_sequences: bool = False, allow_cascade: bool = False
    ):
        if reset_sequences:
            return original(self, style, tables, reset_sequences=True, allow_cascade=allow_cascade)
        return [f"DELETE FROM {self.quote_name(table)};" for table in tables]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


@pytest.fixture(scope="session", autouse=True)
def _loopback_allowed() -> Iterator[None]:
    """The suite's fake peers (model providers, API tools, DSL hosts) listen on loopback, which the SSRF
    guard refuses: allow it, as an operator would with SSRF_ALLOWED_NETWORKS. Tests of the guard itself
    clear the allow-list with `ssrf_strict`."""
    with override_settings(SSRF_ALLOWED_NETWORKS=["127.0.0.0/8", "::1/128"]):
        yield


@pytest.fixture
def ssrf_strict(settings: Any) -> None:
    """The production default: the guard on, nothing allow-listed."""
    settings.SSRF_PROTECTION = True
    settings.HTTP_REQUEST_BLOCK_PRIVATE_NETWORKS = True
    settings.SSRF_ALLOWED_HOSTS = []
    settings.SSRF_ALLOWED_NETWORKS = []


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Lockout counters and throttles live in the cache; tests must not leak them into each other.
    _clear_namespace()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def tenant(db: None) -> Tenant:
    factories.setup_done()
    return factories.tenant_factory(name="Acme")


@pytest.fixture
def owner(tenant: Tenant) -> Account:
    return factories.member_factory(tenant=tenant, role=TenantRole.OWNER, email="owner@example.com")


@pytest.fixture
def client_for() -> Callable[[Account], APIClient]:
    """An API client authenticated as the given account with a real console access token."""

    def make(account: Account) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(account_id=str(account.id))}")
        return client

    return make


@pytest.fixture
def owner_client(owner: Account, client_for: Callable[[Account], APIClient]) -> APIClient:
    return client_for(owner)


class LiveAsgiServer:
    """The real ASGI application served by uvicorn on a loopback port, in a thread of the test process."""

    def __init__(self) -> None:
        import socket
        import threading

        import uvicorn

        from dify_project.asgi import application

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveAsgiServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the ASGI test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        from asgiref.sync import SyncToAsync
        from django.db import connection, connections

        self.server.should_exit = True
        self.thread.join(timeout=10)
        # Background runs do their database work on asgiref's shared thread; close what it opened there
        # so the test database can be dropped.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture
def live_asgi(transactional_db: None) -> Iterator[LiveAsgiServer]:
    """A running server for end-to-end tests over real sockets (SSE streaming, Dify's SDK)."""
    with LiveAsgiServer() as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def _database_pool_closed_before_teardown(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The async database pool keeps its connections; close them before the test database is dropped
    (PostgreSQL refuses to drop a database others are connected to)."""
    yield
    from dify_project.db import close_pool

    with django_db_blocker.unblock():
        close_pool()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Django drops a file test database but not SQLite's WAL companions: remove them too."""
    name = settings.DATABASES["default"].get("TEST", {}).get("NAME") or ""
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and name.endswith(".sqlite3"):
        for suffix in ("-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)

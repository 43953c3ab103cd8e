"""The database briefly unavailable: requests answer 503 in Dify's error body with Retry-After, and the
service recovers by itself when the database is back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import RequestFactory

from dify_project.api.errors import handler500
from tests.service_api.conftest import (
    setup,  # noqa: F401 - the live server with the loopback model
    test_model_runtime,  # noqa: F401 - autouse: its model runtime
)
from tests.support.fake_llm import Reply

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def database_down() -> Iterator[None]:
    """Every use of a connection, in any thread (the server's request and database-pool threads too),
    fails as when the server is restarting: connecting and running a query raise OperationalError."""
    original = BaseDatabaseWrapper.ensure_connection

    def refuse(self: BaseDatabaseWrapper) -> None:
        raise OperationalError("connection refused: the database system is starting up")

    BaseDatabaseWrapper.ensure_connection = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseDatabaseWrapper.ensure_connection = original  # type: ignore[method-assign]


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {
        "code": "service_unavailable",
        "message": "The service is temporarily unavailable; please try again shortly.",
        "status": 503,
    }
    assert response.headers["Retry-After"] == "5"


def test_service_api_and_console_answer_503_while_the_database_is_down_and_recover(
    setup,  # noqa: F811
    fake_llm,
    owner_client,
) -> None:
    # given a chat app that answers, and a signed-in console user
    _, client = setup(mode="chat")
    body = {"inputs": {"company": "A"}, "query": "hi", "user": "u", "response_mode": "blocking"}
    fake_llm.push(Reply(text="before"))
    assert client.post("/chat-messages", json=body).status_code == 200
    assert owner_client.get("/console/api/apps").status_code == 200
    # when the database goes away
    with database_down():
        # then reads and writes answer 503 in Dify's body, never a 500
        _assert_unavailable(client.get("/conversations", params={"user": "u"}))
        _assert_unavailable(client.post("/chat-messages", json=body))
        _assert_unavailable(owner_client.get("/console/api/apps"))
    # and once it is back, the same requests succeed without a restart
    fake_llm.push(Reply(text="after"))
    again = client.post("/chat-messages", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["answer"] == "after"
    conversations = client.get("/conversations", params={"user": "u"})
    assert conversations.status_code == 200 and len(conversations.json()["data"]) == 2
    assert owner_client.get("/console/api/apps").status_code == 200


def test_a_plain_django_view_failing_on_the_database_is_a_503_too() -> None:
    request = RequestFactory().get("/anything")
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = handler500(request)  # what Django calls for an exception no view handled
    assert response.status_code == 503 and response["Retry-After"] == "5"
    try:
        raise ValueError("a bug")
    except ValueError:
        assert handler500(request).status_code == 500


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a real outage of a PostgreSQL server")
def test_postgres_connections_killed_and_refused_then_back(setup, fake_llm) -> None:  # noqa: F811
    # given a chat app that answers (the server's pool threads hold open connections)
    _, client = setup(mode="chat")
    body = {"inputs": {"company": "A"}, "query": "hi", "user": "u", "response_mode": "blocking"}
    fake_llm.push(Reply(text="before"))
    assert client.post("/chat-messages", json=body).status_code == 200
    name = connection.settings_dict["NAME"]
    port = connection.settings_dict["PORT"]
    # when every connection to the database is terminated and new ones are refused (a closed port)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
    connection.settings_dict["PORT"] = "1"
    try:
        connections.close_all()
        # then requests answer 503, not 500
        for _ in range(3):
            _assert_unavailable(client.get("/conversations", params={"user": "u"}))
    finally:
        connection.settings_dict["PORT"] = port
    # and once it is back, the server reconnects by itself
    fake_llm.push(Reply(text="after"))
    again = client.post("/chat-messages", json=body)
    assert again.status_code == 200, again.text
    assert client.get("/conversations", params={"user": "u"}).status_code == 200

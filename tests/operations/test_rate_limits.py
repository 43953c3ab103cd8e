"""Rate limits: per API key requests per minute, the per-app concurrency cap's answer, login attempts.
They live in the Django cache, so this module runs on local memory and, with REDIS_URL, on Redis."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps import exceptions as app_errors
from dify_project import ratelimit
from dify_project.api.errors import exception_handler
from tests import factories

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_the_window_allows_the_limit_and_refuses_one_more_saying_when_to_retry() -> None:
    # given a limit of 3 a minute, 10 seconds into a window
    start = 6000.0 * 60 + 10
    decisions = [ratelimit.hit("t:a", limit=3, now=start + i) for i in range(4)]
    # then three pass and the fourth waits for the window to end (and slide out)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 47 <= decisions[3].retry_after <= 80
    # and another name has its own allowance
    assert ratelimit.hit("t:b", limit=3, now=start).allowed


def test_the_previous_window_still_counts_while_it_slides_out() -> None:
    # given 4 of 4 used at the end of one window
    base = 7000.0 * 60
    for i in range(4):
        assert ratelimit.hit("t:s", limit=4, now=base - 5 + i * 0.1).allowed
    # a fixed window would allow 4 more at once; the sliding one does not, early in the next window
    assert not ratelimit.hit("t:s", limit=4, now=base + 1).allowed
    # refused requests did not count: once most of the old window slid out, requests pass again
    assert ratelimit.hit("t:s", limit=4, now=base + 50).allowed


def test_no_limit_means_no_counting() -> None:
    assert all(ratelimit.hit("t:n", limit=0).allowed for _ in range(100))


def test_an_api_key_over_its_requests_per_minute_gets_dify_429_with_retry_after(tenant, settings) -> None:
    # given a limit of 3 requests a minute per key, and two keys of one app
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 3
    app = factories.app_factory(tenant=tenant, mode="chat")
    first, second = _client(factories.api_key_factory(app=app)), _client(factories.api_key_factory(app=app))
    # when the first key makes four requests
    answers = [first.get("/v1/parameters") for _ in range(4)]
    # then the fourth is refused in Dify's body, saying when to retry
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    body = answers[3].json()
    assert body["code"] == "too_many_requests" and body["status"] == 429
    assert "3 requests per minute" in body["message"]
    assert 1 <= int(answers[3]["Retry-After"]) <= 120
    # and the other key still has its own allowance
    assert second.get("/v1/parameters").status_code == 200


def test_an_apps_own_api_rpm_is_the_limit_of_its_keys(tenant, settings) -> None:
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 0
    app = factories.app_factory(tenant=tenant, mode="chat")
    app.api_rpm = 1
    app.save()
    client = _client(factories.api_key_factory(app=app))
    assert client.get("/v1/parameters").status_code == 200
    assert client.get("/v1/parameters").status_code == 429


def test_without_a_limit_keys_are_not_throttled(tenant, settings) -> None:
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 0
    app = factories.app_factory(tenant=tenant, mode="chat")
    client = _client(factories.api_key_factory(app=app))
    assert {client.get("/v1/parameters").status_code for _ in range(30)} == {200}


def test_a_dataset_key_is_limited_too(tenant, owner, settings) -> None:
    from apps.services.api_keys import api_key_create

    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 2
    _, plain = api_key_create(tenant=tenant, type="dataset")
    client = _client(plain)
    codes = [client.get("/v1/datasets").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_concurrency_cap_answers_429_with_retry_after() -> None:
    response = exception_handler(app_errors.AppInvokeQuotaExceeded(), {})
    assert response.status_code == 429
    assert response.data["code"] == "too_many_requests"
    assert response["Retry-After"] == "1"


def test_a_locked_out_login_says_when_to_retry(api_client, settings) -> None:
    # given an account whose email failed LOGIN_MAX_FAILURES times
    factories.setup_done()
    factories.account_factory(email="lock@example.com")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        wrong = api_client.post(
            "/console/api/login", {"email": "lock@example.com", "password": "nope-Wrong1"}, format="json"
        )
        assert wrong.status_code == 401
    # when the right password comes next
    locked = api_client.post(
        "/console/api/login", {"email": "lock@example.com", "password": factories.PASSWORD}, format="json"
    )
    # then it is refused, with how long the lockout still lasts
    assert locked.status_code == 429
    assert locked.json()["code"] == "email_password_login_limit"
    assert settings.LOGIN_LOCKOUT_SECONDS - 60 <= int(locked["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS


def test_login_attempts_per_address_are_throttled_with_retry_after(api_client) -> None:
    factories.setup_done()
    answers = [
        api_client.post(
            "/console/api/login", {"email": f"x{i}@example.com", "password": "nope-Wrong1"}, format="json"
        )
        for i in range(31)
    ]
    assert {a.status_code for a in answers[:30]} == {401}
    assert answers[30].status_code == 429
    assert answers[30].json()["code"] == "too_many_requests"
    assert int(answers[30]["Retry-After"]) >= 1


def test_an_apps_own_api_rph_limits_its_keys_per_hour(tenant, settings) -> None:
    # given no per-minute limit, and an app allowing 2 requests an hour
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 0
    settings.API_KEY_RATE_LIMIT_PER_HOUR = 0
    app = factories.app_factory(tenant=tenant, mode="chat")
    app.api_rph = 2
    app.save()
    client = _client(factories.api_key_factory(app=app))
    answers = [client.get("/v1/parameters") for _ in range(3)]
    # then the third is refused, naming the hourly limit, with a wait measured in minutes, not seconds
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "2 requests per hour" in answers[2].json()["message"]
    assert int(answers[2]["Retry-After"]) > 60


def test_the_hourly_setting_applies_beside_the_per_minute_one(tenant, settings) -> None:
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 100
    settings.API_KEY_RATE_LIMIT_PER_HOUR = 3
    app = factories.app_factory(tenant=tenant, mode="chat")
    client = _client(factories.api_key_factory(app=app))
    codes = [client.get("/v1/parameters").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def _login(client: APIClient, i: int, **headers: str):
    return client.post(
        "/console/api/login",
        {"email": f"y{i}@example.com", "password": "nope-Wrong1"},
        format="json",
        **headers,
    )


def test_the_login_rate_per_address_is_a_setting(api_client, settings) -> None:
    factories.setup_done()
    settings.LOGIN_RATE_LIMIT_PER_MINUTE = 3
    codes = [_login(api_client, i).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]


def test_a_forged_forwarded_for_header_does_not_buy_a_fresh_allowance(api_client, settings) -> None:
    # given no trusted proxy in front: X-Forwarded-For is the client's own claim
    factories.setup_done()
    settings.LOGIN_RATE_LIMIT_PER_MINUTE = 2
    settings.TRUSTED_PROXY_COUNT = 0
    codes = [_login(api_client, i, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(3)]
    # then a different claimed address on each attempt changes nothing
    assert codes == [401, 401, 429]


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client(api_client, settings) -> None:
    # given one proxy of ours, which appends the address it received from
    factories.setup_done()
    settings.LOGIN_RATE_LIMIT_PER_MINUTE = 2
    settings.TRUSTED_PROXY_COUNT = 1
    # when one client behind it forges entries to the left of the proxy's
    forged = [
        _login(api_client, i, HTTP_X_FORWARDED_FOR=f"10.9.9.{i}, 198.51.100.7").status_code for i in range(3)
    ]
    # then it is still one client, and a second client has its own allowance
    assert forged == [401, 401, 429]
    assert _login(api_client, 9, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 401


def test_the_login_records_the_trusted_address(api_client, tenant, settings) -> None:
    from accounts.models import Account

    factories.setup_done()
    settings.TRUSTED_PROXY_COUNT = 1
    account = factories.member_factory(tenant=tenant, email="ip@example.com")
    ok = api_client.post(
        "/console/api/login",
        {"email": "ip@example.com", "password": factories.PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.44",
    )
    assert ok.status_code == 200
    assert Account.objects.get(id=account.id).last_login_ip == "192.0.2.44"

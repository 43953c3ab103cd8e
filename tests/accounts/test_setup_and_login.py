"""First-run set-up, login, token refresh and logout on the console API."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Account, DifySetup, RefreshToken, Tenant, TenantAccountJoin
from tests import factories

pytestmark = pytest.mark.django_db

SETUP = {"email": "admin@example.com", "name": "Admin", "password": "Passw0rd-long"}


def do_setup(api_client, **overrides):
    return api_client.post("/console/api/setup", {**SETUP, **overrides}, format="json")


def login(api_client, email=SETUP["email"], password=SETUP["password"]):
    return api_client.post("/console/api/login", {"email": email, "password": password}, format="json")


def test_setup_status_before_and_after(api_client):
    # given a fresh installation
    assert api_client.get("/console/api/setup").json() == {"step": "not_started"}
    # when the owner sets it up
    response = do_setup(api_client)
    # then it is finished, with one account that owns one workspace
    assert response.status_code == 201
    assert response.json() == {"result": "success"}
    status = api_client.get("/console/api/setup").json()
    assert status["step"] == "finished" and status["setup_at"]
    account = Account.objects.get(email="admin@example.com")
    membership = TenantAccountJoin.objects.get(account=account)
    assert membership.role == "owner" and membership.current
    assert membership.tenant.name == "Admin's Workspace"
    assert account.check_password("Passw0rd-long") and account.password != "Passw0rd-long"


def test_setup_is_refused_once_done(api_client):
    do_setup(api_client)
    response = do_setup(api_client, email="other@example.com")
    assert response.status_code == 403
    assert response.json()["code"] == "already_setup"
    assert Account.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short1"}, "password"),
        ({"password": "onlyletterslong"}, "password"),
        ({"name": "x" * 31}, "name"),
        ({"email": None}, "email"),
        ({"name": ["a", "list"]}, "name"),
    ],
)
def test_setup_refuses_bad_input_and_writes_nothing(api_client, payload, field):
    response = do_setup(api_client, **payload)
    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "invalid_param" and body["status"] == 400
    assert body["params"] == field
    assert not Account.objects.exists() and not Tenant.objects.exists() and not DifySetup.objects.exists()


def test_setup_missing_fields_and_malformed_json(api_client):
    missing = api_client.post("/console/api/setup", {"email": "a@example.com"}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_param"
    malformed = api_client.post("/console/api/setup", "{not json", content_type="application/json")
    assert malformed.status_code == 400
    assert malformed.json() == {
        "code": "invalid_param",
        "message": "Invalid JSON payload received or JSON payload is empty.",
        "status": 400,
    }
    not_an_object = api_client.post("/console/api/setup", "[1, 2]", content_type="application/json")
    assert not_an_object.status_code == 400 and not_an_object.json()["code"] == "invalid_param"
    assert not Account.objects.exists()


def test_login_before_setup_is_refused(api_client):
    response = login(api_client)
    assert response.status_code == 401
    assert response.json()["code"] == "not_setup"


def test_login_returns_tokens_that_authenticate(api_client):
    do_setup(api_client)
    response = login(api_client)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["access_token"] and data["refresh_token"]
    # the browser console gets the same tokens as HttpOnly cookies
    assert response.cookies["access_token"]["httponly"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['access_token']}")
    profile = api_client.get("/console/api/account/profile")
    assert profile.status_code == 200
    assert profile.json()["email"] == "admin@example.com"
    assert profile.json()["is_password_set"] is True
    assert "password" not in profile.json()


def test_wrong_password_then_lockout(api_client):
    do_setup(api_client)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        wrong = login(api_client, password="Wrong-passw0rd")
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "authentication_failed"
    locked = login(api_client)  # even the right password is refused while locked out
    assert locked.status_code == 429
    assert locked.json()["code"] == "email_password_login_limit"


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(api_client):
    do_setup(api_client)
    response = login(api_client, email="nobody@example.com")
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid email or password."


def test_refresh_rotates_the_refresh_token(api_client):
    do_setup(api_client)
    first = login(api_client).json()["data"]
    refreshed = api_client.post(
        "/console/api/refresh-token", {"refresh_token": first["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == 200
    second = refreshed.json()["data"]
    assert second["refresh_token"] != first["refresh_token"]
    reused = api_client.post(
        "/console/api/refresh-token", {"refresh_token": first["refresh_token"]}, format="json"
    )
    assert reused.status_code == 401
    assert reused.json()["code"] == "invalid_refresh_token"


def test_refresh_with_expired_or_missing_token(api_client):
    do_setup(api_client)
    tokens = login(api_client).json()["data"]
    RefreshToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = api_client.post(
        "/console/api/refresh-token", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert expired.status_code == 401
    missing = api_client.post("/console/api/refresh-token", {}, format="json")
    assert missing.status_code == 401 and missing.json()["code"] == "invalid_refresh_token"


def test_refresh_from_cookie(api_client):
    do_setup(api_client)
    login(api_client)  # the test client keeps the cookies it was given
    response = api_client.post("/console/api/refresh-token", {}, format="json")
    assert response.status_code == 200


def test_logout_revokes_the_refresh_token(api_client):
    do_setup(api_client)
    tokens = login(api_client).json()["data"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert (
        api_client.post(
            "/console/api/logout", {"refresh_token": tokens["refresh_token"]}, format="json"
        ).status_code
        == 200
    )
    api_client.credentials()
    again = api_client.post(
        "/console/api/refresh-token", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert again.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-jwt",
        "Bearer "
        + jwt.encode(
            {"user_id": "x", "sub": "Console API Passport", "exp": 9999999999},
            "an-attacker-key-that-is-long-enough-for-hs256",
            algorithm="HS256",
        ),
        "Basic dXNlcjpwYXNz",
    ],
)
def test_forged_or_malformed_tokens_are_401(api_client, header):
    factories.setup_done()
    api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get("/console/api/account/profile")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_access_token_is_401(api_client, owner):
    expired = jwt.encode(
        {
            "user_id": str(owner.id),
            "sub": "Console API Passport",
            "exp": timezone.now() - timedelta(minutes=1),
        },
        settings.SECRET_KEY,
        algorithm="HS256",
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")
    response = api_client.get("/console/api/account/profile")
    assert response.status_code == 401
    assert "expired" in response.json()["message"].lower()


def test_token_of_a_deleted_account_is_401(owner, client_for):
    client = client_for(owner)
    owner.delete()
    assert client.get("/console/api/account/profile").status_code == 401


def test_no_credentials_is_401(api_client):
    response = api_client.get("/console/api/workspaces")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_cookie_session_needs_the_csrf_header_for_writes(api_client):
    do_setup(api_client)
    login(api_client)
    # reads work with the cookie alone
    assert api_client.get("/console/api/account/profile").status_code == 200
    # writes without the double-submit header are refused, with it they pass
    refused = api_client.post("/console/api/account/name", {"name": "New name"}, format="json")
    assert refused.status_code == 401
    csrf = api_client.cookies["csrf_token"].value
    accepted = api_client.post(
        "/console/api/account/name", {"name": "New name"}, format="json", HTTP_X_CSRF_TOKEN=csrf
    )
    assert accepted.status_code == 200 and accepted.json()["name"] == "New name"


def test_password_change_requires_the_current_password_and_revokes_sessions(owner, client_for, api_client):
    client = client_for(owner)
    tokens = login(api_client, email=owner.email, password=factories.PASSWORD).json()["data"]
    wrong = client.post(
        "/console/api/account/password",
        {"password": "nope", "new_password": "Brand-new-1", "repeat_new_password": "Brand-new-1"},
        format="json",
    )
    assert wrong.status_code == 400
    ok = client.post(
        "/console/api/account/password",
        {"password": factories.PASSWORD, "new_password": "Brand-new-1", "repeat_new_password": "Brand-new-1"},
        format="json",
    )
    assert ok.status_code == 200
    owner.refresh_from_db()
    assert owner.check_password("Brand-new-1")
    reused = api_client.post(
        "/console/api/refresh-token", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert reused.status_code == 401

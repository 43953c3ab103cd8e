"""The published web app (Dify's ``controllers/web``): passports for end users, access modes, pinned
conversations and saved messages.

A passport is a short-lived JWT (HS256, ``SECRET_KEY``, sub "Web API Passport") naming the app, its site
code and the end user. Anonymous visitors get an end user of type ``browser`` with a random session id;
a browser that presents its session id again (``user_id``) gets the same end user back, so one browser
keeps its conversations while tokens expire. Sites that are not public take a web-app login first
(``webapp_login_token``), exchanged here for a passport that also names the account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import Account, AccountStatus, TenantAccountJoin, TenantStatus
from apps import exceptions as errors
from apps.models import (
    App,
    EndUser,
    Message,
    PinnedConversation,
    SavedMessage,
    Site,
    WebAppAccess,
    WebAppAccessMode,
)
from apps.services.conversations import Window, conversation_get, message_get_for_user
from dify_project.api.errors import ApiError, NotFound, Unauthorized

SUBJECT = "Web API Passport"
ALGORITHM = "HS256"
BROWSER = "browser"
LOGIN_TOKEN_SOURCE = "webapp_login_token"  # noqa: S105 (a claim value, not a secret)
SIGNED_IN_SOURCE = "webapp"
ACCOUNT_SESSION_PREFIX = "account-"


class WebAppAuthRequired(ApiError):
    code = "web_sso_auth_required"
    status = 401
    message = "Web app authentication required."


class WebAppAccessDenied(ApiError):
    code = "web_app_access_denied"
    status = 401
    message = "You do not have permission to access this web app."


@dataclass(frozen=True)
class WebCaller:
    """The principal of a web-app request: an end user of one app's site."""

    app: App
    site: Site
    end_user: EndUser
    account_id: str | None = None
    is_authenticated: bool = True

    @property
    def tenant(self) -> Any:
        return self.app.tenant


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _encode(payload: dict[str, Any]) -> str:
    now = _now()
    return jwt.encode(
        {**payload, "sub": SUBJECT, "iat": now, "exp": now + settings.ACCESS_TOKEN_EXPIRE},
        settings.SECRET_KEY,
        algorithm=ALGORITHM,
    )


def _decode(token: str) -> dict[str, Any]:
    try:
        payload = jwt.decode(token, settings.SECRET_KEY, algorithms=[ALGORITHM], options={"require": ["exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid token.") from exc
    if payload.get("sub") != SUBJECT:
        raise Unauthorized("Invalid token.")
    return payload


def site_for_code(*, code: str) -> Site:
    """The normal site of a normal, site-enabled app (Dify answers 404 for anything else)."""
    site = Site.objects.select_related("app", "app__tenant").filter(code=code, status="normal").first()
    if site is None or site.app.status != "normal" or not site.app.enable_site:
        raise NotFound("Site not found.")
    if site.app.tenant.status == TenantStatus.ARCHIVE:
        raise errors.WorkspaceArchived()
    return site


def access_mode_of(*, app: App) -> str:
    access = WebAppAccess.objects.filter(app=app).first()
    return access.access_mode if access else WebAppAccessMode.PUBLIC


@transaction.atomic
def web_access_set(*, app: App, access_mode: str, emails: list[str] | None = None) -> WebAppAccess:
    """Set who may open the app's site. ``emails`` is used by the ``private`` mode."""
    if access_mode not in WebAppAccessMode.values:
        raise errors.ApiError(f"Invalid access mode: {access_mode}", code="invalid_param")
    normalized = sorted({e.strip().lower() for e in emails or [] if e and e.strip()})
    access, _ = WebAppAccess.objects.update_or_create(
        app=app,
        defaults={"tenant_id": app.tenant_id, "access_mode": access_mode, "allowed_emails": normalized},
    )
    return access


def account_may_open(*, app: App, account: Account) -> bool:
    """Whether a signed-in account may use the site under its current access mode."""
    if account.status in (AccountStatus.BANNED, AccountStatus.CLOSED):
        return False
    access = WebAppAccess.objects.filter(app=app).first()
    mode = access.access_mode if access else WebAppAccessMode.PUBLIC
    if mode == WebAppAccessMode.PUBLIC:
        return True
    if TenantAccountJoin.objects.filter(tenant_id=app.tenant_id, account=account).exists():
        return True  # workspace members always may (both private modes)
    return mode == WebAppAccessMode.PRIVATE and account.email.lower() in (access.allowed_emails or [])


def browser_end_user(*, app: App, session_id: str | None) -> EndUser:
    """The end user of one browser: found by its session id, or a new anonymous one.

    Only end users of type ``browser`` are looked up, so a session id can never reach a Service API user.
    """
    if session_id:
        found = EndUser.objects.filter(app=app, type=BROWSER, session_id=session_id).first()
        if found is not None:
            return found
    session_id = session_id or str(uuid.uuid4())
    try:
        with transaction.atomic():
            return EndUser.objects.create(
                tenant_id=app.tenant_id, app=app, type=BROWSER, is_anonymous=True, session_id=session_id
            )
    except IntegrityError:  # the same browser's two first requests raced
        return EndUser.objects.get(app=app, type=BROWSER, session_id=session_id)


def webapp_login(*, account: Account) -> str:
    """A web-app login token for a signed-in account, to exchange for a passport at ``/passport``."""
    return _encode(
        {
            "user_id": str(account.id),
            "session_id": f"{ACCOUNT_SESSION_PREFIX}{account.id}",
            "auth_type": "internal",
            "token_source": LOGIN_TOKEN_SOURCE,
        }
    )


def passport_issue(*, code: str, user_id: str | None, login_token: str | None) -> str:
    """``GET /passport``: a passport for the site ``code``.

    Public sites: an anonymous end user (``user_id``: the browser's session id, to get its end user back).
    Other sites: only with a valid web-app login of an account allowed in; that account's end user.
    """
    site = site_for_code(code=code)
    app = site.app
    mode = access_mode_of(app=app)
    login = _decode(login_token) if login_token else None
    if login is not None and login.get("token_source") != LOGIN_TOKEN_SOURCE:
        raise Unauthorized("Invalid token source. Expected 'webapp_login_token'.")
    if mode == WebAppAccessMode.PUBLIC:
        # A signed-in account's end user is reached only through a login, never by naming its session id.
        if user_id and user_id.startswith(ACCOUNT_SESSION_PREFIX):
            user_id = None
        end_user = browser_end_user(app=app, session_id=user_id or None)
        return _passport(site, end_user)
    if login is None:
        raise WebAppAuthRequired()
    account = Account.objects.filter(id=login.get("user_id")).first()
    if account is None or not account_may_open(app=app, account=account):
        raise WebAppAccessDenied()
    end_user = browser_end_user(app=app, session_id=f"{ACCOUNT_SESSION_PREFIX}{account.id}")
    return _passport(site, end_user, account=account)


def _passport(site: Site, end_user: EndUser, account: Account | None = None) -> str:
    payload: dict[str, Any] = {
        "iss": str(site.app_id),
        "app_id": str(site.app_id),
        "app_code": site.code,
        "end_user_id": str(end_user.id),
        # The browser keeps it to ask for its own end user again once this token has expired.
        "session_id": end_user.session_id,
    }
    if account is not None:
        payload.update(
            user_id=str(account.id),
            auth_type="internal",
            token_source=SIGNED_IN_SOURCE,
            granted_at=int(_now().timestamp()),
        )
    return _encode(payload)


def passport_resolve(*, token: str, app_code: str | None) -> WebCaller:
    """The caller a passport names, checked against the site and its access mode on every request."""
    claims = _decode(token)
    if claims.get("token_source") == LOGIN_TOKEN_SOURCE or not claims.get("end_user_id"):
        raise Unauthorized("Invalid token.")
    code = claims.get("app_code")
    if app_code and code != app_code:
        raise Unauthorized("The token was issued for another app.")
    site = (
        Site.objects.select_related("app", "app__tenant")
        .filter(code=code, app_id=claims.get("app_id"))
        .first()
    )
    if site is None:
        raise ApiError("Site URL is no longer valid.")
    app = site.app
    if not app.enable_site:
        raise ApiError("Site is disabled.")
    if app.status != "normal" or site.status != "normal":
        raise errors.AppUnavailable()
    end_user = EndUser.objects.filter(id=claims["end_user_id"], app=app, type=BROWSER).first()
    if end_user is None:
        raise NotFound("End user not found.")
    mode = access_mode_of(app=app)
    account_id = claims.get("user_id")
    if mode == WebAppAccessMode.PUBLIC:
        if claims.get("token_source") == SIGNED_IN_SOURCE:
            raise Unauthorized("webapp token expired.")
    else:
        if claims.get("token_source") != SIGNED_IN_SOURCE or not account_id:
            raise WebAppAuthRequired()
        account = Account.objects.filter(id=account_id).first()
        if account is None or not account_may_open(app=app, account=account):
            raise WebAppAccessDenied()
    return WebCaller(app=app, site=site, end_user=end_user, account_id=account_id)


# Pinned conversations -------------------------------------------------------------------------------


def pinned_ids(*, app: App, end_user: EndUser) -> list[Any]:
    return list(
        PinnedConversation.objects.filter(
            app=app, created_by_role="end_user", created_by=end_user.id
        ).values_list("conversation_id", flat=True)
    )


def conversation_pin(*, app: App, end_user: EndUser, conversation_id: str) -> None:
    """Pin one of the end user's conversations; pinning twice is harmless."""
    conversation = conversation_get(app=app, end_user=end_user, conversation_id=conversation_id)
    PinnedConversation.objects.get_or_create(
        app=app,
        conversation=conversation,
        created_by_role="end_user",
        created_by=end_user.id,
        defaults={"tenant_id": app.tenant_id},
    )


def conversation_unpin(*, app: App, end_user: EndUser, conversation_id: str) -> None:
    PinnedConversation.objects.filter(
        app=app, conversation_id=conversation_id, created_by_role="end_user", created_by=end_user.id
    ).delete()


# Saved messages (completion apps) ---------------------------------------------------------------------


def saved_message_list(*, app: App, end_user: EndUser, last_id: str | None, limit: int) -> Window:
    """Newest first; ``last_id`` (a saved message's message id) continues after it."""
    saved = SavedMessage.objects.filter(app=app, created_by_role="end_user", created_by=end_user.id)
    if last_id:
        last = saved.filter(message_id=last_id).first()
        if last is None:
            raise NotFound("Last message not found.")
        saved = saved.filter(created_at__lt=last.created_at)
    rows = list(saved.order_by("-created_at").values_list("message_id", flat=True)[: limit + 1])
    ids = rows[:limit]
    messages = {
        m.id: m
        for m in Message.objects.filter(id__in=ids, app=app).prefetch_related(
            "files__upload_file", "feedbacks"
        )
    }
    return Window(limit=limit, has_more=len(rows) > limit, data=[messages[i] for i in ids if i in messages])


def saved_message_create(*, app: App, end_user: EndUser, message_id: str) -> None:
    message = message_get_for_user(app=app, end_user=end_user, message_id=message_id)
    SavedMessage.objects.get_or_create(
        app=app,
        message=message,
        created_by_role="end_user",
        created_by=end_user.id,
        defaults={"tenant_id": app.tenant_id},
    )


def saved_message_delete(*, app: App, end_user: EndUser, message_id: str) -> None:
    SavedMessage.objects.filter(
        app=app, message_id=message_id, created_by_role="end_user", created_by=end_user.id
    ).delete()

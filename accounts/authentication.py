"""DRF authentication for the console API: ``Authorization: Bearer <access token>``.

Sets ``request.user`` to the Account and ``request.tenant`` / ``request.membership`` to the account's
current workspace, so every view and selector can scope its queries.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.exceptions import AccountBanned, InvalidAuthToken
from accounts.models import Account, AccountStatus, TenantAccountJoin
from accounts.tokens import InvalidToken, decode_access_token

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "HTTP_X_CSRF_TOKEN"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, or None when there is no Authorization header."""
    header = get_authorization_header(request).decode("latin-1").strip()
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidAuthToken("Authorization scheme must be 'Bearer'")
    return token.strip()


class ConsoleTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Account, str] | None:
        token = bearer_token(request)
        if token is None:
            token = self._cookie_token(request)
        if token is None:
            return None
        try:
            payload = decode_access_token(token)
        except InvalidToken as exc:
            raise InvalidAuthToken(str(exc)) from exc
        account = Account.objects.filter(id=payload["user_id"]).first()
        if account is None:
            raise InvalidAuthToken("Invalid token.")
        if account.status in (AccountStatus.BANNED, AccountStatus.CLOSED):
            raise AccountBanned()
        membership = (
            TenantAccountJoin.objects.select_related("tenant")
            .filter(account=account)
            .order_by("-current", "created_at")
            .first()
        )
        request.membership = membership
        request.tenant = membership.tenant if membership else None
        if account.last_active_at is None or (timezone.now() - account.last_active_at).total_seconds() > 600:
            # Throttled write: "last active" is informational, a write per request would be waste.
            Account.objects.filter(id=account.id).update(last_active_at=timezone.now())
        return account, token

    @staticmethod
    def _cookie_token(request: Request) -> str | None:
        """The access token from the HttpOnly cookie (browser console), guarded by the double-submit CSRF check."""
        token = request.COOKIES.get(ACCESS_COOKIE)
        if not token:
            return None
        if request.method not in _SAFE_METHODS:
            expected = request.COOKIES.get(CSRF_COOKIE)
            if not expected or request.META.get(CSRF_HEADER) != expected:
                raise InvalidAuthToken("CSRF token is missing or invalid.")
        return token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ConsoleTokenScheme(OpenApiAuthenticationExtension):
    target_class = ConsoleTokenAuthentication
    name = "ConsoleBearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}

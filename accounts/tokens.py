"""Console access tokens (JWT, HS256, Dify's "Console API Passport") and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

import jwt
from django.conf import settings

ISSUER = "SELF_HOSTED"
SUBJECT = "Console API Passport"
ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is malformed, forged, expired or not a console token."""


def issue_access_token(*, account_id: str) -> str:
    now = datetime.now(tz=UTC)
    payload = {
        "user_id": str(account_id),
        "exp": now + settings.ACCESS_TOKEN_EXPIRE,
        "iat": now,
        "iss": ISSUER,
        "sub": SUBJECT,
    }
    return jwt.encode(payload, settings.SECRET_KEY, algorithm=ALGORITHM)


def decode_access_token(token: str) -> dict[str, Any]:
    try:
        payload = jwt.decode(
            token, settings.SECRET_KEY, algorithms=[ALGORITHM], options={"require": ["exp", "user_id", "sub"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("Token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("Invalid token.") from exc
    if payload.get("sub") != SUBJECT:
        raise InvalidToken("Invalid token.")
    return payload


def new_opaque_token() -> tuple[str, str]:
    """A random token and its SHA-256 hex digest (what is stored)."""
    token = secrets.token_urlsafe(48)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

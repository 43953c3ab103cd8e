"""End users: the developer's ``user`` string mapped to one row per app.

The mapping never changes once made (rows go only with their app), so each process remembers the ones
it has seen: a returning user costs no query.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict

from django.db import IntegrityError, transaction

from apps.models import App, EndUser
from dify_project.api.errors import InvalidParam

DEFAULT_USER = "DEFAULT-USER"
SERVICE_API = "service_api"
_REMEMBERED = 10_000

_lock = threading.Lock()
_seen: OrderedDict[tuple[str, str, str], EndUser] = OrderedDict()


def _key(app: App, user: str | None, type: str) -> tuple[str, str, str]:
    return (str(app.id), type, str(user) if user else DEFAULT_USER)


def end_user_remembered(*, app: App, user: str | None, type: str = SERVICE_API) -> EndUser | None:
    """The end user if this process has met it (no database), else None."""
    found = _seen.get(_key(app, user, type))
    return copy.copy(found) if found is not None else None


def _remember(key: tuple[str, str, str], end_user: EndUser) -> EndUser:
    with _lock:
        _seen[key] = end_user
        if len(_seen) > _REMEMBERED:
            _seen.popitem(last=False)
    return copy.copy(end_user)


def end_user_get_or_create(*, app: App, user: str | None, type: str = SERVICE_API) -> EndUser:
    """The end user for ``user`` (the shared anonymous ``DEFAULT-USER`` when empty), created on first use."""
    key = _key(app, user, type)
    remembered = _seen.get(key)
    if remembered is not None:
        return copy.copy(remembered)
    session_id = key[2]
    if len(session_id) > EndUser._meta.get_field("session_id").max_length:
        raise InvalidParam("user: at most 255 characters.", params="user")
    existing = EndUser.objects.filter(app=app, type=type, session_id=session_id).first()
    if existing is not None:
        return _remember(key, existing)
    try:
        with transaction.atomic():
            created = EndUser.objects.create(
                tenant_id=app.tenant_id,
                app=app,
                type=type,
                session_id=session_id,
                external_user_id=session_id,
                name=session_id,
                is_anonymous=session_id == DEFAULT_USER,
            )
    except IntegrityError:
        # Two first requests of the same user raced; the other one created it.
        return _remember(key, EndUser.objects.get(app=app, type=type, session_id=session_id))
    # Remembered once the row is committed: a rolled-back request must not leave a phantom behind.
    transaction.on_commit(lambda: _remember(key, created))
    return created

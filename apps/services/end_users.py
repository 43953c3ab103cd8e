"""End users: the developer's ``user`` string mapped to one row per app."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from apps.models import App, EndUser

DEFAULT_USER = "DEFAULT-USER"
SERVICE_API = "service_api"


def end_user_get_or_create(*, app: App, user: str | None, type: str = SERVICE_API) -> EndUser:
    """The end user for ``user`` (the shared anonymous ``DEFAULT-USER`` when empty), created on first use."""
    session_id = str(user) if user else DEFAULT_USER
    existing = EndUser.objects.filter(app=app, type=type, session_id=session_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return EndUser.objects.create(
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
        return EndUser.objects.get(app=app, type=type, session_id=session_id)

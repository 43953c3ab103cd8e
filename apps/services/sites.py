"""The web-app publication of an app (Dify's ``Site``): created with the app, edited from the console, its
access code (the public URL token) reset on demand."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Account
from apps.models import App, Site

CODE_LENGTH = 16
_ALPHABET = string.ascii_letters + string.digits
EDITABLE_FIELDS = (
    "title",
    "icon_type",
    "icon",
    "icon_background",
    "description",
    "default_language",
    "chat_color_theme",
    "chat_color_theme_inverted",
    "customize_domain",
    "copyright",
    "privacy_policy",
    "custom_disclaimer",
    "customize_token_strategy",
    "prompt_public",
    "show_workflow_steps",
    "use_icon_as_answer_icon",
)


def _new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


def _unique_code() -> str:
    for _ in range(10):
        code = _new_code()
        if not Site.objects.filter(code=code).exists():
            return code
    raise RuntimeError("could not generate a unique site code")  # 62^16 codes: not reachable in practice


def site_create(*, app: App, account: Account | None) -> Site:
    """The site every new app gets (Dify creates one on ``app_was_created``)."""
    return Site.objects.create(
        tenant_id=app.tenant_id,
        app=app,
        title=app.name,
        icon_type=app.icon_type,
        icon=app.icon,
        icon_background=app.icon_background,
        description=app.description,
        default_language=(account.interface_language if account else "") or "en-US",
        customize_token_strategy="not_allow",  # noqa: S106 (a strategy name, not a secret)
        use_icon_as_answer_icon=app.use_icon_as_answer_icon,
        code=_unique_code(),
    )


@transaction.atomic
def site_update(*, site: Site, data: Mapping[str, Any]) -> Site:
    """Change the given site settings (only Dify's editable fields; others are ignored)."""
    changed = []
    for field in EDITABLE_FIELDS:
        if field in data and data[field] is not None:
            setattr(site, field, data[field])
            changed.append(field)
    if changed:
        site.save(update_fields=[*changed, "updated_at"])
    return site


def site_reset_code(*, site: Site) -> Site:
    """A new access code: the old public URL stops working at once."""
    for _ in range(5):
        site.code = _new_code()
        try:
            with transaction.atomic():
                site.save(update_fields=["code", "updated_at"])
            return site
        except IntegrityError:  # another site holds the code; draw again
            continue
    raise RuntimeError("could not generate a unique site code")

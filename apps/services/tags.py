"""Tags of a workspace (``app`` or ``knowledge``) and their bindings to apps and datasets."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Account, Tenant
from apps.models import App, Tag, TagBinding
from apps.selectors import parse_id
from dify_project.api.errors import InvalidParam, NotFound


def tag_create(*, tenant: Tenant, account: Account, name: str, type: str) -> Tag:
    name = name.strip()
    if not name:
        raise InvalidParam("name: must not be blank.", params="name")
    if Tag.objects.for_tenant(tenant).filter(type=type, name=name).exists():
        raise InvalidParam(f"Tag name '{name}' already exists.", params="name", code="tag_name_duplicate")
    return Tag.objects.create(tenant=tenant, type=type, name=name, created_by=account.id)


def tag_update(*, tag: Tag, name: str) -> Tag:
    name = name.strip()
    if not name:
        raise InvalidParam("name: must not be blank.", params="name")
    if Tag.objects.filter(tenant_id=tag.tenant_id, type=tag.type, name=name).exclude(id=tag.id).exists():
        raise InvalidParam(f"Tag name '{name}' already exists.", params="name", code="tag_name_duplicate")
    tag.name = name
    tag.save(update_fields=["name", "updated_at"])
    return tag


def tag_delete(*, tag: Tag) -> None:
    tag.delete()  # its bindings go with it


def _check_target(*, tenant: Tenant, target_id: Any, type: str) -> str:
    pk = parse_id(target_id, what="Target")
    if type == "app" and not App.objects.for_tenant(tenant).filter(id=pk).exists():
        raise NotFound("App not found.")
    return str(pk)


def _tags(*, tenant: Tenant, tag_ids: list[Any], type: str) -> list[Tag]:
    ids = [parse_id(t, what="Tag") for t in tag_ids]
    tags = list(Tag.objects.for_tenant(tenant).filter(id__in=ids))
    if len(tags) != len(set(ids)):
        raise NotFound("Tag not found.")
    wrong = [t.name for t in tags if t.type != type]
    if wrong:
        raise InvalidParam(f"Tag '{wrong[0]}' is not a tag of type '{type}'.", params="tag_ids")
    return tags


@transaction.atomic
def tag_bind(*, tenant: Tenant, account: Account, tag_ids: list[Any], target_id: Any, type: str) -> None:
    """Bind tags to a target (idempotent: an existing binding stays)."""
    target = _check_target(tenant=tenant, target_id=target_id, type=type)
    for tag in _tags(tenant=tenant, tag_ids=tag_ids, type=type):
        TagBinding.objects.get_or_create(
            tag=tag, target_id=target, defaults={"tenant": tenant, "created_by": account.id}
        )


@transaction.atomic
def tag_unbind(*, tenant: Tenant, tag_ids: list[Any], target_id: Any, type: str) -> None:
    target = _check_target(tenant=tenant, target_id=target_id, type=type)
    tags = _tags(tenant=tenant, tag_ids=tag_ids, type=type)
    TagBinding.objects.for_tenant(tenant).filter(tag__in=tags, target_id=target).delete()

"""Reads for accounts and workspaces."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Account, DifySetup, Tenant, TenantAccountJoin


def setup_get() -> DifySetup | None:
    return DifySetup.objects.order_by("setup_at").first()


def workspaces_of(*, account: Account) -> QuerySet[TenantAccountJoin]:
    return TenantAccountJoin.objects.select_related("tenant").filter(account=account).order_by("created_at")


def members_of(*, tenant: Tenant) -> QuerySet[TenantAccountJoin]:
    return TenantAccountJoin.objects.select_related("account").filter(tenant=tenant).order_by("created_at")


def tenant_owner(*, tenant: Tenant) -> Account | None:
    membership = (
        TenantAccountJoin.objects.select_related("account").filter(tenant=tenant, role="owner").first()
    )
    return membership.account if membership else None

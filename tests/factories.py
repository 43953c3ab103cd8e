"""Model factories: small functions that build valid rows with overridable fields."""

from __future__ import annotations

import itertools

from accounts.models import Account, AccountStatus, DifySetup, Tenant, TenantAccountJoin, TenantRole

_seq = itertools.count(1)
PASSWORD = "s3cret-Passw0rd"


def account_factory(
    *,
    email: str | None = None,
    password: str = PASSWORD,
    name: str | None = None,
    status: str = AccountStatus.ACTIVE,
) -> Account:
    n = next(_seq)
    return Account.objects.create_user(
        email=email or f"user{n}@example.com", password=password, name=name or f"User {n}", status=status
    )


def tenant_factory(*, name: str | None = None) -> Tenant:
    return Tenant.objects.create(name=name or f"Workspace {next(_seq)}")


def membership_factory(
    *, account: Account, tenant: Tenant, role: str = TenantRole.NORMAL, current: bool = True
) -> TenantAccountJoin:
    return TenantAccountJoin.objects.create(account=account, tenant=tenant, role=role, current=current)


def member_factory(*, tenant: Tenant, role: str = TenantRole.NORMAL, **account_fields: object) -> Account:
    account = account_factory(**account_fields)
    membership_factory(account=account, tenant=tenant, role=role)
    return account


def setup_done() -> None:
    DifySetup.objects.get_or_create(version="test")

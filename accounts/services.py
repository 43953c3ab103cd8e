"""Writes for accounts, workspaces, memberships and console sessions."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import exceptions as errors
from accounts.models import (
    Account,
    AccountStatus,
    DifySetup,
    Invitation,
    RefreshToken,
    Tenant,
    TenantAccountJoin,
    TenantRole,
)
from accounts.tokens import hash_token, issue_access_token, new_opaque_token
from dify_project.api.errors import InvalidParam

PLATFORM_VERSION = "1.0.0"
# Dify's rule, kept so a password accepted by Dify is accepted here: letters and digits, 8 or more.
_PASSWORD_PATTERN = re.compile(r"^(?=.*[a-zA-Z])(?=.*\d).{8,}$")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str


def password_check(*, password: str, account: Account | None = None) -> None:
    """Refuse a weak password with 400 invalid_param (Dify's pattern plus Django's validators)."""
    if not _PASSWORD_PATTERN.match(password or ""):
        raise InvalidParam(
            "Password must contain letters and numbers, and the length must be greater than 8.",
            params="password",
        )
    try:
        validate_password(password, user=account)
    except DjangoValidationError as exc:
        raise InvalidParam(" ".join(exc.messages), params="password") from exc


def is_setup() -> bool:
    return DifySetup.objects.exists()


@transaction.atomic
def setup_platform(
    *, email: str, name: str, password: str, language: str | None, ip_address: str | None
) -> Account:
    """First-run set-up: the owner account, its workspace and the set-up marker, all or nothing."""
    # select_for_update on the marker table is not possible before the row exists; the unique email and the
    # re-check inside the transaction make two racing set-ups end with one winner and one 403.
    if is_setup():
        raise errors.AlreadySetup()
    password_check(password=password)
    try:
        account = Account.objects.create_user(
            email=email,
            password=password,
            name=name,
            interface_language=language or "en-US",
            status=AccountStatus.ACTIVE,
            initialized_at=timezone.now(),
            last_login_ip=ip_address,
            is_staff=True,
            is_superuser=True,
        )
    except IntegrityError as exc:
        raise errors.AlreadySetup() from exc
    tenant_create_for_owner(account=account, name=f"{name}'s Workspace")
    DifySetup.objects.create(version=PLATFORM_VERSION)
    return account


def tenant_create_for_owner(*, account: Account, name: str) -> Tenant:
    tenant = Tenant.objects.create(name=name)
    TenantAccountJoin.objects.filter(account=account, current=True).update(current=False)
    TenantAccountJoin.objects.create(tenant=tenant, account=account, role=TenantRole.OWNER, current=True)
    return tenant


# --- Login, tokens ------------------------------------------------------------------------------


def _login_failures_key(email: str) -> str:
    return f"login_error_rate_limit:{email.lower()}"


def login_is_locked(*, email: str) -> bool:
    return (cache.get(_login_failures_key(email)) or 0) >= settings.LOGIN_MAX_FAILURES


def _lockout_remaining(email: str) -> int:
    """Seconds until the failure count (hence the lockout) expires: it lives from the first failure on."""
    since = cache.get(_login_failures_key(email) + ":since")
    if since is None:
        return settings.LOGIN_LOCKOUT_SECONDS
    return max(1, int(since + settings.LOGIN_LOCKOUT_SECONDS - time.time()))


def _login_failed(email: str) -> None:
    key = _login_failures_key(email)
    if cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS):
        cache.set(key + ":since", time.time(), settings.LOGIN_LOCKOUT_SECONDS)
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS)


def account_authenticate(*, email: str, password: str) -> Account:
    """Check email and password. Repeated failures lock the email out for LOGIN_LOCKOUT_DURATION."""
    if login_is_locked(email=email):
        locked = errors.LoginLocked()
        locked.retry_after = _lockout_remaining(email)
        raise locked
    account = Account.objects.filter(email__iexact=email).first()
    if account is None or not account.has_usable_password() or not account.check_password(password):
        _login_failed(email)
        raise errors.InvalidCredentials()
    if account.status in (AccountStatus.BANNED, AccountStatus.CLOSED):
        raise errors.AccountBanned()
    cache.delete(_login_failures_key(email))
    return account


def account_login(*, account: Account, ip_address: str | None) -> TokenPair:
    now = timezone.now()
    updates = {"last_login": now, "last_login_ip": ip_address, "last_active_at": now}
    if account.status == AccountStatus.PENDING:
        updates.update(status=AccountStatus.ACTIVE, initialized_at=now)
    Account.objects.filter(id=account.id).update(**updates)
    return _issue_pair(account)


def _issue_pair(account: Account) -> TokenPair:
    refresh, refresh_hash = new_opaque_token()
    RefreshToken.objects.create(
        account=account, token_hash=refresh_hash, expires_at=timezone.now() + settings.REFRESH_TOKEN_EXPIRE
    )
    return TokenPair(access_token=issue_access_token(account_id=str(account.id)), refresh_token=refresh)


@transaction.atomic
def token_refresh(*, refresh_token: str) -> TokenPair:
    """Exchange a refresh token for a new pair. The old refresh token is spent (rotation)."""
    row = (
        RefreshToken.objects.select_for_update()
        .select_related("account")
        .filter(token_hash=hash_token(refresh_token or ""))
        .first()
    )
    if row is None or row.expires_at <= timezone.now():
        raise errors.InvalidRefreshToken()
    account = row.account
    row.delete()
    if account.status in (AccountStatus.BANNED, AccountStatus.CLOSED):
        raise errors.AccountBanned()
    return _issue_pair(account)


def account_logout(*, account: Account, refresh_token: str | None = None) -> None:
    """Revoke the given refresh token, or all of the account's when none is given."""
    tokens = RefreshToken.objects.filter(account=account)
    if refresh_token:
        tokens = tokens.filter(token_hash=hash_token(refresh_token))
    tokens.delete()


# --- Workspaces and members ---------------------------------------------------------------------


def workspace_switch(*, account: Account, tenant_id: str) -> Tenant:
    with transaction.atomic():
        membership = (
            TenantAccountJoin.objects.select_related("tenant")
            .filter(account=account, tenant_id=tenant_id)
            .first()
        )
        if membership is None:
            raise errors.WorkspaceNotFound()
        TenantAccountJoin.objects.filter(account=account, current=True).exclude(id=membership.id).update(
            current=False
        )
        TenantAccountJoin.objects.filter(id=membership.id).update(current=True)
    return membership.tenant


def workspace_rename(*, tenant: Tenant, name: str) -> Tenant:
    tenant.name = name
    tenant.save(update_fields=["name", "updated_at"])
    return tenant


def _require_role(actor: TenantAccountJoin, roles: frozenset[str]) -> None:
    if actor.role not in roles:
        raise errors.NoPermission()


@dataclass(frozen=True)
class InvitationResult:
    email: str
    status: str
    url: str = ""
    message: str = ""


def member_invite(
    *, inviter: TenantAccountJoin, emails: list[str], role: str, console_web_url: str
) -> list[InvitationResult]:
    """Invite accounts by email. Owners and admins only; owner cannot be granted by invitation.

    Each email is handled in its own transaction, so one failure does not undo the others.
    """
    _require_role(inviter, TenantRole.privileged())
    if role not in (TenantRole.ADMIN, TenantRole.EDITOR, TenantRole.NORMAL, TenantRole.DATASET_OPERATOR):
        raise InvalidParam("Invalid role", params="role")
    results: list[InvitationResult] = []
    for raw_email in emails:
        email = raw_email.strip().lower()
        try:
            with transaction.atomic():
                token = _invite_one(inviter=inviter, email=email, role=role)
        except errors.AccountAlreadyInTenant as exc:
            results.append(InvitationResult(email=email, status="failed", message=exc.message))
            continue
        url = f"{console_web_url.rstrip('/')}/activate?email={email}&token={token}"
        results.append(InvitationResult(email=email, status="success", url=url))
    return results


def _invite_one(*, inviter: TenantAccountJoin, email: str, role: str) -> str:
    tenant = inviter.tenant
    account = Account.objects.filter(email__iexact=email).first()
    if account is None:
        account = Account.objects.create_user(
            email=email, password=None, name=email.split("@")[0], status=AccountStatus.PENDING
        )
    if TenantAccountJoin.objects.filter(tenant=tenant, account=account).exists():
        raise errors.AccountAlreadyInTenant()
    TenantAccountJoin.objects.create(
        tenant=tenant,
        account=account,
        role=role,
        invited_by=inviter.account,
        current=not TenantAccountJoin.objects.filter(account=account).exists(),
    )
    token, token_hash = new_opaque_token()
    Invitation.objects.create(
        tenant=tenant,
        account=account,
        token_hash=token_hash,
        expires_at=timezone.now() + settings.INVITE_EXPIRY,
    )
    return token


def invitation_get_valid(
    *, token: str, email: str | None = None, workspace_id: str | None = None
) -> Invitation:
    invitation = (
        Invitation.objects.select_related("tenant", "account")
        .filter(token_hash=hash_token(token or ""), used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None:
        raise errors.InvalidInvitation()
    if email and invitation.account.email.lower() != email.lower():
        raise errors.InvalidInvitation()
    if workspace_id and str(invitation.tenant_id) != str(workspace_id):
        raise errors.InvalidInvitation()
    return invitation


@transaction.atomic
def invitation_activate(
    *,
    token: str,
    email: str | None,
    workspace_id: str | None,
    name: str,
    password: str | None,
    interface_language: str,
    timezone_name: str,
) -> Account:
    invitation = invitation_get_valid(token=token, email=email, workspace_id=workspace_id)
    account = invitation.account
    if password:
        password_check(password=password, account=account)
        account.set_password(password)
    elif not account.has_usable_password():
        raise InvalidParam("A password is required to activate the account.", params="password")
    account.name = name
    account.interface_language = interface_language
    account.timezone = timezone_name
    account.status = AccountStatus.ACTIVE
    account.initialized_at = account.initialized_at or timezone.now()
    account.save()
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at", "updated_at"])
    return account


@transaction.atomic
def member_update_role(*, actor: TenantAccountJoin, member_id: str, role: str) -> TenantAccountJoin:
    """Change a member's role. Owners and admins only; only the owner may make someone owner (a transfer)."""
    _require_role(actor, TenantRole.privileged())
    if role not in TenantRole.values:
        raise InvalidParam("Invalid role", params="role")
    target = _member_in(actor.tenant_id, member_id, lock=True)
    if target.account_id == actor.account_id:
        raise errors.CannotOperateSelf()
    if target.role == TenantRole.OWNER and actor.role != TenantRole.OWNER:
        raise errors.NoPermission()
    if role == TenantRole.OWNER:
        if actor.role != TenantRole.OWNER:
            raise errors.NoPermission()
        # Ownership transfer: the workspace keeps exactly one owner.
        TenantAccountJoin.objects.filter(id=actor.id).update(role=TenantRole.ADMIN)
    target.role = role
    target.save(update_fields=["role", "updated_at"])
    return target


@transaction.atomic
def member_remove(*, actor: TenantAccountJoin, member_id: str) -> None:
    _require_role(actor, TenantRole.privileged())
    target = _member_in(actor.tenant_id, member_id, lock=True)
    if target.account_id == actor.account_id:
        raise errors.CannotOperateSelf()
    if target.role == TenantRole.OWNER or (
        target.role == TenantRole.ADMIN and actor.role != TenantRole.OWNER
    ):
        raise errors.NoPermission()
    Invitation.objects.filter(tenant_id=actor.tenant_id, account_id=target.account_id).delete()
    target.delete()
    if not TenantAccountJoin.objects.filter(account_id=target.account_id, current=True).exists():
        other = TenantAccountJoin.objects.filter(account_id=target.account_id).order_by("created_at").first()
        if other:
            TenantAccountJoin.objects.filter(id=other.id).update(current=True)


def _member_in(tenant_id: object, member_id: str, *, lock: bool = False) -> TenantAccountJoin:
    queryset = TenantAccountJoin.objects.select_related("account")
    if lock:
        queryset = queryset.select_for_update()
    membership = queryset.filter(tenant_id=tenant_id, account_id=member_id).first()
    if membership is None:
        raise errors.MemberNotInTenant()
    return membership


def account_update_profile(*, account: Account, **fields: object) -> Account:
    allowed = {"name", "avatar", "interface_language", "interface_theme", "timezone"}
    changed = [key for key in fields if key in allowed]
    for key in changed:
        setattr(account, key, fields[key])
    if changed:
        account.save(update_fields=[*changed, "updated_at"])
    return account


def account_change_password(*, account: Account, password: str | None, new_password: str) -> Account:
    if account.has_usable_password() and not account.check_password(password or ""):
        raise InvalidParam(
            "The current password is incorrect.", params="password", code="current_password_incorrect"
        )
    password_check(password=new_password, account=account)
    account.set_password(new_password)
    account.save(update_fields=["password", "updated_at"])
    account_logout(account=account)
    return account

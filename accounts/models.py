"""Accounts, workspaces (Dify's "tenants") and memberships, shaped like Dify's tables."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models


class TimestampedModel(models.Model):
    """UUID primary key and timestamps: every table of the project carries these (DESIGN.md section 5)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class TenantScopedQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant | uuid.UUID | str) -> TenantScopedQuerySet:
        tenant_id = tenant.id if isinstance(tenant, Tenant) else tenant
        return self.filter(tenant_id=tenant_id)


class TenantScopedModel(TimestampedModel):
    """A workspace-owned row. Read it through ``objects.for_tenant(...)`` so a query never crosses workspaces."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class AccountStatus(models.TextChoices):
    PENDING = "pending"
    UNINITIALIZED = "uninitialized"
    ACTIVE = "active"
    BANNED = "banned"
    CLOSED = "closed"


class AccountManager(BaseUserManager["Account"]):
    def create_user(self, email: str, password: str | None = None, **extra: object) -> Account:
        account = self.model(email=self.normalize_email(email).lower(), **extra)
        account.set_password(password)
        account.save(using=self._db)
        return account

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> Account:
        extra.setdefault("name", email.split("@")[0])
        extra.update(is_staff=True, is_superuser=True, status=AccountStatus.ACTIVE)
        return self.create_user(email, password, **extra)


class Account(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    avatar = models.CharField(max_length=255, blank=True, default="")
    interface_language = models.CharField(max_length=255, blank=True, default="en-US")
    interface_theme = models.CharField(max_length=255, blank=True, default="light")
    timezone = models.CharField(max_length=255, blank=True, default="UTC")
    last_login_ip = models.GenericIPAddressField(null=True, blank=True)
    last_active_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    initialized_at = models.DateTimeField(null=True, blank=True)
    # Django admin access; unrelated to workspace roles.
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status in (AccountStatus.ACTIVE, AccountStatus.PENDING)


class TenantStatus(models.TextChoices):
    NORMAL = "normal"
    ARCHIVE = "archive"


class Tenant(TimestampedModel):
    name = models.CharField(max_length=255)
    plan = models.CharField(max_length=255, default="basic")
    status = models.CharField(max_length=16, choices=TenantStatus.choices, default=TenantStatus.NORMAL)
    custom_config = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "workspace"

    def __str__(self) -> str:
        return self.name


class TenantRole(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    NORMAL = "normal"
    DATASET_OPERATOR = "dataset_operator"

    @classmethod
    def privileged(cls) -> frozenset[str]:
        return frozenset({cls.OWNER, cls.ADMIN})

    @classmethod
    def editing(cls) -> frozenset[str]:
        return frozenset({cls.OWNER, cls.ADMIN, cls.EDITOR})

    @classmethod
    def dataset_editing(cls) -> frozenset[str]:
        return frozenset({cls.OWNER, cls.ADMIN, cls.EDITOR, cls.DATASET_OPERATOR})


class TenantAccountJoin(TimestampedModel):
    """Membership of an account in a workspace, with its role; ``current`` marks the active workspace."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=TenantRole.choices, default=TenantRole.NORMAL)
    current = models.BooleanField(default=False)
    invited_by = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "membership"
        constraints = [models.UniqueConstraint(fields=["tenant", "account"], name="unique_tenant_account")]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.tenant_id} as {self.role}"


class DifySetup(models.Model):
    """The first-run marker: one row once /console/api/setup has succeeded."""

    version = models.CharField(max_length=255)
    setup_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "setup"

    def __str__(self) -> str:
        return f"set up at {self.setup_at:%Y-%m-%d %H:%M}"


class RefreshToken(TimestampedModel):
    """A console refresh token, stored hashed; rotated on every use."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"refresh token of {self.account_id}"


class Invitation(TimestampedModel):
    """A pending invitation to a workspace; the token travels in the activation link and is stored hashed."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"invitation of {self.account_id} to {self.tenant_id}"

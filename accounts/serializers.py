"""Input and output shapes of the console account endpoints (Dify's field names)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Account, Tenant, TenantAccountJoin, TenantRole
from dify_project.api.fields import ResultOut, timestamp

NAME_MAX = 30


class SetupIn(serializers.Serializer):
    email = serializers.EmailField(max_length=255)
    name = serializers.CharField(max_length=NAME_MAX)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    language = serializers.CharField(max_length=32, required=False, allow_null=True, allow_blank=True)


class InitValidateIn(serializers.Serializer):
    password = serializers.CharField(max_length=30)


class LoginIn(serializers.Serializer):
    email = serializers.EmailField(max_length=255)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    remember_me = serializers.BooleanField(required=False, default=False)
    invite_token = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    language = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)


class RefreshIn(serializers.Serializer):
    refresh_token = serializers.CharField(required=False, allow_blank=True, max_length=255)


class TokenPairOut(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()


class LoginOut(ResultOut):
    data = TokenPairOut()


class SetupStatusOut(serializers.Serializer):
    step = serializers.ChoiceField(choices=["not_started", "finished"])
    setup_at = serializers.CharField(required=False)


class ProfileOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    avatar = serializers.CharField(allow_null=True)
    avatar_url = serializers.CharField(allow_null=True)
    email = serializers.EmailField()
    is_password_set = serializers.BooleanField()
    interface_language = serializers.CharField()
    interface_theme = serializers.CharField()
    timezone = serializers.CharField()
    last_login_at = serializers.IntegerField(allow_null=True)
    last_login_ip = serializers.CharField(allow_null=True)
    created_at = serializers.IntegerField()


def profile_out(account: Account) -> dict[str, Any]:
    return {
        "id": str(account.id),
        "name": account.name,
        "avatar": account.avatar or None,
        "avatar_url": account.avatar or None,
        "email": account.email,
        "is_password_set": account.has_usable_password(),
        "interface_language": account.interface_language,
        "interface_theme": account.interface_theme,
        "timezone": account.timezone,
        "last_login_at": timestamp(account.last_login),
        "last_login_ip": account.last_login_ip,
        "created_at": timestamp(account.created_at),
    }


class ProfileUpdateIn(serializers.Serializer):
    name = serializers.CharField(required=False, min_length=3, max_length=NAME_MAX)
    avatar = serializers.CharField(required=False, allow_blank=True, max_length=255)
    interface_language = serializers.CharField(required=False, max_length=32)
    interface_theme = serializers.ChoiceField(required=False, choices=["light", "dark"])
    timezone = serializers.CharField(required=False, max_length=64)


class PasswordChangeIn(serializers.Serializer):
    password = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=128, trim_whitespace=False
    )
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)
    repeat_new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["new_password"] != attrs["repeat_new_password"]:
            raise serializers.ValidationError({"repeat_new_password": "The passwords do not match."})
        return attrs


class WorkspaceOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    plan = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.IntegerField()
    current = serializers.BooleanField()


def workspace_out(membership: TenantAccountJoin) -> dict[str, Any]:
    tenant = membership.tenant
    return {
        "id": str(tenant.id),
        "name": tenant.name,
        "plan": tenant.plan,
        "status": tenant.status,
        "created_at": timestamp(tenant.created_at),
        "current": membership.current,
    }


class TenantInfoOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    plan = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.IntegerField()
    role = serializers.CharField()
    in_trial = serializers.BooleanField(allow_null=True)
    trial_end_reason = serializers.CharField(allow_null=True)
    custom_config = serializers.DictField()


def tenant_info_out(tenant: Tenant, role: str) -> dict[str, Any]:
    return {
        "id": str(tenant.id),
        "name": tenant.name,
        "plan": tenant.plan,
        "status": tenant.status,
        "created_at": timestamp(tenant.created_at),
        "role": role,
        "in_trial": None,
        "trial_end_reason": None,
        "custom_config": tenant.custom_config or {},
    }


class SwitchWorkspaceIn(serializers.Serializer):
    tenant_id = serializers.UUIDField()


class RenameWorkspaceIn(serializers.Serializer):
    name = serializers.CharField(max_length=255)


class MemberOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    avatar = serializers.CharField(allow_null=True)
    avatar_url = serializers.CharField(allow_null=True)
    email = serializers.EmailField()
    last_login_at = serializers.IntegerField(allow_null=True)
    last_active_at = serializers.IntegerField(allow_null=True)
    created_at = serializers.IntegerField()
    role = serializers.CharField()
    status = serializers.CharField()


def member_out(membership: TenantAccountJoin) -> dict[str, Any]:
    account = membership.account
    return {
        "id": str(account.id),
        "name": account.name,
        "avatar": account.avatar or None,
        "avatar_url": account.avatar or None,
        "email": account.email,
        "last_login_at": timestamp(account.last_login),
        "last_active_at": timestamp(account.last_active_at),
        "created_at": timestamp(membership.created_at),
        "role": membership.role,
        "status": account.status,
    }


class InviteIn(serializers.Serializer):
    emails = serializers.ListField(child=serializers.EmailField(max_length=255), min_length=1, max_length=100)
    role = serializers.ChoiceField(choices=[r for r in TenantRole.values if r != TenantRole.OWNER])
    language = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=32)


class RoleIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=TenantRole.values)


class ActivateCheckIn(serializers.Serializer):
    workspace_id = serializers.UUIDField(required=False, allow_null=True)
    email = serializers.EmailField(required=False, allow_null=True, allow_blank=True)
    token = serializers.CharField(max_length=255)


class ActivateIn(serializers.Serializer):
    workspace_id = serializers.UUIDField(required=False, allow_null=True)
    email = serializers.EmailField(required=False, allow_null=True, allow_blank=True)
    token = serializers.CharField(max_length=255)
    name = serializers.CharField(max_length=NAME_MAX)
    password = serializers.CharField(required=False, allow_blank=True, max_length=128, trim_whitespace=False)
    interface_language = serializers.CharField(max_length=32, required=False, default="en-US")
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")

"""Console endpoints for set-up, sessions, the profile, workspaces and members (Dify's paths and shapes)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from accounts import exceptions as errors
from accounts import selectors, services
from accounts import serializers as s
from accounts.authentication import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from accounts.models import TenantRole
from accounts.tokens import new_opaque_token
from dify_project import ratelimit
from dify_project.api.views import ApiView, WorkspaceApiView
from dify_project.client_address import client_ip

SUCCESS = {"result": "success"}


class LoginRateThrottle(BaseThrottle):
    """Per-address brake on login attempts (LOGIN_RATE_LIMIT_PER_MINUTE, 0: none), on top of the per-email
    lockout in the service: it stops one address trying many emails. The same sliding window as the API
    key limits, so it holds across processes on Redis."""

    def allow_request(self, request: Request, view: Any) -> bool:
        address = client_ip(request) or "unknown"
        self._decision = ratelimit.hit(f"login_ip:{address}", limit=settings.LOGIN_RATE_LIMIT_PER_MINUTE)
        return self._decision.allowed

    def wait(self) -> float | None:
        return float(self._decision.retry_after)


def _require_setup() -> None:
    if not services.is_setup():
        raise errors.NotSetup()


def _set_session_cookies(response: Response, pair: services.TokenPair, request: Request) -> None:
    secure = request.is_secure()
    access_age = int(settings.ACCESS_TOKEN_EXPIRE.total_seconds())
    refresh_age = int(settings.REFRESH_TOKEN_EXPIRE.total_seconds())
    response.set_cookie(
        ACCESS_COOKIE, pair.access_token, max_age=access_age, httponly=True, secure=secure, samesite="Lax"
    )
    response.set_cookie(
        REFRESH_COOKIE, pair.refresh_token, max_age=refresh_age, httponly=True, secure=secure, samesite="Lax"
    )
    csrf, _ = new_opaque_token()
    response.set_cookie(CSRF_COOKIE, csrf, max_age=refresh_age, httponly=False, secure=secure, samesite="Lax")


def _token_response(pair: services.TokenPair, request: Request) -> Response:
    # Tokens in the body (Dify before 1.9, and what API clients use with `Authorization: Bearer`) and in
    # HttpOnly cookies (Dify's web console since 1.9).
    response = Response(
        {
            "result": "success",
            "data": {"access_token": pair.access_token, "refresh_token": pair.refresh_token},
        }
    )
    _set_session_cookies(response, pair, request)
    return response


class SetupApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses=s.SetupStatusOut, summary="First-run set-up status")
    def get(self, request: Request) -> Response:
        marker = selectors.setup_get()
        if marker is None:
            return Response({"step": "not_started"})
        return Response({"step": "finished", "setup_at": marker.setup_at.isoformat()})

    @extend_schema(
        request=s.SetupIn, responses={201: s.ResultOut}, summary="Create the owner account and workspace"
    )
    def post(self, request: Request) -> Response:
        if services.is_setup():
            raise errors.AlreadySetup()
        if settings.INIT_PASSWORD and not request.session.get("is_init_validated"):
            raise errors.NotInitValidated()
        data = self.validate(s.SetupIn, request.data)
        services.setup_platform(
            email=data["email"],
            name=data["name"],
            password=data["password"],
            language=data.get("language"),
            ip_address=client_ip(request),
        )
        return Response(SUCCESS, status=201)


class InitValidateApi(ApiView):
    """Optional gate before set-up: when INIT_PASSWORD is set, set-up needs it first (as in Dify)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(responses=inline_serializer("InitStatus", {"status": serializers.CharField()}))
    def get(self, request: Request) -> Response:
        done = not settings.INIT_PASSWORD or bool(request.session.get("is_init_validated"))
        return Response({"status": "finished" if done else "not_started"})

    @extend_schema(request=s.InitValidateIn, responses={201: s.ResultOut})
    def post(self, request: Request) -> Response:
        if services.is_setup():
            raise errors.AlreadySetup()
        data = self.validate(s.InitValidateIn, request.data)
        if settings.INIT_PASSWORD and data["password"] != settings.INIT_PASSWORD:
            request.session["is_init_validated"] = False
            raise errors.ApiError("Init password is invalid.", code="init_validate_failed", status=401)
        request.session["is_init_validated"] = True
        return Response(SUCCESS, status=201)


class LoginApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=s.LoginIn, responses=s.LoginOut, summary="Log in with email and password")
    def post(self, request: Request) -> Response:
        _require_setup()
        data = self.validate(s.LoginIn, request.data)
        account = services.account_authenticate(email=data["email"], password=data["password"])
        if data.get("invite_token"):
            services.invitation_get_valid(token=data["invite_token"], email=data["email"])
        if not selectors.workspaces_of(account=account).exists():
            return Response(
                {
                    "result": "fail",
                    "data": "workspace not found, please contact system admin to "
                    "invite you to join in a workspace",
                }
            )
        pair = services.account_login(account=account, ip_address=client_ip(request))
        return _token_response(pair, request)


class LogoutApi(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(request=s.RefreshIn, responses=s.ResultOut)
    def post(self, request: Request) -> Response:
        if request.user is not None:
            given = request.data.get("refresh_token") if isinstance(request.data, dict) else None
            # Any other value than a string names no token: logging out still succeeds (Dify ignores the body).
            token = (given if isinstance(given, str) else None) or request.COOKIES.get(REFRESH_COOKIE)
            services.account_logout(account=request.user, refresh_token=token)
        response = Response(SUCCESS)
        for cookie in (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE):
            response.delete_cookie(cookie)
        return response


class RefreshTokenApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=s.RefreshIn, responses=s.LoginOut, summary="Exchange a refresh token for a new pair"
    )
    def post(self, request: Request) -> Response:
        data = self.validate(s.RefreshIn, request.data if request.data else {})
        token = data.get("refresh_token") or request.COOKIES.get(REFRESH_COOKIE)
        if not token:
            raise errors.InvalidRefreshToken("No refresh token provided")
        pair = services.token_refresh(refresh_token=token)
        return _token_response(pair, request)


class ProfileApi(ApiView):
    @extend_schema(responses=s.ProfileOut)
    def get(self, request: Request) -> Response:
        return Response(s.profile_out(request.user))


class ProfileUpdateApi(ApiView):
    """Dify splits profile edits over /account/name, /account/avatar, ...; this path takes any of them."""

    @extend_schema(request=s.ProfileUpdateIn, responses=s.ProfileOut)
    def post(self, request: Request) -> Response:
        data = self.validate(s.ProfileUpdateIn, request.data)
        return Response(s.profile_out(services.account_update_profile(account=request.user, **data)))


def _profile_field_view(field: str, field_serializer: serializers.Field) -> type[ApiView]:
    input_class = type(f"Account{field.title()}In", (serializers.Serializer,), {field: field_serializer})

    class FieldApi(ApiView):
        @extend_schema(request=input_class, responses=s.ProfileOut)
        def post(self, request: Request) -> Response:
            data = self.validate(input_class, request.data)
            return Response(s.profile_out(services.account_update_profile(account=request.user, **data)))

    FieldApi.__name__ = f"Account{field.title().replace('_', '')}Api"
    return FieldApi


AccountNameApi = _profile_field_view("name", serializers.CharField(min_length=3, max_length=s.NAME_MAX))
AccountAvatarApi = _profile_field_view("avatar", serializers.CharField(allow_blank=True, max_length=255))
AccountLanguageApi = _profile_field_view("interface_language", serializers.CharField(max_length=32))
AccountThemeApi = _profile_field_view("interface_theme", serializers.ChoiceField(choices=["light", "dark"]))
AccountTimezoneApi = _profile_field_view("timezone", serializers.CharField(max_length=64))


class PasswordApi(ApiView):
    @extend_schema(request=s.PasswordChangeIn, responses=s.ProfileOut)
    def post(self, request: Request) -> Response:
        data = self.validate(s.PasswordChangeIn, request.data)
        account = services.account_change_password(
            account=request.user, password=data.get("password"), new_password=data["new_password"]
        )
        return Response(s.profile_out(account))


class WorkspaceListApi(ApiView):
    @extend_schema(responses=inline_serializer("WorkspaceList", {"workspaces": s.WorkspaceOut(many=True)}))
    def get(self, request: Request) -> Response:
        return Response(
            {"workspaces": [s.workspace_out(m) for m in selectors.workspaces_of(account=request.user)]}
        )


class CurrentWorkspaceApi(WorkspaceApiView):
    @extend_schema(responses=s.TenantInfoOut)
    def get(self, request: Request) -> Response:
        return Response(s.tenant_info_out(request.tenant, request.membership.role))

    @extend_schema(request=None, responses=s.TenantInfoOut)
    def post(self, request: Request) -> Response:
        # Dify's console fetches the current workspace with POST.
        return self.get(request)


class SwitchWorkspaceApi(ApiView):
    @extend_schema(
        request=s.SwitchWorkspaceIn,
        responses=inline_serializer(
            "SwitchOut", {"result": serializers.CharField(), "new_tenant": s.TenantInfoOut()}
        ),
    )
    def post(self, request: Request) -> Response:
        data = self.validate(s.SwitchWorkspaceIn, request.data)
        tenant = services.workspace_switch(account=request.user, tenant_id=str(data["tenant_id"]))
        role = selectors.workspaces_of(account=request.user).get(tenant=tenant).role
        return Response({"result": "success", "new_tenant": s.tenant_info_out(tenant, role)})


class WorkspaceInfoApi(WorkspaceApiView):
    write_roles = TenantRole.privileged()

    @extend_schema(
        request=s.RenameWorkspaceIn,
        responses=inline_serializer(
            "RenameOut", {"result": serializers.CharField(), "tenant": s.TenantInfoOut()}
        ),
    )
    def post(self, request: Request) -> Response:
        data = self.validate(s.RenameWorkspaceIn, request.data)
        tenant = services.workspace_rename(tenant=request.tenant, name=data["name"])
        return Response({"result": "success", "tenant": s.tenant_info_out(tenant, request.membership.role)})


class MemberListApi(WorkspaceApiView):
    @extend_schema(
        responses=inline_serializer(
            "MemberList", {"result": serializers.CharField(), "accounts": s.MemberOut(many=True)}
        )
    )
    def get(self, request: Request) -> Response:
        members = selectors.members_of(tenant=request.tenant)
        return Response({"result": "success", "accounts": [s.member_out(m) for m in members]})


class MemberInviteApi(WorkspaceApiView):
    write_roles = TenantRole.privileged()

    @extend_schema(
        request=s.InviteIn,
        responses={
            201: inline_serializer(
                "InviteOut",
                {
                    "result": serializers.CharField(),
                    "tenant_id": serializers.UUIDField(),
                    "invitation_results": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validate(s.InviteIn, request.data)
        console_url = getattr(settings, "CONSOLE_WEB_URL", "") or request.build_absolute_uri("/").rstrip("/")
        results = services.member_invite(
            inviter=request.membership, emails=data["emails"], role=data["role"], console_web_url=console_url
        )
        body: dict[str, Any] = {
            "result": "success",
            "tenant_id": str(request.tenant.id),
            "invitation_results": [
                {
                    "status": r.status,
                    "email": r.email,
                    **({"url": r.url} if r.url else {"message": r.message}),
                }
                for r in results
            ],
        }
        return Response(body, status=201)


class MemberApi(WorkspaceApiView):
    write_roles = TenantRole.privileged()

    @extend_schema(
        responses=inline_serializer(
            "MemberRemoveOut", {"result": serializers.CharField(), "tenant_id": serializers.UUIDField()}
        )
    )
    def delete(self, request: Request, member_id: str) -> Response:
        services.member_remove(actor=request.membership, member_id=str(member_id))
        return Response({"result": "success", "tenant_id": str(request.tenant.id)})


class MemberRoleApi(WorkspaceApiView):
    write_roles = TenantRole.privileged()

    @extend_schema(request=s.RoleIn, responses=s.ResultOut)
    def put(self, request: Request, member_id: str) -> Response:
        data = self.validate(s.RoleIn, request.data)
        services.member_update_role(actor=request.membership, member_id=str(member_id), role=data["role"])
        return Response(SUCCESS)


class ActivateCheckApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        parameters=[s.ActivateCheckIn],
        responses=inline_serializer(
            "ActivateCheck",
            {"is_valid": serializers.BooleanField(), "data": serializers.DictField(allow_null=True)},
        ),
    )
    def get(self, request: Request) -> Response:
        data = self.validate_query(s.ActivateCheckIn, request)
        try:
            invitation = services.invitation_get_valid(
                token=data["token"], email=data.get("email"), workspace_id=data.get("workspace_id")
            )
        except errors.InvalidInvitation:
            return Response({"is_valid": False, "data": None})
        return Response(
            {
                "is_valid": True,
                "data": {
                    "workspace_name": invitation.tenant.name,
                    "workspace_id": str(invitation.tenant_id),
                    "email": invitation.account.email,
                },
            }
        )


class ActivateApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=s.ActivateIn, responses=s.ResultOut)
    def post(self, request: Request) -> Response:
        data = self.validate(s.ActivateIn, request.data)
        account = services.invitation_activate(
            token=data["token"],
            email=data.get("email"),
            workspace_id=str(data["workspace_id"]) if data.get("workspace_id") else None,
            name=data["name"],
            password=data.get("password") or None,
            interface_language=data["interface_language"],
            timezone_name=data["timezone"],
        )
        pair = services.account_login(account=account, ip_address=client_ip(request))
        return _token_response(pair, request)

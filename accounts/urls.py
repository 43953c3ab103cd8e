"""Console routes of the accounts domain, mounted under /console/api/ (Dify's paths)."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("setup", views.SetupApi.as_view()),
    path("init", views.InitValidateApi.as_view()),
    path("login", views.LoginApi.as_view()),
    path("logout", views.LogoutApi.as_view()),
    path("refresh-token", views.RefreshTokenApi.as_view()),
    path("activate/check", views.ActivateCheckApi.as_view()),
    path("activate", views.ActivateApi.as_view()),
    path("account/profile", views.ProfileApi.as_view()),
    path("account/update", views.ProfileUpdateApi.as_view()),
    path("account/name", views.AccountNameApi.as_view()),
    path("account/avatar", views.AccountAvatarApi.as_view()),
    path("account/interface-language", views.AccountLanguageApi.as_view()),
    path("account/interface-theme", views.AccountThemeApi.as_view()),
    path("account/timezone", views.AccountTimezoneApi.as_view()),
    path("account/password", views.PasswordApi.as_view()),
    path("workspaces", views.WorkspaceListApi.as_view()),
    path("workspaces/current", views.CurrentWorkspaceApi.as_view()),
    path("workspaces/switch", views.SwitchWorkspaceApi.as_view()),
    path("workspaces/info", views.WorkspaceInfoApi.as_view()),
    path("workspaces/current/members", views.MemberListApi.as_view()),
    path("workspaces/current/members/invite-email", views.MemberInviteApi.as_view()),
    path("workspaces/current/members/<uuid:member_id>", views.MemberApi.as_view()),
    path("workspaces/current/members/<uuid:member_id>/update-role", views.MemberRoleApi.as_view()),
]

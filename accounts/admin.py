from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Account, DifySetup, Invitation, Tenant, TenantAccountJoin


class MembershipInline(admin.TabularInline):
    model = TenantAccountJoin
    fk_name = "tenant"
    extra = 0
    fields = ("account", "role", "current", "invited_by", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("account", "invited_by")


class AccountMembershipInline(MembershipInline):
    fk_name = "account"
    fields = ("tenant", "role", "current", "created_at")
    autocomplete_fields = ("tenant",)


@admin.register(Account)
class AccountAdmin(UserAdmin):
    ordering = ("-created_at",)
    list_display = ("email", "name", "status", "is_staff", "last_login", "created_at")
    list_filter = ("status", "is_staff", "is_superuser")
    search_fields = ("email", "name")
    readonly_fields = (
        "last_login",
        "last_login_ip",
        "last_active_at",
        "created_at",
        "updated_at",
        "initialized_at",
    )
    fieldsets = (
        (None, {"fields": ("email", "name", "password", "status")}),
        ("Preferences", {"fields": ("avatar", "interface_language", "interface_theme", "timezone")}),
        ("Admin access", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Activity", {"fields": readonly_fields}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)
    filter_horizontal = ("groups", "user_permissions")
    inlines = [AccountMembershipInline]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "plan", "status", "created_at")
    list_filter = ("status", "plan")
    search_fields = ("name", "id")
    readonly_fields = ("id", "created_at", "updated_at")
    inlines = [MembershipInline]


@admin.register(TenantAccountJoin)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("account", "tenant", "role", "current", "created_at")
    list_filter = ("role",)
    search_fields = ("account__email", "tenant__name")
    list_select_related = ("account", "tenant")
    autocomplete_fields = ("account", "tenant", "invited_by")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("account", "tenant", "expires_at", "used_at")
    list_select_related = ("account", "tenant")
    readonly_fields = ("token_hash",)


@admin.register(DifySetup)
class SetupAdmin(admin.ModelAdmin):
    list_display = ("version", "setup_at")

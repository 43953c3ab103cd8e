"""Django admin for operators: apps and what they own, read-mostly (secrets never shown); conversations and
messages read-only; API keys revoked (never shown: only their hash exists)."""

from django.contrib import admin, messages

from apps.models import (
    ApiToken,
    App,
    AppAnnotationSetting,
    AppModelConfig,
    Conversation,
    EndUser,
    Message,
    MessageAnnotation,
    MessageFeedback,
    Site,
    Tag,
    TagBinding,
    WebAppAccess,
)
from apps.services.api_keys import api_key_delete


class SiteInline(admin.StackedInline):
    model = Site
    extra = 0
    fields = ("title", "code", "default_language", "customize_token_strategy", "status")
    readonly_fields = ("code",)


class WebAppAccessInline(admin.StackedInline):
    """Who may open the site: public, workspace members, or listed emails (and members)."""

    model = WebAppAccess
    extra = 0
    fields = ("access_mode", "allowed_emails")


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ("name", "mode", "tenant", "status", "enable_site", "enable_api", "created_at")
    list_filter = ("mode", "status", "enable_site", "enable_api")
    search_fields = ("name", "id", "tenant__name")
    list_select_related = ("tenant",)
    raw_id_fields = ("tenant", "app_model_config", "workflow")
    readonly_fields = ("created_at", "updated_at", "created_by", "updated_by")
    inlines = [SiteInline, WebAppAccessInline]

    def save_formset(self, request, form, formset, change):
        # Inline rows belong to the app's workspace; the form does not ask for it.
        for inline_form in formset.forms:
            if hasattr(inline_form.instance, "tenant_id") and inline_form.instance.tenant_id is None:
                inline_form.instance.tenant_id = form.instance.tenant_id
        super().save_formset(request, form, formset, change)


@admin.register(AppModelConfig)
class AppModelConfigAdmin(admin.ModelAdmin):
    list_display = ("id", "app", "provider", "model_id", "created_at")
    list_filter = ("provider",)
    search_fields = ("app__name", "provider", "model_id")
    list_select_related = ("app",)
    raw_id_fields = ("app",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Only the visible prefix exists in the database; keys cannot be recovered, only revoked."""

    list_display = ("prefix", "type", "app", "tenant", "last_used_at", "created_at")
    list_filter = ("type",)
    search_fields = ("prefix", "app__name", "tenant__name")
    list_select_related = ("app", "tenant")
    raw_id_fields = ("tenant", "app")
    readonly_fields = ("prefix", "token_hash", "last_used_at", "created_at", "updated_at")
    actions = ("revoke",)

    def has_add_permission(self, request):  # keys are created from the console, shown once
        return False

    def has_change_permission(self, request, obj=None):  # a key is kept as it is, or revoked
        return False

    def delete_queryset(self, request, queryset):
        # The admin's own delete goes through the service too: a key's cached resolution must go with it.
        for token in queryset:
            api_key_delete(token=token)

    def delete_model(self, request, obj):
        api_key_delete(token=obj)

    @admin.action(description="Revoke the selected API keys (requests with them fail at once)")
    def revoke(self, request, queryset):
        tokens = list(queryset)
        for token in tokens:
            api_key_delete(token=token)
        self.message_user(request, f"{len(tokens)} API key(s) revoked", messages.SUCCESS)


@admin.register(EndUser)
class EndUserAdmin(admin.ModelAdmin):
    list_display = ("session_id", "type", "app", "is_anonymous", "created_at")
    list_filter = ("type", "is_anonymous")
    search_fields = ("session_id", "external_user_id")
    list_select_related = ("app",)
    raw_id_fields = ("tenant", "app")


class _History(admin.ModelAdmin):
    """Conversations and messages are what end users said: operators read them, never edit them."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("created_at", "query", "answer", "status", "message_tokens", "answer_tokens")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("created_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(_History):
    list_display = (
        "name",
        "app",
        "mode",
        "invoke_from",
        "from_source",
        "dialogue_count",
        "is_deleted",
        "created_at",
    )
    list_filter = ("mode", "invoke_from", "from_source", "is_deleted")
    search_fields = ("name", "id", "app__name")
    list_select_related = ("app",)
    date_hierarchy = "created_at"
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(_History):
    list_display = (
        "id",
        "app",
        "conversation",
        "status",
        "message_tokens",
        "answer_tokens",
        "total_price",
        "created_at",
    )
    list_filter = ("status", "invoke_from", "app_mode")
    search_fields = ("id", "query", "app__name")
    list_select_related = ("app", "conversation")
    date_hierarchy = "created_at"


@admin.register(MessageFeedback)
class MessageFeedbackAdmin(admin.ModelAdmin):
    list_display = ("message", "rating", "from_source", "created_at")
    list_filter = ("rating", "from_source")
    list_select_related = ("message",)
    raw_id_fields = ("tenant", "app", "conversation", "message", "from_end_user")


@admin.register(MessageAnnotation)
class MessageAnnotationAdmin(admin.ModelAdmin):
    list_display = ("question", "app", "hit_count", "created_at")
    search_fields = ("question", "content")
    list_select_related = ("app",)
    raw_id_fields = ("tenant", "app")


@admin.register(AppAnnotationSetting)
class AppAnnotationSettingAdmin(admin.ModelAdmin):
    list_display = ("app", "enabled", "score_threshold", "embedding_provider_name", "embedding_model_name")
    list_filter = ("enabled",)
    list_select_related = ("app",)
    raw_id_fields = ("tenant", "app")


class TagBindingInline(admin.TabularInline):
    model = TagBinding
    extra = 0
    raw_id_fields = ("tenant",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "type", "tenant", "created_at")
    list_filter = ("type",)
    search_fields = ("name",)
    list_select_related = ("tenant",)
    raw_id_fields = ("tenant",)
    inlines = [TagBindingInline]

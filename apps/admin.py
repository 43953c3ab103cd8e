"""Django admin for operators: apps and what they own, read-mostly (secrets never shown)."""

from django.contrib import admin

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
    search_fields = ("name", "id")
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
    search_fields = ("app__name", "provider", "model_id")
    raw_id_fields = ("app",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Only the visible prefix exists in the database; keys cannot be recovered, only revoked."""

    list_display = ("prefix", "type", "app", "tenant", "last_used_at", "created_at")
    list_filter = ("type",)
    search_fields = ("prefix", "app__name")
    raw_id_fields = ("tenant", "app")
    readonly_fields = ("prefix", "token_hash", "last_used_at", "created_at", "updated_at")

    def has_add_permission(self, request):  # keys are created from the console, shown once
        return False


@admin.register(EndUser)
class EndUserAdmin(admin.ModelAdmin):
    list_display = ("session_id", "type", "app", "is_anonymous", "created_at")
    search_fields = ("session_id", "external_user_id")
    raw_id_fields = ("tenant", "app")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("name", "app", "mode", "invoke_from", "from_source", "is_deleted", "created_at")
    list_filter = ("mode", "invoke_from", "is_deleted")
    search_fields = ("name", "id")
    raw_id_fields = ("tenant", "app", "from_end_user")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "app", "conversation", "status", "message_tokens", "answer_tokens", "created_at")
    list_filter = ("status", "invoke_from")
    search_fields = ("id", "query")
    raw_id_fields = ("tenant", "app", "conversation", "from_end_user")


@admin.register(MessageFeedback)
class MessageFeedbackAdmin(admin.ModelAdmin):
    list_display = ("message", "rating", "from_source", "created_at")
    list_filter = ("rating", "from_source")
    raw_id_fields = ("tenant", "app", "conversation", "message", "from_end_user")


@admin.register(MessageAnnotation)
class MessageAnnotationAdmin(admin.ModelAdmin):
    list_display = ("question", "app", "hit_count", "created_at")
    search_fields = ("question", "content")
    raw_id_fields = ("tenant", "app")


@admin.register(AppAnnotationSetting)
class AppAnnotationSettingAdmin(admin.ModelAdmin):
    list_display = ("app", "enabled", "score_threshold", "embedding_provider_name", "embedding_model_name")
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
    raw_id_fields = ("tenant",)
    inlines = [TagBindingInline]

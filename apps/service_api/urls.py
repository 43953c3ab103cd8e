"""Service API routes, mounted under /v1/ (Dify's paths)."""

from django.urls import path

from apps.service_api.views import app_info, conversations, files

urlpatterns = [
    path("", app_info.IndexApi.as_view()),
    path("parameters", app_info.ParametersApi.as_view()),
    path("meta", app_info.MetaApi.as_view()),
    path("info", app_info.InfoApi.as_view()),
    path("site", app_info.SiteApi.as_view()),
    path("end-users/<uuid:end_user_id>", app_info.EndUserApi.as_view()),
    path("conversations", conversations.ConversationListApi.as_view()),
    path("conversations/<uuid:conversation_id>", conversations.ConversationApi.as_view()),
    path("conversations/<uuid:conversation_id>/name", conversations.ConversationNameApi.as_view()),
    path("conversations/<uuid:conversation_id>/variables", conversations.ConversationVariablesApi.as_view()),
    path(
        "conversations/<uuid:conversation_id>/variables/<str:variable_id>",
        conversations.ConversationVariableApi.as_view(),
    ),
    path("messages", conversations.MessageListApi.as_view()),
    path("messages/<uuid:message_id>/feedbacks", conversations.MessageFeedbackApi.as_view()),
    path("app/feedbacks", conversations.AppFeedbackListApi.as_view()),
    path("files/upload", files.FileUploadApi.as_view()),
    path("files/<uuid:file_id>/preview", files.FilePreviewApi.as_view()),
]

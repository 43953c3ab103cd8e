"""Service API routes, mounted under /v1/ (Dify's paths)."""

from django.urls import path

from apps.service_api.views import annotations, app_info, audio, conversations, files, generation
from apps.service_api.views import openai_api as openai_views

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
    path("messages/<uuid:message_id>/suggested", generation.SuggestedQuestionsApi.as_view()),
    path("app/feedbacks", conversations.AppFeedbackListApi.as_view()),
    path("chat-messages", generation.ChatMessagesApi.as_view()),
    path("chat-messages/<str:task_id>/stop", generation.ChatStopApi.as_view()),
    path("completion-messages", generation.CompletionMessagesApi.as_view()),
    path("completion-messages/<str:task_id>/stop", generation.CompletionStopApi.as_view()),
    path("workflows/run", generation.WorkflowRunApi.as_view()),
    path("workflows/run/<uuid:run_id>", generation.WorkflowRunDetailApi.as_view()),
    path("workflows/tasks/<str:task_id>/stop", generation.WorkflowStopApi.as_view()),
    path("workflows/logs", generation.WorkflowLogsApi.as_view()),
    path("workflows/<uuid:workflow_id>/run", generation.WorkflowVersionRunApi.as_view()),
    path("workflow/<uuid:run_id>/events", generation.WorkflowEventsApi.as_view()),
    path("form/human_input/<str:form_token>", generation.HumanInputFormApi.as_view()),
    path("apps/annotations", annotations.AnnotationListApi.as_view()),
    path("apps/annotations/<str:annotation_id>", annotations.AnnotationApi.as_view()),
    path("apps/annotation-reply/<str:action>", annotations.AnnotationReplyApi.as_view()),
    path(
        "apps/annotation-reply/<str:action>/status/<str:job_id>",
        annotations.AnnotationReplyStatusApi.as_view(),
    ),
    path("audio-to-text", audio.AudioToTextApi.as_view()),
    path("text-to-audio", audio.TextToAudioApi.as_view()),
    path("files/upload", files.FileUploadApi.as_view()),
    path("files/<uuid:file_id>/preview", files.FilePreviewApi.as_view()),
    # OpenAI-compatible endpoints (issue 16): OpenAI's shapes and errors on these paths only.
    path("chat/completions", openai_views.ChatCompletionsApi.as_view()),
    path("responses", openai_views.ResponsesApi.as_view()),
    path("models", openai_views.ModelsApi.as_view()),
]

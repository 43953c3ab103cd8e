"""Web-app API routes, mounted under /api/ (Dify's ``controllers/web`` paths)."""

from django.urls import path

from apps.web import views

urlpatterns = [
    path("passport", views.PassportApi.as_view()),
    path("login", views.LoginApi.as_view()),
    path("webapp/access-mode", views.AccessModeApi.as_view()),
    path("site", views.SiteApi.as_view()),
    path("parameters", views.ParametersApi.as_view()),
    path("meta", views.MetaApi.as_view()),
    path("chat-messages", views.ChatMessagesApi.as_view()),
    path("chat-messages/<str:task_id>/stop", views.ChatStopApi.as_view()),
    path("completion-messages", views.CompletionMessagesApi.as_view()),
    path("completion-messages/<str:task_id>/stop", views.CompletionStopApi.as_view()),
    path("workflows/run", views.WorkflowRunApi.as_view()),
    path("workflows/tasks/<str:task_id>/stop", views.WorkflowStopApi.as_view()),
    path("conversations", views.ConversationListApi.as_view()),
    path("conversations/<uuid:conversation_id>", views.ConversationApi.as_view()),
    path("conversations/<uuid:conversation_id>/name", views.ConversationNameApi.as_view()),
    path("conversations/<uuid:conversation_id>/pin", views.ConversationPinApi.as_view()),
    path("conversations/<uuid:conversation_id>/unpin", views.ConversationUnpinApi.as_view()),
    path("messages", views.MessageListApi.as_view()),
    path("messages/<uuid:message_id>/feedbacks", views.MessageFeedbackApi.as_view()),
    path("messages/<uuid:message_id>/suggested-questions", views.SuggestedQuestionsApi.as_view()),
    path("saved-messages", views.SavedMessageListApi.as_view()),
    path("saved-messages/<uuid:message_id>", views.SavedMessageApi.as_view()),
    path("files/upload", views.FileUploadApi.as_view()),
    path("audio-to-text", views.AudioToTextApi.as_view()),
    path("text-to-audio", views.TextToAudioApi.as_view()),
]

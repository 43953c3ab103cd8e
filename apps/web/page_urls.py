"""The published sites' pages, at Dify's paths (``/chatbot/{code}`` is the chat page for embedding)."""

from django.urls import path

from apps.web import pages

urlpatterns = [
    path("chat/<str:code>", pages.chat_page, name="webapp-chat"),
    path("chatbot/<str:code>", pages.chatbot_page),
    path("completion/<str:code>", pages.completion_page, name="webapp-completion"),
    path("workflow/<str:code>", pages.workflow_page, name="webapp-workflow"),
]

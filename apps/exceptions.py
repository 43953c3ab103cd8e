"""App and Service API errors with Dify's codes (``controllers/service_api/app/error.py``)."""

from dify_project.api.errors import ApiError, Forbidden, NotFound, Unauthorized


class InvalidApiKey(Unauthorized):
    message = "Access token is invalid"


class AppNotFound(NotFound):
    message = "App not found."


class AppUnavailable(ApiError):
    code = "app_unavailable"
    message = "App unavailable, please check your app configurations."


class NotChatApp(ApiError):
    code = "not_chat_app"
    message = "App mode is invalid."


class NotCompletionApp(ApiError):
    code = "not_completion_app"
    message = "Please check if your Completion app mode matches the right API route."


class NotWorkflowApp(ApiError):
    code = "not_workflow_app"
    message = "Only support workflow app."


class AppApiDisabled(Forbidden):
    message = "The app's API service has been disabled."


class AppAbnormal(Forbidden):
    message = "The app's status is abnormal."


class WorkspaceArchived(Forbidden):
    message = "The workspace's status is archived."


class ConversationNotFound(NotFound):
    message = "Conversation Not Exists."


class ConversationCompleted(ApiError):
    code = "conversation_completed"
    message = "The conversation has ended. Please start a new conversation."


class MessageNotFound(NotFound):
    message = "Message Not Exists."


class FirstMessageNotFound(NotFound):
    message = "First Message Not Exists."


class LastConversationNotFound(NotFound):
    message = "Last Conversation Not Exists."


class EndUserNotFound(NotFound):
    code = "end_user_not_found"
    message = "End user not found."


class AnnotationNotFound(NotFound):
    message = "Annotation not found."


class SuggestedQuestionsDisabled(Forbidden):
    code = "app_suggested_questions_after_answer_disabled"
    message = "Function Suggested questions after answer disabled."


class MoreLikeThisDisabled(Forbidden):
    code = "app_more_like_this_disabled"
    message = "The 'More like this' feature is disabled. Please refresh your page."


class SiteNotFound(Forbidden):
    message = "Site not found."


class TooManyApiKeys(ApiError):
    code = "max_keys_exceeded"
    message = "Cannot create more than 10 API keys for this resource type."


class AppInvokeQuotaExceeded(ApiError):
    code = "too_many_requests"
    status = 429
    message = "Too many requests. Please try again later."
    retry_after = 1  # a slot frees when any of the app's runs ends: soon, but nobody knows when


class ConversationVariableNotFound(NotFound):
    message = "Conversation variable not found."


class ConversationVariableTypeMismatch(ApiError):
    code = "bad_request"
    message = "The value does not match the variable's type."

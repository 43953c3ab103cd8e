"""Console routes of the apps domain, mounted under /console/api/ (Dify's paths).

Ids are captured as strings and parsed in the views, so a malformed id answers 404 in Dify's error body
naming the id, rather than falling through to an unrelated route.
"""

from django.urls import path

from apps.console.views import (
    annotations,
    apps,
    beyond,
    debug,
    dsl,
    logs,
    mcp_server,
    sites,
    statistics,
    workflow_tests,
    workflow_tools,
    workflows,
)

A = "apps/<str:app_id>"

urlpatterns = [
    # apps
    path("apps", apps.AppListApi.as_view()),
    path("app-templates", apps.AppTemplateListApi.as_view()),
    path("apps/imports", dsl.AppImportApi.as_view()),
    path("apps/imports/<str:import_id>/confirm", dsl.AppImportConfirmApi.as_view()),
    path("apps/imports/<str:app_id>/check-dependencies", dsl.AppImportCheckDependenciesApi.as_view()),
    path(A, apps.AppApi.as_view()),
    path(f"{A}/copy", apps.AppCopyApi.as_view()),
    path(f"{A}/export", apps.AppExportApi.as_view()),
    path(f"{A}/name", apps.AppNameApi.as_view()),
    path(f"{A}/icon", apps.AppIconApi.as_view()),
    path(f"{A}/site-enable", apps.AppSiteStatusApi.as_view()),
    path(f"{A}/api-enable", apps.AppApiStatusApi.as_view()),
    # MCP server
    path(f"{A}/server", mcp_server.AppMCPServerApi.as_view()),
    path("apps/<str:server_id>/server/refresh", mcp_server.AppMCPServerRefreshApi.as_view()),
    # workflow as tool
    path("workspaces/current/tool-provider/workflow/create", workflow_tools.WorkflowToolCreateApi.as_view()),
    path("workspaces/current/tool-provider/workflow/update", workflow_tools.WorkflowToolUpdateApi.as_view()),
    path("workspaces/current/tool-provider/workflow/delete", workflow_tools.WorkflowToolDeleteApi.as_view()),
    path("workspaces/current/tool-provider/workflow/get", workflow_tools.WorkflowToolGetApi.as_view()),
    path("workspaces/current/tool-provider/workflow/tools", workflow_tools.WorkflowToolToolsApi.as_view()),
    path("workspaces/current/tools/workflow", workflow_tools.WorkflowToolListApi.as_view()),
    # site and keys
    path(f"{A}/site", sites.AppSiteApi.as_view()),
    path(f"{A}/site/access-token-reset", sites.AppSiteAccessTokenResetApi.as_view()),
    path(f"{A}/api-keys", sites.AppApiKeyListApi.as_view()),
    path(f"{A}/api-keys/<str:api_key_id>", sites.AppApiKeyApi.as_view()),
    # model config and workflows
    path(f"{A}/model-config", workflows.ModelConfigApi.as_view()),
    path(f"{A}/workflows/draft", workflows.DraftWorkflowApi.as_view()),
    path(f"{A}/workflows/draft/run", debug.DraftWorkflowRunApi.as_view()),
    path(f"{A}/advanced-chat/workflows/draft/run", debug.ChatflowDraftRunApi.as_view()),
    path(f"{A}/workflows/draft/nodes/<str:node_id>/run", debug.DraftNodeRunApi.as_view()),
    path(f"{A}/workflow-runs/tasks/<str:task_id>/stop", debug.TaskStopApi.as_view()),
    path(f"{A}/chat-messages/<str:task_id>/stop", debug.TaskStopApi.as_view()),
    path(f"{A}/completion-messages/<str:task_id>/stop", debug.TaskStopApi.as_view()),
    path(f"{A}/completion-messages", debug.DebugChatApi.as_view()),
    path(f"{A}/workflows/draft/environment-variables", workflows.DraftEnvironmentVariablesApi.as_view()),
    path(f"{A}/workflows/draft/conversation-variables", workflows.DraftConversationVariablesApi.as_view()),
    path(f"{A}/workflows/draft/features", workflows.DraftFeaturesApi.as_view()),
    path(f"{A}/workflows/publish", workflows.PublishWorkflowApi.as_view()),
    path(f"{A}/workflows/compare", workflows.WorkflowCompareApi.as_view()),
    # workflow test cases (issue 16), before workflows/<workflow_id> which would take "test-cases"
    path(f"{A}/workflows/test-cases", workflow_tests.TestCasesApi.as_view()),
    path(f"{A}/workflows/test-cases/run", workflow_tests.TestCasesRunApi.as_view()),
    path(f"{A}/workflows", workflows.WorkflowVersionListApi.as_view()),
    path(f"{A}/workflows/<str:workflow_id>", workflows.WorkflowVersionApi.as_view()),
    path(f"{A}/workflows/<str:workflow_id>/restore", workflows.WorkflowRestoreApi.as_view()),
    # logs
    path(f"{A}/workflow-runs", logs.WorkflowRunListApi.as_view()),
    path(f"{A}/advanced-chat/workflow-runs", logs.AdvancedChatWorkflowRunListApi.as_view()),
    path(f"{A}/workflow-runs/<str:run_id>/replay", beyond.WorkflowRunReplayApi.as_view()),
    path(f"{A}/workflow-runs/<str:run_id>/test-case", beyond.WorkflowRunTestCaseApi.as_view()),
    path(f"{A}/replay-settings", beyond.AppReplaySettingsApi.as_view()),
    path(f"{A}/budget", beyond.AppBudgetApi.as_view()),
    path("workspaces/current/budget", beyond.WorkspaceBudgetApi.as_view()),
    path(f"{A}/workflow-runs/<str:run_id>", logs.WorkflowRunDetailApi.as_view()),
    path(f"{A}/workflow-runs/<str:run_id>/node-executions", logs.WorkflowRunNodeExecutionsApi.as_view()),
    path(f"{A}/workflow-app-logs", logs.WorkflowAppLogListApi.as_view()),
    path(f"{A}/chat-conversations", logs.ChatConversationListApi.as_view()),
    path(f"{A}/chat-conversations/<str:conversation_id>", logs.ChatConversationDetailApi.as_view()),
    path(f"{A}/completion-conversations", logs.CompletionConversationListApi.as_view()),
    path(
        f"{A}/completion-conversations/<str:conversation_id>", logs.CompletionConversationDetailApi.as_view()
    ),
    path(f"{A}/chat-messages", debug.ChatMessagesApi.as_view()),
    path(f"{A}/messages/<str:message_id>", logs.MessageDetailApi.as_view()),
    path(f"{A}/feedbacks", logs.MessageFeedbackApi.as_view()),
    # statistics
    path(f"{A}/statistics/daily-messages", statistics.DailyMessagesApi.as_view()),
    path(f"{A}/statistics/daily-conversations", statistics.DailyConversationsApi.as_view()),
    path(f"{A}/statistics/daily-end-users", statistics.DailyEndUsersApi.as_view()),
    path(f"{A}/statistics/token-costs", statistics.TokenCostsApi.as_view()),
    path(f"{A}/statistics/average-session-interactions", statistics.AverageSessionInteractionsApi.as_view()),
    path(f"{A}/statistics/user-satisfaction-rate", statistics.UserSatisfactionRateApi.as_view()),
    path(f"{A}/statistics/average-response-time", statistics.AverageResponseTimeApi.as_view()),
    path(f"{A}/statistics/tokens-per-second", statistics.TokensPerSecondApi.as_view()),
    path(f"{A}/workflow/statistics/daily-conversations", statistics.WorkflowDailyRunsApi.as_view()),
    path(f"{A}/workflow/statistics/daily-terminals", statistics.WorkflowDailyTerminalsApi.as_view()),
    path(f"{A}/workflow/statistics/token-costs", statistics.WorkflowTokenCostsApi.as_view()),
    path(
        f"{A}/workflow/statistics/average-app-interactions",
        statistics.WorkflowAverageInteractionsApi.as_view(),
    ),
    # annotations
    path(f"{A}/annotations", annotations.AnnotationListApi.as_view()),
    path(f"{A}/annotations/count", annotations.AnnotationCountApi.as_view()),
    path(f"{A}/annotations/export", annotations.AnnotationExportApi.as_view()),
    path(f"{A}/annotations/batch-import", annotations.AnnotationBatchImportApi.as_view()),
    path(
        f"{A}/annotations/batch-import-status/<str:job_id>",
        annotations.AnnotationBatchImportStatusApi.as_view(),
    ),
    path(f"{A}/annotations/<str:annotation_id>", annotations.AnnotationApi.as_view()),
    path(
        f"{A}/annotations/<str:annotation_id>/hit-histories",
        annotations.AnnotationHitHistoryListApi.as_view(),
    ),
    path(f"{A}/annotation-reply/<str:action>", annotations.AnnotationReplyActionApi.as_view()),
    path(
        f"{A}/annotation-reply/<str:action>/status/<str:job_id>",
        annotations.AnnotationReplyActionStatusApi.as_view(),
    ),
    path(f"{A}/annotation-setting", annotations.AnnotationSettingApi.as_view()),
    path(
        f"{A}/annotation-settings/<str:annotation_setting_id>",
        annotations.AnnotationSettingUpdateApi.as_view(),
    ),
    # tags
    path("tags", annotations.TagListApi.as_view()),
    path("tags/<str:tag_id>", annotations.TagApi.as_view()),
    path("tag-bindings", annotations.TagBindingCreateApi.as_view()),
    path("tag-bindings/create", annotations.TagBindingCreateApi.as_view()),
    path("tag-bindings/remove", annotations.TagBindingRemoveApi.as_view()),
]

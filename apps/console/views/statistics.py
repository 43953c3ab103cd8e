"""Per-app daily statistics (Dify's ``/statistics/*`` and ``/workflow/statistics/*``): ``{"data": [...]}``
with one object per day in the account's time zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.console import serializers as s
from apps.console.views.common import APP_ID, AppApiView
from apps.models import AppMode
from apps.services import statistics as stats


class _StatisticApi(AppApiView):
    metric: ClassVar[Callable[..., list[dict[str, Any]]]]

    def _answer(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        query = self.validate_query(s.ConsoleStatisticQuery, request)
        tz = stats.account_timezone(request.user.timezone)
        start, end = stats.parse_time_range(query.get("start"), query.get("end"), tz)
        return Response({"data": type(self).metric(app=app, start=start, end=end, tz=tz)})


def _statistic(
    summary: str, metric: Callable[..., list[dict[str, Any]]], modes: frozenset[str] | None = None
) -> type:
    class StatisticApi(_StatisticApi):
        app_modes = modes

        @extend_schema(
            parameters=[APP_ID, s.ConsoleStatisticQuery], responses=s.ConsoleStatisticOut, summary=summary
        )
        def get(self, request: Request, app_id: str) -> Response:
            return self._answer(request, app_id)

    StatisticApi.metric = staticmethod(metric)
    StatisticApi.__name__ = StatisticApi.__qualname__ = f"{metric.__name__.title().replace('_', '')}Api"
    return StatisticApi


_MESSAGE_MODES = frozenset({AppMode.CHAT, AppMode.AGENT_CHAT, AppMode.ADVANCED_CHAT, AppMode.COMPLETION})
_CHAT = frozenset({AppMode.CHAT, AppMode.AGENT_CHAT, AppMode.ADVANCED_CHAT})
_WORKFLOW = frozenset({AppMode.WORKFLOW, AppMode.ADVANCED_CHAT})

DailyMessagesApi = _statistic("Messages per day", stats.daily_messages, _MESSAGE_MODES)
DailyConversationsApi = _statistic("Conversations per day", stats.daily_conversations, _MESSAGE_MODES)
DailyEndUsersApi = _statistic("End users per day", stats.daily_end_users, _MESSAGE_MODES)
TokenCostsApi = _statistic("Tokens and cost per day", stats.token_costs, _MESSAGE_MODES)
AverageSessionInteractionsApi = _statistic(
    "Average messages per conversation, per day", stats.average_session_interactions, _CHAT
)
UserSatisfactionRateApi = _statistic(
    "Likes per thousand messages, per day", stats.user_satisfaction_rate, _MESSAGE_MODES
)
AverageResponseTimeApi = _statistic(
    "Average response latency (ms) per day", stats.average_response_time, frozenset({AppMode.COMPLETION})
)
TokensPerSecondApi = _statistic("Output tokens per second, per day", stats.tokens_per_second, _MESSAGE_MODES)
WorkflowDailyRunsApi = _statistic("Published workflow runs per day", stats.workflow_daily_runs, _WORKFLOW)
WorkflowDailyTerminalsApi = _statistic(
    "Users of published runs per day", stats.workflow_daily_terminals, _WORKFLOW
)
WorkflowTokenCostsApi = _statistic("Tokens of published runs per day", stats.workflow_token_costs, _WORKFLOW)
WorkflowAverageInteractionsApi = _statistic(
    "Average runs per user, per day", stats.workflow_average_interactions, frozenset({AppMode.WORKFLOW})
)

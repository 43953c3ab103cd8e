"""Cost budgets: per workspace and per app, money (the model prices' currency) and tokens, per day or month.

Before each LLM call (`providers.services.invocation.guards`) the applicable budgets are checked and the
call's estimate (its ``max_tokens``) reserved; after it the reservation is replaced by the real usage.
Counters are atomic across processes: Redis INCRBYFLOAT/INCRBY on a key per budget and period in the
scaled mode, a row locked with select_for_update and F-expressions in the embedded mode. A budget
already spent refuses the call with `quota_exceeded` (400; an `error` event inside a stream). Crossing
the alert threshold logs a warning and counts `dify_budget_alerts` once per budget and period.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from apps.models import Budget, BudgetCounter, BudgetPeriod
from dify_project import metrics
from dify_project.api.errors import ApiError
from dify_project.db import db_sync_to_async

logger = logging.getLogger(__name__)


class QuotaExceeded(ApiError):
    code = "quota_exceeded"
    status = 400
    message = "The budget for this period is used up."


def period_key(period: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y-%m-%d" if period == BudgetPeriod.DAILY else "%Y-%m")


def _redis_mode() -> bool:
    return bool(settings.REDIS_URL)


def _redis_keys(budget: Budget, key: str) -> tuple[str, str, str]:
    base = f"{settings.REDIS_KEY_PREFIX}:budget:{budget.id}:{key}"
    return f"{base}:spent", f"{base}:tokens", f"{base}:alerted"


def _sync_redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


# -- reads and writes for the console ---------------------------------------------------------------


def budget_usage(*, budget: Budget) -> dict[str, Any]:
    """Spend and tokens of the current period."""
    key = period_key(budget.period)
    if _redis_mode():
        spent_key, tokens_key, _ = _redis_keys(budget, key)
        spent, tokens = _sync_redis().mget(spent_key, tokens_key)
        return {"period_key": key, "spent": float(spent or 0), "tokens": int(tokens or 0)}
    counter = BudgetCounter.objects.filter(budget=budget, period_key=key).first()
    return {
        "period_key": key,
        "spent": float(counter.spent) if counter else 0.0,
        "tokens": counter.tokens if counter else 0,
    }


def budget_out(*, budget: Budget | None) -> dict[str, Any]:
    if budget is None:
        return {
            "enabled": False,
            "period": "monthly",
            "amount": None,
            "token_limit": None,
            "spent": 0.0,
            "tokens": 0,
        }
    usage = budget_usage(budget=budget)
    amount = float(budget.amount) if budget.amount is not None else None
    return {
        "enabled": budget.enabled,
        "period": budget.period,
        "amount": amount,
        "currency": budget.currency,
        "token_limit": budget.token_limit,
        "alert_threshold": budget.alert_threshold,
        **usage,
        "spent_ratio": (usage["spent"] / amount) if amount else None,
        "tokens_ratio": (usage["tokens"] / budget.token_limit) if budget.token_limit else None,
    }


def budget_get(*, tenant_id: str, app_id: str | None = None) -> Budget | None:
    return Budget.objects.filter(tenant_id=tenant_id, app_id=app_id).first()


def budget_put(*, tenant_id: str, app_id: str | None = None, data: Mapping[str, Any]) -> Budget:
    """Create or replace the workspace's (or app's) budget. Counters are kept: changing the limit
    mid-period compares the new limit with what was already spent."""
    budget, _ = Budget.objects.update_or_create(
        tenant_id=tenant_id,
        app_id=app_id,
        defaults={
            "period": data.get("period") or BudgetPeriod.MONTHLY,
            "amount": data.get("amount"),
            "currency": data.get("currency") or "USD",
            "token_limit": data.get("token_limit"),
            "alert_threshold": data.get("alert_threshold", 0.8),
            "enabled": data.get("enabled", True),
        },
    )
    return budget


# -- the guard ------------------------------------------------------------------------------------------


@dataclass
class Reservation:
    budget: Budget
    period_key: str
    tokens: int
    amount: Decimal = Decimal(0)


def _applicable(tenant_id: str, app_id: str | None) -> list[Budget]:
    budgets = Budget.objects.filter(tenant_id=tenant_id, enabled=True)
    return [b for b in budgets if b.app_id is None or (app_id and str(b.app_id) == str(app_id))]


def _over(budget: Budget, spent: float, tokens: int) -> str | None:
    if budget.amount is not None and spent >= float(budget.amount):
        return f"{spent:.4f} of {budget.amount} {budget.currency}"
    if budget.token_limit is not None and tokens >= budget.token_limit:
        return f"{tokens} of {budget.token_limit} tokens"
    return None


def _scope(budget: Budget) -> str:
    return f"app {budget.app_id}" if budget.app_id else "workspace"


def _reserve(tenant_id: str, app_id: str | None, tokens: int) -> list[Reservation]:
    taken: list[Reservation] = []
    try:
        for budget in _applicable(tenant_id, app_id):
            key = period_key(budget.period)
            if _redis_mode():
                spent_key, tokens_key, _ = _redis_keys(budget, key)
                pipe = _sync_redis().pipeline()
                pipe.incrbyfloat(spent_key, 0)
                pipe.incrby(tokens_key, tokens)
                pipe.expire(spent_key, 40 * 86400)
                pipe.expire(tokens_key, 40 * 86400)
                spent, total_tokens, *_ = pipe.execute()
                taken.append(Reservation(budget, key, tokens))
                over = _over(budget, float(spent), int(total_tokens) - tokens)
            else:
                with transaction.atomic():
                    counter, _ = BudgetCounter.objects.select_for_update().get_or_create(
                        budget=budget, period_key=key
                    )
                    over = _over(budget, float(counter.spent), counter.tokens)
                    if over is None:
                        BudgetCounter.objects.filter(pk=counter.pk).update(tokens=F("tokens") + tokens)
                        taken.append(Reservation(budget, key, tokens))
            if over is not None:
                raise QuotaExceeded(f"The {_scope(budget)} budget for {key} is used up ({over}).")
    except BaseException:
        for reservation in taken:
            _settle(reservation, Decimal(0), 0)
        raise
    return taken


def _settle(reservation: Reservation, price: Decimal, tokens: int) -> None:
    budget = reservation.budget
    token_delta = tokens - reservation.tokens
    if _redis_mode():
        spent_key, tokens_key, alerted_key = _redis_keys(budget, reservation.period_key)
        client = _sync_redis()
        pipe = client.pipeline()
        pipe.incrbyfloat(spent_key, float(price))
        pipe.incrby(tokens_key, token_delta)
        spent, total = pipe.execute()
        if _crossed(budget, float(spent), int(total)) and client.set(alerted_key, 1, nx=True, ex=40 * 86400):
            _alert(budget, reservation.period_key, float(spent), int(total))
        return
    with transaction.atomic():
        BudgetCounter.objects.filter(budget=budget, period_key=reservation.period_key).update(
            spent=F("spent") + price, tokens=F("tokens") + token_delta
        )
        counter = BudgetCounter.objects.select_for_update().get(
            budget=budget, period_key=reservation.period_key
        )
        if not counter.alerted and _crossed(budget, float(counter.spent), counter.tokens):
            counter.alerted = True
            counter.save(update_fields=["alerted", "updated_at"])
            _alert(budget, reservation.period_key, float(counter.spent), counter.tokens)


def _crossed(budget: Budget, spent: float, tokens: int) -> bool:
    threshold = budget.alert_threshold
    if budget.amount is not None and float(budget.amount) > 0 and spent >= threshold * float(budget.amount):
        return True
    return bool(budget.token_limit and tokens >= threshold * budget.token_limit)


def _alert(budget: Budget, key: str, spent: float, tokens: int) -> None:
    logger.warning(
        "budget alert: %s of workspace %s passed %.0f%% for %s (spent %.4f %s, %d tokens)",
        _scope(budget),
        budget.tenant_id,
        budget.alert_threshold * 100,
        key,
        spent,
        budget.currency,
        tokens,
    )
    metrics.BUDGET_ALERTS.labels("app" if budget.app_id else "workspace").inc()


class BudgetGuard:
    """The call guard `apps` registers with `providers` (see the module docstring)."""

    async def before(
        self, *, tenant_id: str, source: Mapping[str, Any] | None, parameters: Mapping[str, Any] | None
    ) -> list[Reservation]:
        app_id = (source or {}).get("app_id") or None
        tokens = int((parameters or {}).get("max_tokens") or 0)
        return await db_sync_to_async(_reserve)(str(tenant_id), app_id, tokens)

    async def after(self, reservation: list[Reservation], usage: Any) -> None:
        price = Decimal(str(getattr(usage, "total_price", 0) or 0))
        tokens = int(getattr(usage, "total_tokens", 0) or 0)

        def settle() -> None:
            for item in reservation:
                _settle(item, price, tokens)

        if reservation:
            await db_sync_to_async(settle)()

"""Cost budgets: per workspace and per app, money (the model prices' currency) and tokens, per day or month.

Before each LLM call (`providers.services.invocation.guards`) the applicable budgets are checked and the
call's estimate (its ``max_tokens``) reserved; after it the reservation is replaced by the real usage.
Counters are atomic across processes: Redis INCRBYFLOAT/INCRBY on a key per budget and period in the
scaled mode (one pipeline per call), a conditional UPDATE with F-expressions on a row in the embedded mode.
The budget definitions come from the Django cache (see `DEFINITIONS_TTL`), the counters never do. A run
is also refused before it starts when a budget is already spent (`budget_check`, called by the Service API). A budget
already spent refuses the call with `quota_exceeded` (400; an `error` event inside a stream). Crossing
the alert threshold logs a warning and counts `dify_budget_alerts` once per budget and period.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q

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


_redis_client: Any = None


def _sync_redis() -> Any:
    """One client (and connection pool) per process: a client per call opened a connection per call."""
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL)
    return _redis_client


# Budget definitions are read on every LLM call, so they are served from the Django cache (Redis when
# scaled, shared by every process; local memory embedded). `budget_put` drops the workspace's entry at
# once; the TTL bounds how long another process's local copy can lag. Only the definitions are cached:
# the counters are never, so spending is always checked against the atomic counter itself.
DEFINITIONS_TTL = 30


def _definitions_key(tenant_id: str) -> str:
    return f"budget:definitions:{tenant_id}"


def _tenant_budgets(tenant_id: str) -> list[Budget]:
    key = _definitions_key(tenant_id)
    budgets = cache.get(key)
    if budgets is None:
        budgets = list(Budget.objects.filter(tenant_id=tenant_id, enabled=True))
        cache.set(key, budgets, DEFINITIONS_TTL)
    return budgets


def _forget_definitions(tenant_id: str) -> None:
    key = _definitions_key(str(tenant_id))
    cache.delete(key)
    # a reader between the write and the commit may have cached the old rows: drop them again after it
    transaction.on_commit(lambda: cache.delete(key))


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
    _forget_definitions(tenant_id)
    return budget


# -- the guard ------------------------------------------------------------------------------------------


@dataclass
class Reservation:
    budget: Budget
    period_key: str
    tokens: int
    amount: Decimal = Decimal(0)


def _applicable(tenant_id: str, app_id: str | None) -> list[Budget]:
    return [
        b for b in _tenant_budgets(tenant_id) if b.app_id is None or (app_id and str(b.app_id) == str(app_id))
    ]


def _over(budget: Budget, spent: float, tokens: int) -> str | None:
    if budget.amount is not None and spent >= float(budget.amount):
        return f"{spent:.4f} of {budget.amount} {budget.currency}"
    if budget.token_limit is not None and tokens >= budget.token_limit:
        return f"{tokens} of {budget.token_limit} tokens"
    return None


def _scope(budget: Budget) -> str:
    return f"app {budget.app_id}" if budget.app_id else "workspace"


def _refuse(budget: Budget, key: str, over: str) -> QuotaExceeded:
    return QuotaExceeded(f"The {_scope(budget)} budget for {key} is used up ({over}).")


def _under(budget: Budget) -> Q:
    under = Q()
    if budget.amount is not None:
        under &= Q(spent__lt=budget.amount)
    if budget.token_limit is not None:
        under &= Q(tokens__lt=budget.token_limit)
    return under


def _db_reserve(budget: Budget, key: str, tokens: int) -> str | None:
    """Reserve ``tokens`` on the counter row if the budget is not spent, in one conditional UPDATE (atomic
    without a locking read). Returns why it is spent, or None when reserved."""
    counters = BudgetCounter.objects.filter(budget_id=budget.id, period_key=key)
    for _ in range(3):
        if counters.filter(_under(budget)).update(tokens=F("tokens") + tokens):
            return None
        counter = counters.first()
        if counter is None:  # the period's first call: make the row, then reserve on it
            try:
                with transaction.atomic():
                    BudgetCounter.objects.create(budget_id=budget.id, period_key=key)
            except IntegrityError:
                pass  # another call made it
            continue
        over = _over(budget, float(counter.spent), counter.tokens)
        if over is not None:
            return over
        # settled below the limit between the UPDATE and the read: try again
    with transaction.atomic():  # still racing: decide under the row lock
        counter = counters.select_for_update().get()
        over = _over(budget, float(counter.spent), counter.tokens)
        if over is None:
            counters.update(tokens=F("tokens") + tokens)
        return over


def _reserve(tenant_id: str, app_id: str | None, tokens: int) -> list[Reservation]:
    budgets = _applicable(tenant_id, app_id)
    if not budgets:
        return []
    taken: list[Reservation] = []
    try:
        if _redis_mode():
            # every budget's counters in one round trip
            pipe = _sync_redis().pipeline()
            keys = []
            for budget in budgets:
                key = period_key(budget.period)
                spent_key, tokens_key, _ = _redis_keys(budget, key)
                pipe.incrbyfloat(spent_key, 0)
                pipe.incrby(tokens_key, tokens)
                pipe.expire(spent_key, 40 * 86400)
                pipe.expire(tokens_key, 40 * 86400)
                keys.append(key)
            results = pipe.execute()
            for budget, key in zip(budgets, keys, strict=True):
                taken.append(Reservation(budget, key, tokens))
            for i, (budget, key) in enumerate(zip(budgets, keys, strict=True)):
                spent, total_tokens = results[4 * i], results[4 * i + 1]
                over = _over(budget, float(spent), int(total_tokens) - tokens)
                if over is not None:
                    raise _refuse(budget, key, over)
        else:
            for budget in budgets:
                key = period_key(budget.period)
                over = _db_reserve(budget, key, tokens)
                if over is not None:
                    raise _refuse(budget, key, over)
                taken.append(Reservation(budget, key, tokens))
    except BaseException:
        for reservation in taken:
            _settle(reservation, Decimal(0), 0)
        raise
    return taken


def budget_check(*, tenant_id: str, app_id: str | None) -> None:
    """Refuse a run before it starts when a budget of its app or workspace is already spent (raises
    `QuotaExceeded`). Reserves nothing: each model call still reserves and settles on its own."""
    budgets = _applicable(str(tenant_id), str(app_id) if app_id else None)
    if not budgets:
        return
    keys = [period_key(b.period) for b in budgets]
    if _redis_mode():
        names = [name for b, k in zip(budgets, keys, strict=True) for name in _redis_keys(b, k)[:2]]
        values = _sync_redis().mget(names)
        usage = [(float(values[2 * i] or 0), int(values[2 * i + 1] or 0)) for i in range(len(budgets))]
    else:
        rows = {
            (str(c.budget_id), c.period_key): c
            for c in BudgetCounter.objects.filter(budget_id__in=[b.id for b in budgets], period_key__in=keys)
        }
        usage = []
        for budget, key in zip(budgets, keys, strict=True):
            row = rows.get((str(budget.id), key))
            usage.append((float(row.spent), row.tokens) if row else (0.0, 0))
    for budget, key, (spent, tokens) in zip(budgets, keys, usage, strict=True):
        over = _over(budget, spent, tokens)
        if over is not None:
            raise _refuse(budget, key, over)


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
    counters = BudgetCounter.objects.filter(budget_id=budget.id, period_key=reservation.period_key)
    if price or token_delta:
        counters.update(spent=F("spent") + price, tokens=F("tokens") + token_delta)
    crossed = []
    threshold = budget.alert_threshold
    if budget.amount is not None and budget.amount > 0:
        crossed.append(Q(spent__gte=Decimal(str(threshold)) * budget.amount))
    if budget.token_limit:
        crossed.append(Q(tokens__gte=threshold * budget.token_limit))
    # the first settle past the threshold flips `alerted` (a conditional UPDATE: exactly one wins)
    if crossed and counters.filter(reduce(or_, crossed), alerted=False).update(alerted=True):
        counter = counters.first()
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

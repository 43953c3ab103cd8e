"""Call guards: checks that run before each LLM call and settle after it (the apps' cost budgets).

`providers` sits below `apps`, so the budget logic registers itself here (AppConfig.ready) instead of
being imported. A guard's `before` may raise (an `ApiError` such as `quota_exceeded`) to refuse the call;
whatever it returns is handed back to `after` with the call's real usage (None when it failed early).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class CallGuard(Protocol):
    async def before(
        self, *, tenant_id: str, source: Mapping[str, Any] | None, parameters: Mapping[str, Any] | None
    ) -> Any: ...

    async def after(self, reservation: Any, usage: Any) -> None: ...


_guards: list[CallGuard] = []


def register_call_guard(guard: CallGuard) -> None:
    if guard not in _guards:
        _guards.append(guard)


async def guards_before(
    *, tenant_id: str, source: Mapping[str, Any] | None, parameters: Mapping[str, Any] | None
) -> list[tuple[CallGuard, Any]]:
    taken: list[tuple[CallGuard, Any]] = []
    try:
        for guard in _guards:
            taken.append(
                (guard, await guard.before(tenant_id=tenant_id, source=source, parameters=parameters))
            )
    except BaseException:
        await guards_after(taken, None)  # release what the earlier guards reserved
        raise
    return taken


async def guards_after(taken: list[tuple[CallGuard, Any]], usage: Any) -> None:
    for guard, reservation in taken:
        try:
            await guard.after(reservation, usage)
        except Exception:  # settling must never break the call it measured
            logger.exception("call guard %r failed to settle", guard)

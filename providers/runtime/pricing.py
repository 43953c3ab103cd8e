"""Prices per model and the cost of one call, in Decimal, the way Dify computes them.

Dify's rule: `price = tokens * unit_price * unit`, rounded half-up to 7 decimal places, where `unit` is the
scale the price is quoted in (`0.000001` = "per million tokens", `0.001` = "per thousand").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_QUANTUM = Decimal("0.0000001")
ZERO = Decimal("0")


@dataclass(slots=True, frozen=True)
class PriceConfig:
    """A model's price table row: input and output price per `unit` tokens, in `currency`."""

    input: Decimal
    output: Decimal | None = None
    unit: Decimal = Decimal("0.000001")
    currency: str = "USD"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceConfig:
        """Parse Dify's `pricing` mapping; numbers may be strings (`'2.50'`), as in Dify's YAML."""
        try:
            return cls(
                input=Decimal(str(data["input"])),
                output=Decimal(str(data["output"])) if data.get("output") not in (None, "") else None,
                unit=Decimal(str(data.get("unit", "0.000001"))),
                currency=str(data.get("currency") or "USD"),
            )
        except (KeyError, InvalidOperation) as exc:
            raise ValueError(f"invalid pricing {dict(data)!r}: {exc}") from None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "input": str(self.input),
            "output": None if self.output is None else str(self.output),
            "unit": str(self.unit),
            "currency": self.currency,
        }


@dataclass(slots=True, frozen=True)
class PriceInfo:
    unit_price: Decimal
    unit: Decimal
    total_amount: Decimal
    currency: str


def price_for(tokens: int, pricing: PriceConfig | None, *, output: bool) -> PriceInfo:
    """The cost of `tokens` input (or output) tokens. No pricing, or no output price: zero, in USD."""
    unit_price = None
    if pricing is not None:
        unit_price = pricing.output if output else pricing.input
    if pricing is None or unit_price is None:
        return PriceInfo(unit_price=ZERO, unit=ZERO, total_amount=ZERO, currency="USD")
    total = (Decimal(tokens) * unit_price * pricing.unit).quantize(_QUANTUM, rounding=ROUND_HALF_UP)
    return PriceInfo(unit_price=unit_price, unit=pricing.unit, total_amount=total, currency=pricing.currency)

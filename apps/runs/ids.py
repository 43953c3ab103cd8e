"""The ids a run is known by, chosen before it starts (so a Celery worker can run it under the same ids)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field


def _new() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class RunIds:
    task_id: str = field(default_factory=_new)
    run_id: str = field(default_factory=_new)
    message_id: str = field(default_factory=_new)
    conversation_id: str = field(default_factory=_new)  # used only when the run starts a conversation

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> RunIds:
        return cls(**data)

"""Files an agent's tools return, sent to the user as Dify's ``message_file`` events.

A tool's image or file is already stored as a ``ToolFile`` (the run's file port saved it). For each one the
agent app announces a ``message_file`` event (``id``, ``type``, ``belongs_to: assistant``, ``url``: a
signed, expiring ``/files/tools/...`` URL), lists its id in the round's ``message_files``, and keeps a
``MessageFile`` row (``transfer_method: tool_file``, ``url`` the unsigned path) written with the
message's end, so the hot path does no database write.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.models import MessageFile
from apps.runners.agent_chat import Thought
from apps.runners.chat_prepare import ChatIdentity
from files.signing import sign_tool_file, tool_file_path

FILE_TYPES = frozenset({"image", "document", "audio", "video", "custom"})


def _extension(file: Any) -> str:
    extension = str(getattr(file, "extension", "") or "")
    if not extension and getattr(file, "filename", None) and "." in file.filename:
        extension = file.filename.rsplit(".", 1)[1]
    extension = extension if not extension or extension.startswith(".") else f".{extension}"
    return extension if len(extension) <= 10 else ".bin"  # Dify's guard against a name posing as one


@dataclass
class AgentFiles:
    identity: ChatIdentity
    created_by_role: str
    created_by: Any
    emit: Callable[[dict[str, Any]], None]
    rows: list[MessageFile] = field(default_factory=list)

    def publish(self, thought: Thought, files: list[Any]) -> None:
        for file in files:
            tool_file_id = str(getattr(file, "related_id", "") or getattr(file, "id", "") or "")
            if not tool_file_id:
                continue
            extension = _extension(file)
            kind = str(getattr(file, "type", "") or "custom")
            kind = kind if kind in FILE_TYPES else "custom"
            message_file_id = str(uuid.uuid4())
            self.rows.append(
                MessageFile(
                    id=message_file_id,
                    type=kind,
                    transfer_method="tool_file",
                    url=tool_file_path(tool_file_id=tool_file_id, extension=extension),
                    belongs_to="assistant",
                    created_by_role=self.created_by_role,
                    created_by=self.created_by,
                )
            )
            thought.message_files.append(message_file_id)
            event = self.identity.envelope("message_file")
            event.update(
                id=message_file_id,
                type=kind,
                belongs_to="assistant",
                url=sign_tool_file(tool_file_id=tool_file_id, extension=extension),
            )
            self.emit(event)

    def record(self, *, message_id: Any) -> None:
        """Write the rows (inside the message's closing transaction)."""
        if not self.rows:
            return
        for row in self.rows:
            row.message_id = message_id
        MessageFile.objects.bulk_create(self.rows)

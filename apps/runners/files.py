"""Dify's file arguments (``files`` and file inputs) turned into the engine's file mappings.

A client sends ``{type, transfer_method: local_file | remote_url, upload_file_id | url}``; the engine
wants ``File`` mappings. Uploads must belong to the app's workspace: another workspace's id is refused
as if it did not exist.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any
from urllib.parse import urlparse

from apps.service_api.serializers import file_preview_url
from dify_project.api.errors import InvalidParam
from files.models import UploadFile
from files.services import file_type_of
from workflows.engine.values import FILE_MARKER_KEY, FILE_MARKER_VALUE

FILE_TYPES = {"document", "image", "audio", "video", "custom"}


def is_file_argument(value: Any) -> bool:
    return isinstance(value, dict) and "transfer_method" in value


def build_files(mappings: list[Any] | None, *, tenant_id: str) -> list[dict[str, Any]]:
    """Validate and resolve file arguments in one query for all uploads."""
    if not mappings:
        return []
    if not isinstance(mappings, list):
        raise InvalidParam("files must be a list", params="files")
    upload_ids = [
        m.get("upload_file_id") for m in mappings if isinstance(m, dict) and m.get("upload_file_id")
    ]
    uploads = (
        {str(u.id): u for u in UploadFile.objects.for_tenant(tenant_id).filter(id__in=upload_ids)}
        if upload_ids
        else {}
    )
    return [_build_one(mapping, uploads, tenant_id) for mapping in mappings]


def _build_one(mapping: Any, uploads: dict[str, UploadFile], tenant_id: str) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise InvalidParam("each file must be an object", params="files")
    method = mapping.get("transfer_method")
    declared_type = mapping.get("type")
    if declared_type is not None and declared_type not in FILE_TYPES:
        raise InvalidParam(f"invalid file type {declared_type!r}", params="files")
    if method == "local_file":
        upload = uploads.get(str(mapping.get("upload_file_id") or ""))
        if upload is None:
            raise InvalidParam("Invalid upload file id.", params="files")
        return {
            FILE_MARKER_KEY: FILE_MARKER_VALUE,
            "id": str(upload.id),
            "tenant_id": tenant_id,
            "type": declared_type or file_type_of(upload.extension),
            "transfer_method": "local_file",
            "related_id": str(upload.id),
            "filename": upload.name,
            "extension": f".{upload.extension}" if upload.extension else "",
            "mime_type": upload.mime_type,
            "size": upload.size,
            "url": file_preview_url(upload.id),
        }
    if method == "remote_url":
        url = mapping.get("url") or mapping.get("remote_url")
        parsed = urlparse(str(url or ""))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidParam("Invalid file url.", params="files")
        name = PurePath(parsed.path).name or parsed.netloc
        extension = PurePath(name).suffix
        return {
            FILE_MARKER_KEY: FILE_MARKER_VALUE,
            "tenant_id": tenant_id,
            "type": declared_type or file_type_of(extension.lstrip(".")),
            "transfer_method": "remote_url",
            "remote_url": url,
            "filename": name,
            "extension": extension,
            "size": -1,
        }
    raise InvalidParam(f"invalid transfer method {method!r}", params="files")


def resolve_file_inputs(inputs: dict[str, Any], *, tenant_id: str) -> dict[str, Any]:
    """File arguments found directly in ``inputs`` (single or lists) become engine file mappings."""
    resolved = dict(inputs)
    for name, value in inputs.items():
        if is_file_argument(value):
            resolved[name] = build_files([value], tenant_id=tenant_id)[0]
        elif isinstance(value, list) and value and all(is_file_argument(v) for v in value):
            resolved[name] = build_files(value, tenant_id=tenant_id)
    return resolved


def message_files_create(*, message: Any, files: list[dict[str, Any]]) -> None:
    """The user's files of a message, as Dify records them (history lists them; previews allow them)."""
    from apps.models import MessageFile

    if not files:
        return
    role = "end_user" if message.from_end_user_id else "account"
    creator = message.from_end_user_id or message.from_account_id
    MessageFile.objects.bulk_create(
        [
            MessageFile(
                message=message,
                type=f.get("type") or "custom",
                transfer_method=f.get("transfer_method") or "local_file",
                url=f.get("remote_url") or "",
                belongs_to="user",
                upload_file_id=f.get("related_id") if f.get("transfer_method") == "local_file" else None,
                created_by_role=role,
                created_by=creator,
            )
            for f in files
        ]
    )

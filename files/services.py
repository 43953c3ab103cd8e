"""Storing uploaded files: validation against Dify's limits, content hash, storage key per workspace."""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import uuid
from collections.abc import AsyncIterator
from pathlib import PurePath
from typing import IO

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage

from accounts.models import Tenant
from files import exceptions as errors
from files.models import UploadFile

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "svg"})
VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "mpeg", "webm"})
AUDIO_EXTENSIONS = frozenset({"mp3", "m4a", "wav", "amr", "mpga"})
DOCUMENT_EXTENSIONS = frozenset(
    {
        "txt",
        "markdown",
        "md",
        "mdx",
        "pdf",
        "html",
        "htm",
        "xlsx",
        "xls",
        "vtt",
        "properties",
        "doc",
        "docx",
        "csv",
        "eml",
        "msg",
        "pptx",
        "xml",
        "epub",
        "ppt",
        "json",
        "yaml",
        "yml",
    }
)
# Executables and scripts are never stored, whatever the app allows (Dify's blocked extensions).
BLOCKED_EXTENSIONS = frozenset(
    {"exe", "bat", "cmd", "com", "scr", "vbs", "ps1", "msi", "dll", "sh", "jar", "app"}
)
MB = 1024 * 1024


def file_type_of(extension: str) -> str:
    """Dify's file type for an extension: image, video, audio, document or custom."""
    extension = extension.lower()
    if extension in IMAGE_EXTENSIONS:
        return "image"
    if extension in VIDEO_EXTENSIONS:
        return "video"
    if extension in AUDIO_EXTENSIONS:
        return "audio"
    if extension in DOCUMENT_EXTENSIONS:
        return "document"
    return "custom"


def size_limit_for(extension: str) -> int:
    kind = file_type_of(extension)
    limits = {
        "image": settings.UPLOAD_IMAGE_FILE_SIZE_LIMIT,
        "video": settings.UPLOAD_VIDEO_FILE_SIZE_LIMIT,
        "audio": settings.UPLOAD_AUDIO_FILE_SIZE_LIMIT,
    }
    return limits.get(kind, settings.UPLOAD_FILE_SIZE_LIMIT) * MB


def file_upload(
    *,
    tenant: Tenant,
    content: IO[bytes],
    filename: str,
    size: int,
    mime_type: str | None,
    created_by_role: str,
    created_by: uuid.UUID,
    allowed_extensions: frozenset[str] | None = None,
    source_url: str = "",
) -> UploadFile:
    """Validate and store one file. Raises the Dify errors for a missing name, a blocked or disallowed
    extension and an over-size file; nothing is written when it raises."""
    name = PurePath(filename or "").name
    if not name:
        raise errors.FilenameNotExists()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot else name[:200]
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension in BLOCKED_EXTENSIONS:
        raise errors.UnsupportedFileType(
            f"File extension '.{extension}' is not allowed for security reasons.",
            code="file_extension_blocked",
            status=400,
        )
    if allowed_extensions is not None and extension not in allowed_extensions:
        raise errors.UnsupportedFileType()
    if size > size_limit_for(extension):
        raise errors.FileTooLarge(f"File size exceeded. {size} > {size_limit_for(extension)}")
    digest = hashlib.sha256()
    for chunk in iter(lambda: content.read(MB), b""):
        digest.update(chunk)
    content.seek(0)
    key = f"upload_files/{tenant.id}/{uuid.uuid4()}.{extension or 'bin'}"
    stored_key = default_storage.save(key, File(content, name=name))
    return UploadFile.objects.create(
        tenant=tenant,
        storage_type="local",
        key=stored_key,
        name=name,
        size=size,
        extension=extension,
        mime_type=mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
        hash=digest.hexdigest(),
        source_url=source_url,
        created_by_role=created_by_role,
        created_by=created_by,
    )


def file_open(upload: UploadFile) -> IO[bytes]:
    return default_storage.open(upload.key, "rb")


async def file_chunks(handle: IO[bytes], block_size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """A file's bytes for an ASGI response, read in worker threads: Django would otherwise read a sync
    file into one list in memory before sending a byte."""
    try:
        while chunk := await asyncio.to_thread(handle.read, block_size):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


def file_read(upload: UploadFile) -> bytes:
    with file_open(upload) as handle:
        return handle.read()


def file_delete(upload: UploadFile) -> None:
    default_storage.delete(upload.key)
    upload.delete()

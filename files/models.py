"""Files uploaded by users or produced by tools and workflows (Dify's upload_files / tool_files)."""

from __future__ import annotations

from django.db import models

from accounts.models import TenantScopedModel


class CreatedByRole(models.TextChoices):
    ACCOUNT = "account"
    END_USER = "end_user"


class UploadFile(TenantScopedModel):
    storage_type = models.CharField(max_length=32, default="local")
    key = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    extension = models.CharField(max_length=32)
    mime_type = models.CharField(max_length=255, blank=True, default="")
    hash = models.CharField(max_length=64, blank=True, default="")
    source_url = models.TextField(blank=True, default="")
    created_by_role = models.CharField(max_length=16, choices=CreatedByRole.choices)
    created_by = models.UUIDField()
    used = models.BooleanField(default=False)
    used_by = models.UUIDField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return self.name


class ToolFile(TenantScopedModel):
    """A file a tool or a workflow node produced; served under /files/tools/<id>.<ext>."""

    user_id = models.UUIDField()
    conversation_id = models.UUIDField(null=True, blank=True)
    file_key = models.CharField(max_length=255, unique=True)
    mimetype = models.CharField(max_length=255)
    original_url = models.TextField(blank=True, default="")
    name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=-1)

    def __str__(self) -> str:
        return self.name

"""What maintenance remembers between passes."""

from __future__ import annotations

from django.db import models

from accounts.models import TimestampedModel


class DocumentRecovery(TimestampedModel):
    """How often the stuck-document pass has queued a document again; past the limit it is failed."""

    document_id = models.UUIDField(unique=True)
    attempts = models.PositiveIntegerField(default=0)
    last_reason = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name_plural = "document recoveries"

    def __str__(self) -> str:
        return f"{self.document_id}: {self.attempts} re-queue(s)"

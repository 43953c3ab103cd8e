"""Re-encrypt every stored secret with the newest key in SECRETS_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from dify_project.crypto import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt all EncryptedTextField values with the first key of SECRETS_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model in apps.get_models():
            fields = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            count = 0
            with transaction.atomic():
                # Loading decrypts with any configured key; saving encrypts with the first one.
                for row in model._default_manager.select_for_update().only("pk", *fields).iterator():
                    row.save(update_fields=fields)
                    count += 1
            self.stdout.write(f"{model._meta.label}: {count} rows re-encrypted ({', '.join(fields)})")
            total += count
        self.stdout.write(f"done: {total} rows")

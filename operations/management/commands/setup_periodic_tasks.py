"""Create or update the maintenance schedule (django-celery-beat PeriodicTasks) from settings."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from operations.schedule import periodic_tasks_setup


class Command(BaseCommand):
    help = "Create or update the maintenance PeriodicTasks from settings (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="apply the settings over edits made in the admin"
        )
        parser.add_argument("--summary", action="store_true", help="one line instead of one per task")

    def handle(self, *args: Any, **options: Any) -> None:
        outcomes = periodic_tasks_setup(force=options["force"])
        if options["summary"]:
            changed = sum(1 for outcome in outcomes.values() if outcome != "unchanged")
            self.stdout.write(
                f"maintenance schedule: {changed} of {len(outcomes)} periodic tasks created or updated"
            )
            return
        for name, outcome in outcomes.items():
            self.stdout.write(f"{outcome:9} {name}")

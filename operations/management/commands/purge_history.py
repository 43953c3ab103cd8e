"""Apply the history retention now (what the scheduled task does), or with --dry-run count what it would
delete."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from operations.services import PassSkipped, history_retention_apply, orphan_files_clean


class Command(BaseCommand):
    help = (
        "Delete runs, node executions, app logs, messages and conversations older than RETENTION_DAYS "
        "(per-workspace overrides apply), in batches; --dry-run only counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count the rows, delete nothing")
        parser.add_argument("--days", type=int, help="this many days for every workspace (overrides ignored)")
        parser.add_argument("--workspace", help="only this workspace (id)")
        parser.add_argument("--files", action="store_true", help="also files whose owners are gone")

    def handle(self, *args: Any, **options: Any) -> None:
        dry = options["dry_run"]
        verb = "would delete" if dry else "deleted"
        try:
            reports = history_retention_apply(
                dry_run=dry, days=options["days"], tenant_id=options["workspace"]
            )
            files = orphan_files_clean(dry_run=dry) if options["files"] else None
        except PassSkipped as skipped:
            raise CommandError(f"the {skipped} pass is already running elsewhere") from None
        if not reports:
            self.stdout.write("retention is off (0 days): nothing to delete")
        for report in reports:
            self.stdout.write(
                f"{report['policy']}: older than {report['days']} days (before {report['cutoff']:%Y-%m-%d %H:%M} UTC)"
            )
            for table, count in report["counts"].items():
                self.stdout.write(f"  {verb} {count:>10} {table}")
        if files is not None:
            self.stdout.write("files whose owners are gone:")
            for table, count in files.items():
                self.stdout.write(f"  {verb} {count:>10} {table}")

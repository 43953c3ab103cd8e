"""`manage.py workflow_conformance`: run Dify's workflow conformance cases against our engine.

Prints one line per failing case (status, outputs, stream chunks, orderings and, where a case records
one, its full event sequence) and the closing line `N passed, M failed`. Exits non-zero when a case
fails, so CI can run it.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflows.engine.conformance import DEFAULT_SHARED, run_conformance

SHARED = DEFAULT_SHARED


class Command(BaseCommand):
    help = "Run the Dify workflow conformance cases (status, outputs, streamed text and event sequences)."

    def add_arguments(self, parser):
        parser.add_argument("--cases", default=str(SHARED / "cases.json"), help="path to cases.json")
        parser.add_argument("--dsl", default=str(SHARED / "dsl"), help="folder holding the DSL fixtures")
        parser.add_argument(
            "--case", action="append", default=None, help="run only this case id (repeatable)"
        )

    def handle(self, *args, **options):
        cases, dsl = Path(options["cases"]), Path(options["dsl"])
        if not cases.is_file():
            raise CommandError(f"cases file not found: {cases}")
        if not dsl.is_dir():
            raise CommandError(f"DSL folder not found: {dsl}")
        report = run_conformance(cases, dsl, only=set(options["case"]) if options["case"] else None)
        for line in report.lines():
            self.stdout.write(line)
        if report.failed:
            raise SystemExit(1)

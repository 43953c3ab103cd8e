"""`manage.py workflow_test <dsl-file | app-id>`: run workflow test cases headless, for CI.

A DSL file runs the cases it carries under `x-test-cases` on its own graph, outside any workspace (code
and HTTP nodes run; mock models, tools and retrieval). An app id runs the app's stored cases against its
published version (`--workflow draft` or a version id to choose), with its workspace's models for what a
case does not mock, and records the results as the console does. Prints `PASS`/`FAIL` per case and
`N passed, M failed`; `--junit FILE` writes JUnit XML. Exits 0 when every case passed, 1 when one failed,
2 when the cases could not run (no such file or app, a bad case, nothing to run).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import yaml
from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import tenant_owner
from apps.models import App
from apps.services import workflow_tests as tests
from dify_project.api.errors import ApiError
from workflows.testcases import DSL_KEY, CaseOutcome, junit_xml

EXIT_FAILED = 1
EXIT_UNUSABLE = 2


def _unusable(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_UNUSABLE)


class Command(BaseCommand):
    help = "Run workflow test cases of a DSL file or an app; exit code and JUnit XML for CI."

    def add_arguments(self, parser):
        parser.add_argument("target", help="a DSL YAML file carrying x-test-cases, or an app id")
        parser.add_argument("--junit", help="write JUnit XML to this file")
        parser.add_argument(
            "--workflow", default="published", help="for an app: draft, published or a version id"
        )
        parser.add_argument(
            "--case", action="append", default=None, help="run only this case (by name; repeatable)"
        )

    def handle(self, *args, **options):
        target: str = options["target"]
        try:
            suite, outcomes = (
                self._from_app(target, options) if _is_uuid(target) else self._from_file(target, options)
            )
        except ApiError as error:
            raise _unusable(error.message) from None
        for outcome in outcomes:
            if outcome.passed:
                self.stdout.write(f"PASS {outcome.name} ({outcome.elapsed:.3f}s)")
            else:
                self.stdout.write(f"FAIL {outcome.name}: " + "; ".join(outcome.failures))
        failed = sum(1 for o in outcomes if not o.passed)
        self.stdout.write(f"{len(outcomes) - failed} passed, {failed} failed")
        if options["junit"]:
            Path(options["junit"]).write_text(junit_xml(suite, outcomes), encoding="utf-8")
        if failed:
            raise SystemExit(EXIT_FAILED)

    def _from_file(self, target: str, options: dict[str, Any]) -> tuple[str, list[CaseOutcome]]:
        path = Path(target)
        if not path.is_file():
            raise _unusable(f"Neither a file nor an app id: {target}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise _unusable(f"Not YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("workflow"), dict):
            raise _unusable("The file is not a workflow or chatflow DSL.")
        cases = data.get(DSL_KEY) or []
        if not isinstance(cases, list):
            raise _unusable(f"{DSL_KEY} must be a list.")
        if options["case"]:
            cases = [c for c in cases if isinstance(c, dict) and c.get("name") in options["case"]]
        if not cases:
            raise _unusable(f"No test cases to run (the file has no {DSL_KEY}, or --case matched none).")
        graph = data["workflow"].get("graph") or {}
        suite = str((data.get("app") or {}).get("name") or path.stem)
        return suite, async_to_sync(tests.dsl_cases_run)(graph=graph, cases=cases)

    def _from_app(self, target: str, options: dict[str, Any]) -> tuple[str, list[CaseOutcome]]:
        app = App.objects.select_related("tenant", "workflow").filter(id=target, status="normal").first()
        if app is None:
            raise _unusable(f"App not found: {target}")
        workflow, graph, cases = tests.prepare_test_run(app=app, version=options["workflow"])
        if options["case"]:
            cases = [c for c in cases if c.name in options["case"]]
        if not cases:
            raise _unusable("No test cases to run (the app has none, or --case matched none).")
        owner = tenant_owner(tenant=app.tenant)
        results = async_to_sync(tests.test_cases_run)(
            app=app, workflow=workflow, graph=graph, cases=cases, account_id=owner.id if owner else None
        )
        names = {c.id: c.name for c in cases}
        outcomes = [
            CaseOutcome(
                name=names[r.test_case_id],
                passed=r.passed,
                status=r.status,
                outputs=r.outputs,
                answer=r.answer,
                error=r.error,
                failures=r.failures,
                elapsed=r.elapsed_time,
            )
            for r in results
        ]
        return app.name, outcomes


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return not Path(value).exists()

"""``manage.py replay_run <run_id> [--override NODE_ID='{"json": "data"}'] [--json]``: replay a recorded
workflow run from its replay log and print the per-node diff; exit code 1 when the outputs differ."""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from apps.models import App
from apps.services import replay
from dify_project.api.errors import ApiError
from workflows.models import WorkflowRun


class Command(BaseCommand):
    help = "Replay a workflow run with its recorded outside answers and report whether the outputs match."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("run_id")
        parser.add_argument("--override", action="append", default=[], help="NODE_ID=JSON node data")
        parser.add_argument("--json", action="store_true", help="print the whole report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        run = WorkflowRun.objects.filter(id=options["run_id"]).only("app_id").first()
        app = App.objects.filter(id=run.app_id).first() if run else None
        if app is None:
            raise CommandError(f"no workflow run {options['run_id']}")
        overrides = {}
        for item in options["override"]:
            node_id, _, data = item.partition("=")
            try:
                overrides[node_id] = json.loads(data)
            except json.JSONDecodeError as exc:
                raise CommandError(f"--override {node_id}: {exc}") from exc
        try:
            prepared = replay.replay_prepare(app=app, run_id=run.id, node_overrides=overrides)
            report = async_to_sync(replay.replay_run)(prepared)
        except ApiError as exc:
            raise CommandError(exc.message) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
        else:
            for node in report["nodes"]:
                mark = "same" if node["matched"] else "DIFF"
                self.stdout.write(
                    f"{mark}  {node['node_id']}{'  (overridden)' if node['overridden'] else ''}"
                )
            self.stdout.write(
                f"outputs {'match' if report['outputs_match'] else 'differ'}: {report['outputs']}"
            )
        if not report["matched"]:
            raise SystemExit(1)

"""`manage.py import_app FILE`: import a Dify DSL file into a workspace, or update an app in place.

For CI/CD promotion: `--app ID` overwrites that workflow/chatflow app's draft (Dify's `app_id` import),
`--publish` also publishes it as the app's next version, so production serves the file at once. The
import is the console's (`POST /console/api/apps/imports`): same checks, one transaction. Prints the
import result as JSON; exits 0 when the app was imported, 1 when the import failed, 3 when it waits for
confirmation (a DSL version that needs it) and `--yes` was not given.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account, Tenant
from accounts.selectors import tenant_owner
from apps.services.app_dsl import Promotion, app_import, app_import_confirm
from workflows.dsl import ImportStatus

EXIT_FAILED = 1
EXIT_PENDING = 3


def _workspace(ref: str | None) -> Tenant:
    if ref:
        try:
            found = Tenant.objects.filter(id=uuid.UUID(ref)).first()
        except ValueError:
            found = None
        if found is None:
            matches = list(Tenant.objects.filter(name=ref)[:2])
            if len(matches) > 1:
                raise CommandError(f"More than one workspace is named {ref!r}: give its id.")
            found = matches[0] if matches else None
        if found is None:
            raise CommandError(f"Workspace not found: {ref}")
        return found
    workspaces = list(Tenant.objects.all()[:2])
    if len(workspaces) != 1:
        raise CommandError("Name the workspace with --workspace (its id or name).")
    return workspaces[0]


def _account(tenant: Tenant, email: str | None) -> Account:
    if email:
        account = Account.objects.filter(email=email, memberships__tenant=tenant).first()
        if account is None:
            raise CommandError(f"No member {email} in workspace {tenant.name!r}.")
        return account
    owner = tenant_owner(tenant=tenant)
    if owner is None:
        raise CommandError(f"Workspace {tenant.name!r} has no owner: give --account.")
    return owner


class Command(BaseCommand):
    help = "Import a Dify DSL file (or URL) into a workspace; --app updates an app in place, --publish publishes."

    def add_arguments(self, parser):
        parser.add_argument("source", help="a DSL YAML file, '-' for stdin, or an http(s) URL")
        parser.add_argument("--workspace", help="the workspace id or name (optional when there is one)")
        parser.add_argument("--account", help="the e-mail of the member importing (default: the owner)")
        parser.add_argument("--app", dest="app_id", help="update this workflow/chatflow app in place")
        parser.add_argument("--publish", action="store_true", help="publish the imported draft")
        parser.add_argument("--marked-name", default="", help="name of the published version")
        parser.add_argument("--marked-comment", default="", help="comment of the published version")
        parser.add_argument("--name", help="the new app's name (default: the file's)")
        parser.add_argument("--yes", action="store_true", help="confirm an import that asks for it")

    def handle(self, *args, **options):
        tenant = _workspace(options["workspace"])
        account = _account(tenant, options["account"])
        source: str = options["source"]
        kwargs: dict = {}
        if source.startswith(("http://", "https://")):
            kwargs = {"mode": "yaml-url", "yaml_url": source}
        else:
            if source == "-":
                content = sys.stdin.read()
            else:
                path = Path(source)
                if not path.is_file():
                    raise CommandError(f"File not found: {source}")
                content = path.read_text(encoding="utf-8")
            kwargs = {"mode": "yaml-content", "yaml_content": content}
        result = app_import(
            tenant=tenant,
            account=account,
            name=options["name"],
            app_id=options["app_id"],
            promotion=Promotion(
                publish=options["publish"],
                marked_name=options["marked_name"][:20],
                marked_comment=options["marked_comment"][:100],
            ),
            **kwargs,
        )
        if result.status == ImportStatus.PENDING and options["yes"]:
            result = app_import_confirm(tenant=tenant, account=account, import_id=result.id)
        self.stdout.write(json.dumps(result.body(), ensure_ascii=False, indent=2))
        if result.status == ImportStatus.FAILED:
            raise SystemExit(EXIT_FAILED)
        if result.status == ImportStatus.PENDING:
            self.stderr.write("The import waits for confirmation: run again with --yes.")
            raise SystemExit(EXIT_PENDING)

"""DSL import: `dependencies` on plugins the workspace has not installed are reported as Dify reports
leaked dependencies; an installed plugin is satisfied, in its own workspace only."""

from __future__ import annotations

import yaml

from tests import factories
from tests.console.test_dsl import _import, _workflow_yaml
from tests.plugins import builders
from tests.plugins.test_console import BASE, install, upload


def _dependency(identifier: str) -> dict:
    return {"type": "marketplace", "value": {"marketplace_plugin_unique_identifier": identifier}}


def leaked_of(client, content: str) -> list[str]:
    body = _import(client, content).json()
    answer = client.get(f"/console/api/apps/imports/{body['app_id']}/check-dependencies").json()
    return [d["value"]["marketplace_plugin_unique_identifier"] for d in answer["leaked_dependencies"]]


def test_uninstalled_plugins_are_leaked_and_installed_ones_are_not(
    owner_client, client_for, install_now, django_capture_on_commit_callbacks
) -> None:
    # given a DSL depending on a built-in provider's plugin, the texttools plugin and an unknown plugin
    data = yaml.safe_load(_workflow_yaml())
    data["dependencies"] = [
        _dependency("langgenius/openai:0.0.1@abc"),
        _dependency("tester/texttools:0.0.1@def"),
        _dependency("someone/unknown:1.0@012"),
    ]
    content = yaml.safe_dump(data)
    # before texttools is installed, both plugins are leaked
    assert leaked_of(owner_client, content) == ["tester/texttools:0.0.1@def", "someone/unknown:1.0@012"]
    # when the workspace installs texttools (any version)
    identifier = upload(owner_client, builders.tool_plugin()).json()["unique_identifier"]
    install(owner_client, identifier, django_capture_on_commit_callbacks)
    install_now()
    # then only the unknown plugin is leaked
    assert leaked_of(owner_client, content) == ["someone/unknown:1.0@012"]
    # and another workspace still misses texttools
    other = factories.tenant_factory(name="Other")
    stranger = client_for(factories.member_factory(tenant=other, role="owner", email="o@example.com"))
    assert leaked_of(stranger, content) == ["tester/texttools:0.0.1@def", "someone/unknown:1.0@012"]
    assert stranger.get(f"{BASE}/list").json()["plugins"] == []

"""Uploading, installing, listing and uninstalling `.difypkg`s through Dify's console paths."""

from __future__ import annotations

import pytest

from plugins import registry
from plugins.models import PluginInstallation
from tests import factories
from tests.plugins import builders

BASE = "/console/api/workspaces/current/plugin"


def upload(client, content: bytes, name: str = "plugin.difypkg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(f"{BASE}/upload/pkg", {"pkg": SimpleUploadedFile(name, content)}, format="multipart")


def install(client, identifier: str, capture) -> dict:
    with capture(execute=True):
        response = client.post(
            f"{BASE}/install/pkg", {"plugin_unique_identifiers": [identifier]}, format="json"
        )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_package_that_is_not_a_plugin_is_refused_in_difys_error_body(owner_client) -> None:
    # given a zip without a manifest, and a manifest naming a tool source that is not in the package
    empty = builders.package({"main.py": "print(1)\n"})
    broken = builders.package(
        {
            "manifest.yaml": builders.manifest("broken", tools=["provider/broken.yaml"]),
            "main.py": builders.MAIN,
            "provider/broken.yaml": builders.tool_provider_yaml("broken", []),
        }
    )
    # when they are uploaded
    for content, expected in (
        (b"not a zip at all", "not a zip"),
        (empty, "manifest.yaml is missing"),
        (broken, "provider/broken.py"),
    ):
        response = upload(owner_client, content)
        # then each is a 400 naming the problem, and nothing is stored
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid_plugin_package"
        assert body["status"] == 400
        assert expected in body["message"]
    assert not registry.root().joinpath("packages").exists() or not any(
        registry.root().joinpath("packages").iterdir()
    )


def test_a_bad_manifest_field_is_named(owner_client) -> None:
    files = {
        "manifest.yaml": builders.manifest("Bad Name"),
        "main.py": builders.MAIN,
    }
    response = upload(owner_client, builders.package(files))
    assert response.status_code == 400
    assert "manifest.yaml: name" in response.json()["message"]


def test_upload_install_list_uninstall(
    owner_client, client_for, install_now, django_capture_on_commit_callbacks
) -> None:
    # given the tool plugin uploaded
    response = upload(owner_client, builders.tool_plugin())
    assert response.status_code == 200, response.content
    identifier = response.json()["unique_identifier"]
    assert identifier.startswith("tester/texttools:0.0.1@")
    assert response.json()["manifest"]["name"] == "texttools"

    # when it is installed: a task is queued and the list shows the plugin pending
    answer = install(owner_client, identifier, django_capture_on_commit_callbacks)
    assert answer["all_installed"] is False and answer["task_id"]
    listed = owner_client.get(f"{BASE}/list").json()
    assert [(p["plugin_id"], p["status"]) for p in listed["plugins"]] == [("tester/texttools", "pending")]
    assert install_now.queued == [answer["task_id"]]

    # when the worker runs the task
    install_now()

    # then the task and the installation succeeded and the plugin is ready on this machine
    task = owner_client.get(f"{BASE}/tasks/{answer['task_id']}").json()["task"]
    assert task["status"] == "success", task
    assert task["completed_plugins"] == task["total_plugins"] == 1
    listed = owner_client.get(f"{BASE}/list").json()
    assert listed["plugins"][0]["status"] == "success"
    assert listed["plugins"][0]["plugin_unique_identifier"] == identifier
    assert registry.ready_plugin(identifier) is not None

    # installing the same package again installs nothing
    again = install(owner_client, identifier, django_capture_on_commit_callbacks)
    assert again == {"all_installed": True, "task_id": ""}

    # another workspace sees nothing and cannot uninstall it
    other = factories.tenant_factory(name="Other")
    stranger_client = client_for(factories.member_factory(tenant=other, role="owner", email="s@example.com"))
    installation_id = listed["plugins"][0]["installation_id"]
    assert stranger_client.get(f"{BASE}/list").json()["plugins"] == []
    refused = stranger_client.post(
        f"{BASE}/uninstall", {"plugin_installation_id": installation_id}, format="json"
    )
    assert refused.status_code == 404

    # when the owner uninstalls it, it is gone from the list and from this machine's index
    done = owner_client.post(f"{BASE}/uninstall", {"plugin_installation_id": installation_id}, format="json")
    assert done.json() == {"success": True}
    assert owner_client.get(f"{BASE}/list").json()["plugins"] == []
    assert registry.ready_plugin(identifier) is None
    assert not PluginInstallation.objects.exists()


def test_installing_an_identifier_never_uploaded_is_refused(owner_client) -> None:
    response = owner_client.post(
        f"{BASE}/install/pkg",
        {"plugin_unique_identifiers": ["tester/nothing:1.0.0@" + "0" * 64]},
        format="json",
    )
    assert response.status_code == 400
    assert "was not uploaded" in response.json()["message"]


def test_a_plugin_that_fails_to_start_fails_its_task_with_the_reason(
    owner_client, install_now, django_capture_on_commit_callbacks
) -> None:
    # given a plugin whose main module raises on import
    files = {
        "manifest.yaml": builders.manifest("boom", tools=["provider/boom.yaml"]),
        "main.py": "raise RuntimeError('boom at import')\n",
        "requirements.txt": builders.SDK_REQUIREMENT,
        "_assets/icon.svg": builders.ICON,
        "provider/boom.yaml": builders.tool_provider_yaml("boom", []),
        "provider/boom.py": builders.tool_provider_py("Boom"),
    }
    identifier = upload(owner_client, builders.package(files)).json()["unique_identifier"]
    answer = install(owner_client, identifier, django_capture_on_commit_callbacks)
    # when the worker installs it
    install_now()
    # then the task failed with the plugin's own error, and the plugin is not offered
    task = owner_client.get(f"{BASE}/tasks/{answer['task_id']}").json()["task"]
    assert task["status"] == "failed"
    assert "boom at import" in task["plugins"][0]["message"]
    assert owner_client.get(f"{BASE}/list").json()["plugins"][0]["status"] == "failed"
    assert registry.ready_plugin(identifier) is None


@pytest.mark.parametrize("role", ["normal"])
def test_members_who_are_not_admins_cannot_upload(tenant, client_for, role) -> None:
    member = factories.member_factory(tenant=tenant, role=role, email="m@example.com")
    response = upload(client_for(member), builders.tool_plugin())
    assert response.status_code == 403

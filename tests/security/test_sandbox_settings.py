"""How the operator's settings choose the code port, and where its mode is reported."""

from __future__ import annotations

import asyncio

import pytest

from dify_project import code_execution
from workflows.engine import CodeSandboxUnavailable, SandboxCodePort, SubprocessCodePort


def test_the_default_is_the_sandbox_with_egress(settings):
    port = code_execution._build()
    assert isinstance(port, SandboxCodePort)
    assert port.status().available and port.status().egress
    assert port.packages == settings.CODE_SANDBOX_PACKAGES


def test_process_isolation_only_when_asked_for(settings):
    settings.CODE_EXECUTION_ISOLATION = "process"
    assert isinstance(code_execution._build(), SubprocessCodePort)


def test_a_broken_sandbox_fails_closed_instead_of_running_unsandboxed(settings, tmp_path):
    settings.CODE_SANDBOX_PYTHON = str(tmp_path / "missing-python")
    port = code_execution._build()
    with pytest.raises(CodeSandboxUnavailable, match="code_sandbox_unavailable"):
        asyncio.run(port.execute(language="python3", code="def main():\n    return {}\n", inputs={}))


def test_readyz_reports_the_sandbox(client, db):
    body = client.get("/readyz").json()
    assert body["code_sandbox"]["mode"] == "bwrap+seccomp"
    assert body["code_sandbox"]["available"] is True
    assert "python3" in body["code_sandbox"]["languages"]

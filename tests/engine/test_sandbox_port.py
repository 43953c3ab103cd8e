"""The bubblewrap code port on its own (no Django): fail-closed set-ups, JavaScript, the import error."""

from __future__ import annotations

import shutil

import pytest

from workflows.engine import CodeExecutionError, CodeSandboxUnavailable, Ports, SandboxCodePort

from .helpers import run
from .test_nodes_io import code_graph

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


async def test_without_bwrap_the_code_node_fails_closed(tmp_path):
    port = SandboxCodePort(bwrap=str(tmp_path / "no-bwrap"))
    assert port.status().available is False
    with pytest.raises(CodeSandboxUnavailable, match=r"^code_sandbox_unavailable: "):
        await port.execute(language="python3", code="def main():\n    return {}\n", inputs={})
    graph = code_graph(
        "def main(x):\n    return {'result': x}\n", {"result": {"type": "string"}}, x=["start", "x"]
    )
    outcome = await run(graph, inputs={"x": "a"}, ports=Ports(code=port))
    assert outcome.status == "failed"
    assert "code_sandbox_unavailable" in outcome.error


async def test_an_interpreter_that_does_not_run_is_reported_not_bypassed(tmp_path):
    port = SandboxCodePort(python=str(tmp_path / "python3"))
    status = port.status()
    assert not status.available and "does not run" in status.detail
    assert status.describe().startswith("code sandbox: unavailable")
    with pytest.raises(CodeSandboxUnavailable):
        await port.execute(language="python3", code="def main():\n    return {}\n", inputs={})


async def test_a_module_outside_the_list_gets_a_clear_error():
    port = SandboxCodePort()
    with pytest.raises(
        CodeExecutionError, match="module 'definitely_not_here' is not available in the code sandbox"
    ):
        await port.execute(
            language="python3", code="import definitely_not_here\ndef main():\n    return {}\n", inputs={}
        )


async def test_inputs_and_results_keep_their_types():
    port = SandboxCodePort()
    code = (
        "def main(a, b, c):\n    return {'a': a + 1, 'b': b[::-1], 'c': {**c, 'n': None}, 'u': 'héllo ✓'}\n"
    )
    result = await port.execute(
        language="python3", code=code, inputs={"a": 1.5, "b": [1, 2], "c": {"k": True}}
    )
    assert result == {"a": 2.5, "b": [2, 1], "c": {"k": True, "n": None}, "u": "héllo ✓"}


async def test_print_output_never_becomes_the_result():
    port = SandboxCodePort()
    code = "import sys\ndef main():\n    print('{\"result\": 1}')\n    sys.stderr.write('noise')\n    return {'ok': True}\n"
    assert await port.execute(language="python3", code=code, inputs={}) == {"ok": True}


@needs_node
async def test_javascript_runs_sandboxed():
    port = SandboxCodePort(timeout=3)
    assert "javascript" in port.languages
    assert await port.execute(
        language="javascript", code="function main({a}) { return {a: a * 2}; }", inputs={"a": 4}
    ) == {"a": 8}
    escapes = [
        "function main() { return {p: require('fs').readFileSync('/etc/passwd', 'utf8')}; }",
        "function main() { return {o: String(require('child_process').execSync('id'))}; }",
        "function main() { return {e: JSON.stringify(process.env)}; }",
    ]
    for code in escapes[:2]:
        with pytest.raises(CodeExecutionError):
            await port.execute(language="javascript", code=code, inputs={})
    env = await port.execute(language="javascript", code=escapes[2], inputs={})
    assert "PATH" not in env["e"] or "/nonexistent" in env["e"]
    with pytest.raises(CodeExecutionError, match=r"timed out|killed"):
        await port.execute(language="javascript", code="function main() { for (;;) {} }", inputs={})


async def test_a_worker_that_crashes_reports_why():
    port = SandboxCodePort()
    with pytest.raises(CodeExecutionError, match=r"killed|exit"):
        await port.execute(
            language="python3",
            code="import os, signal\ndef main():\n    os.kill(os.getpid(), signal.SIGKILL)\n",
            inputs={},
        )

"""The runtime below the Django side: environments built once, the protocol reader's tolerance of a
peer that writes lines that are not frames, a pool that restarts a dead process."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

from plugins.runtime import bootstrap, sandbox
from plugins.runtime.environment import ensure_environment, environment_key
from plugins.runtime.pool import LaunchSpec, PluginPool
from plugins.runtime.process import PluginRuntimeError
from tests.plugins.conftest import ENVS, PIP_CACHE

# A peer speaking the protocol by hand (no SDK): a heartbeat, a non-frame line on the protocol pipe,
# then for each request one stream chunk echoing it and the end; "die" exits.
PEER = textwrap.dedent("""\
    import json, sys
    def put(frame):
        sys.stdout.write(json.dumps(frame) + "\\n\\n"); sys.stdout.flush()
    put({"event": "heartbeat", "session_id": None, "data": {}})
    sys.stdout.write("this is not a frame\\n"); sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if request["data"].get("action") == "die":
            sys.exit(7)
        if request["data"].get("action") == "fail":
            put({"event": "session", "session_id": request["session_id"],
                 "data": {"type": "error", "data": {"error_type": "ValueError", "message": "bad input"}}})
            continue
        put({"event": "session", "session_id": request["session_id"],
             "data": {"type": "stream", "data": {"echo": request["data"]}}})
        put({"event": "session", "session_id": request["session_id"], "data": {"type": "end", "data": {}}})
    """)


@pytest.fixture
def peer(tmp_path: Path) -> LaunchSpec:
    script = tmp_path / "peer.py"
    script.write_text(PEER)
    return LaunchSpec(
        key="peer", argv=(sys.executable, str(script)), cwd=str(tmp_path), env={"PATH": "/usr/bin:/bin"}
    )


def test_the_reader_drops_non_frames_and_the_pool_restarts_a_dead_peer(peer: LaunchSpec) -> None:
    pool = PluginPool()

    async def scenario() -> None:
        process = await pool.aprocess(peer)
        answers = [item async for item in process.request({"action": "ping", "n": 1}, timeout=5)]
        assert answers == [{"echo": {"action": "ping", "n": 1}}]
        assert process.stray_lines == 1
        with pytest.raises(PluginRuntimeError) as failed:
            _ = [item async for item in process.request({"action": "fail"}, timeout=5)]
        assert (failed.value.error_type, failed.value.message) == ("ValueError", "bad input")
        with pytest.raises(PluginRuntimeError) as died:
            _ = [item async for item in process.request({"action": "die"}, timeout=5)]
        assert "exited (code 7)" in died.value.message
        again = await pool.aprocess(peer)
        assert again is not process and again.alive
        assert [i async for i in again.request({"action": "ping"}, timeout=5)] == [
            {"echo": {"action": "ping"}}
        ]

    try:
        asyncio.run(scenario())
    finally:
        pool.stop_all()
    assert pool.starts["peer"] == 2


def test_an_environment_is_built_once_per_requirement_set(tmp_path: Path) -> None:
    # given the SDK requirement (its environment may already exist from an earlier test or session)
    requirements = "dify_plugin==0.7.4\n"
    first = ensure_environment(root=ENVS, requirements=requirements, pip_args=["--cache-dir", str(PIP_CACHE)])
    marker = (first / ".ready").stat().st_mtime_ns
    # when the same requirements are asked for again (order and blank lines aside)
    second = ensure_environment(root=ENVS, requirements="\n" + requirements + "\n", pip_args=["--bad-flag"])
    # then nothing is installed again: the same environment, untouched (pip never ran with the bad flag)
    assert second == first and (second / ".ready").stat().st_mtime_ns == marker
    assert (first / "bin" / "python").exists()
    assert environment_key("b==1\na==2", "py") == environment_key("a==2\nb==1\n", "py")


def test_the_sandbox_unshares_the_network_and_binds_only_the_egress_socket(tmp_path: Path) -> None:
    # given the broker's socket on the host
    argv = sandbox.sandboxed_argv(
        bwrap="bwrap",
        python=sys.executable,
        bootstrap=str(tmp_path / "bootstrap.py"),
        entrypoint="main",
        env_dir=str(tmp_path),
        source_dir=str(tmp_path),
        home=str(tmp_path),
        env={"PATH": "/usr/bin"},
        egress_socket=str(tmp_path / "egress.sock"),
    )
    # then the plugin gets a network namespace of its own, and the socket where the bootstrap looks
    assert "--unshare-net" in argv
    at = argv.index(str(tmp_path / "egress.sock"))
    assert argv[at - 1 : at + 2] == ["--ro-bind", str(tmp_path / "egress.sock"), sandbox.EGRESS_INSIDE]
    assert argv[argv.index(sandbox.EGRESS_ENV) + 1] == sandbox.EGRESS_INSIDE
    assert bootstrap.EGRESS_ENV == sandbox.EGRESS_ENV  # the bootstrap imports nothing of ours: kept in step
    # and without one, no proxy is set up at all
    offline = sandbox.sandboxed_argv(
        bwrap="bwrap",
        python=sys.executable,
        bootstrap="b",
        entrypoint="main",
        env_dir="e",
        source_dir="s",
        home="h",
        env={},
    )
    assert "--unshare-net" in offline and sandbox.EGRESS_ENV not in offline

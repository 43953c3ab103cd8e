"""Plugins under bubblewrap, with the code sandbox's layout helpers (`workflows.engine.sandbox.layout`):
the system libraries and the interpreter bound read-only at their own paths, plus the plugin's
environment and sources (read-only), its home (writable: the plugin's own files) and a private /tmp;
nothing else of the host: no platform code or settings, no database file, no other plugin.

The network namespace is unshared: a plugin has only its own loopback, so the platform's peers on the
host (PostgreSQL, Redis, the API itself, anything on 127.0.0.1 or the private network) cannot be reached
directly. With an egress socket (PLUGIN_EGRESS, the default) the code sandbox's broker
(`workflows.engine.sandbox.egress.EgressBroker`) is bound in at `EGRESS_INSIDE`; our bootstrap starts a
forwarder on the plugin's loopback and points HTTP(S)_PROXY at it, so HTTP and HTTPS (requests, httpx,
urllib) go out under the guarded HTTP client's rules (SSRF_*: public addresses, plus what the operator's
allow-lists admit). Anything else (raw TCP, UDP, DNS) has nowhere to go. Without an egress socket the
plugin has no network at all.

What still differs from the code sandbox, and why: the PID namespace is not unshared (the SDK exits when
its parent's pid is 1, which it would be inside one). The process is killed with its whole process group
by the pool, and the SDK exits by itself when we die.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping

from workflows.engine.sandbox.layout import python_interpreter, system_binds

BOOTSTRAP_INSIDE = "/plugin-runtime/bootstrap.py"
EGRESS_INSIDE = "/plugin-runtime/egress.sock"
EGRESS_ENV = "DIFY_PLUGIN_EGRESS_SOCKET"  # read (and removed) by the bootstrap


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def sandboxed_argv(
    *,
    bwrap: str,
    python: str,
    bootstrap: str,
    entrypoint: str,
    env_dir: str,
    source_dir: str,
    home: str,
    env: Mapping[str, str],
    egress_socket: str | None = None,
) -> list[str]:
    """The bwrap command line running the plugin's interpreter on our bootstrap in its directory, in a
    network namespace of its own; `egress_socket` (the broker's Unix socket) is its only way out."""
    interpreter = python_interpreter(python)
    args = [
        bwrap,
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-net",
        "--unshare-cgroup-try",
        "--new-session",
        "--hostname",
        "plugin",
        "--clearenv",
        "--cap-drop",
        "ALL",
    ]
    for name, value in env.items():
        args += ["--setenv", name, value]
    if egress_socket:
        args += ["--setenv", EGRESS_ENV, EGRESS_INSIDE]
    # The private /tmp first: binds below may live under the host's /tmp and must stay visible.
    args += ["--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108 - the sandbox's own tmpfs
    args += system_binds()
    for path in interpreter.paths:
        args += ["--ro-bind", path, path]
    for path in ("/etc/hosts", "/etc/nsswitch.conf"):  # "localhost" still names the plugin's own loopback
        args += ["--ro-bind-try", path, path]
    args += ["--ro-bind", env_dir, env_dir, "--ro-bind", source_dir, source_dir]
    args += ["--ro-bind", bootstrap, BOOTSTRAP_INSIDE, "--bind", home, home]
    if egress_socket:
        args += ["--ro-bind", egress_socket, EGRESS_INSIDE]
    args += ["--chdir", source_dir, "--"]
    return [*args, python, BOOTSTRAP_INSIDE, entrypoint]

"""Plugins under bubblewrap, with the code sandbox's layout helpers (`workflows.engine.sandbox.layout`):
the system libraries and the interpreter bound read-only at their own paths, plus the plugin's
environment and sources (read-only), its home (writable: the plugin's own files) and a private /tmp;
nothing else of the host: no platform code or settings, no database file, no other plugin.

What differs from the code sandbox, and why: the network namespace is shared (plugins talk to model and
tool APIs; the guarded egress broker does not serve plugins yet), and the PID namespace is not
unshared (the SDK exits when its parent's pid is 1, which it would be inside one). The process is killed
with its whole process group by the pool, and the SDK exits by itself when we die.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping

from workflows.engine.sandbox.layout import python_interpreter, system_binds

BOOTSTRAP_INSIDE = "/plugin-runtime/bootstrap.py"


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
) -> list[str]:
    """The bwrap command line running the plugin's interpreter on our bootstrap in its directory."""
    interpreter = python_interpreter(python)
    args = [
        bwrap,
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-uts",
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
    # The private /tmp first: binds below may live under the host's /tmp and must stay visible.
    args += ["--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108 - the sandbox's own tmpfs
    args += system_binds()
    for path in interpreter.paths:
        args += ["--ro-bind", path, path]
    for path in ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"):  # names resolve as on the host
        args += ["--ro-bind-try", path, path]
    args += ["--ro-bind", env_dir, env_dir, "--ro-bind", source_dir, source_dir]
    args += ["--ro-bind", bootstrap, BOOTSTRAP_INSIDE, "--bind", home, home]
    args += ["--chdir", source_dir, "--"]
    return [*args, python, BOOTSTRAP_INSIDE, entrypoint]

"""What a sandbox sees: the interpreter, its standard library, the shared libraries they load, the
user-code packages, a scratch tmpfs. Everything is bound read-only at the host's own paths (so the
interpreter finds its prefix as usual); nothing else of the host exists inside: no /etc, no /home,
no /proc, no platform code, no platform venv, no database, no sockets but the egress broker's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

SCRATCH = "/tmp"  # noqa: S108 - the sandbox's own private tmpfs, not the host's /tmp
_SYSTEM_LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64")
_PROBE = (
    "import json, sys, sysconfig; p = sysconfig.get_paths(); "
    "print(json.dumps({'executable': sys.executable, 'version': '%d.%d' % sys.version_info[:2], "
    "'dirs': sorted({p['stdlib'], p['platstdlib'], sysconfig.get_config_var('DESTSHARED') or p['platstdlib']})}))"
)


@dataclass(frozen=True, slots=True)
class Interpreter:
    """An interpreter and the host paths it needs, all bound read-only."""

    executable: str
    version: str = ""
    paths: tuple[str, ...] = field(default_factory=tuple)


@cache
def python_interpreter(executable: str) -> Interpreter:
    """Ask the interpreter where its standard library lives (raises OSError/ValueError if it cannot run)."""
    # The operator's configured interpreter, run with a fixed program: no untrusted input here.
    out = subprocess.run(  # noqa: S603
        [executable, "-I", "-S", "-c", _PROBE], capture_output=True, text=True, timeout=20, check=True
    ).stdout
    info = json.loads(out)
    real = os.path.realpath(info["executable"])
    paths = {real, *(d for d in info["dirs"] if Path(d).is_dir())}
    return Interpreter(real, info["version"], tuple(sorted(paths | _libraries_of(real))))


@cache
def node_interpreter(executable: str) -> Interpreter:
    real = os.path.realpath(executable)
    return Interpreter(real, "", tuple(sorted({real} | _libraries_of(real))))


def _libraries_of(executable: str) -> set[str]:
    """Shared libraries outside the system library directories (a pyenv build's libpython, say)."""
    ldd = shutil.which("ldd")
    if not ldd:
        return set()
    try:
        out = subprocess.run([ldd, executable], capture_output=True, text=True, timeout=10).stdout  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return set()
    found = set()
    for line in out.splitlines():
        parts = line.split("=>")
        target = (parts[1] if len(parts) > 1 else parts[0]).strip().split(" (")[0].strip()
        if target.startswith("/") and not target.startswith((*_SYSTEM_LIB_DIRS, "/lib/", "/usr/lib/")):
            found.add(os.path.realpath(target))
    return found


def system_binds() -> list[str]:
    """bwrap arguments for the system library directories (and merged-/usr symlinks) that exist."""
    args: list[str] = []
    for top in ("/lib", "/lib64"):
        if Path(top).is_symlink():
            args += ["--symlink", str(Path(top).readlink()), top]
    for directory in _SYSTEM_LIB_DIRS:
        if Path(directory).is_dir() and not Path(directory).is_symlink():
            args += ["--ro-bind", directory, directory]
    for loader_dir in ("/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu"):
        if Path(loader_dir).is_dir() and not Path("/lib").is_symlink():
            args += ["--ro-bind", loader_dir, loader_dir]
    if Path("/etc/ssl/certs").is_dir():  # CA certificates for HTTPS through the egress broker
        args += ["--ro-bind", os.path.realpath("/etc/ssl/certs"), "/etc/ssl/certs"]
    return args


def bwrap_argv(
    bwrap: str,
    interpreter: Interpreter,
    *,
    seccomp_fd: int,
    scratch_bytes: int,
    packages: str | None = None,
    egress_socket: str | None = None,
) -> list[str]:
    """The bwrap command line up to (not including) the interpreter's own argv."""
    args = [
        bwrap,
        "--unshare-all",  # user, ipc, pid, net (loopback only), uts, cgroup
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        "--clearenv",
        "--setenv",
        "HOME",
        SCRATCH,
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "PATH",
        "/nonexistent",
        # Numeric libraries size thread pools by the host's cores; one thread keeps them inside the
        # address-space limit on any machine. matplotlib wants a writable config dir.
        "--setenv",
        "OPENBLAS_NUM_THREADS",
        "1",
        "--setenv",
        "OMP_NUM_THREADS",
        "1",
        "--setenv",
        "MPLCONFIGDIR",
        SCRATCH,
        "--cap-drop",
        "ALL",
    ]
    args += system_binds()
    for path in interpreter.paths:
        args += ["--ro-bind", path, path]
    if packages:
        args += ["--ro-bind", packages, "/sandbox/packages"]
    if egress_socket:
        args += ["--ro-bind", egress_socket, "/sandbox/egress.sock"]
    args += ["--dev", "/dev", "--size", str(scratch_bytes), "--tmpfs", SCRATCH, "--chdir", SCRATCH]
    args += ["--remount-ro", "/", "--seccomp", str(seccomp_fd), "--"]
    return args


def packages_listing(packages: str | None) -> str:
    """Top-level distributions installed for user code, for the error a missing import gets."""
    if not packages or not Path(packages).is_dir():
        return ""
    names = sorted(p.name.split("-")[0].lower() for p in Path(packages).glob("*.dist-info") if p.is_dir())
    return ", ".join(names)

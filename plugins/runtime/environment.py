"""A virtual environment per requirement set: `python -m venv`, then pip installs the plugin's
`requirements.txt` from the registry. Built once: environments are keyed by the interpreter and the
requirements' text (so a plugin version, or two plugins pinning the same SDK, never install twice), a
file lock keeps two workers from building the same one, and a `.ready` marker is written last (a build
killed halfway is rebuilt, never used)."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


class EnvironmentBuildError(RuntimeError):
    pass


def environment_key(requirements: str, python: str) -> str:
    lines = sorted(
        {line.strip() for line in requirements.splitlines() if line.strip() and not line.startswith("#")}
    )
    return hashlib.sha256(("\n".join([python, *lines])).encode()).hexdigest()[:32]


def environment_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def ensure_environment(
    *,
    root: Path,
    requirements: str,
    python: str = sys.executable,
    pip_args: Sequence[str] = (),
    timeout: float = 900.0,
) -> Path:
    """The ready environment for these requirements, building it if needed (blocking: minutes at worst).
    Raises EnvironmentBuildError with the end of pip's output."""
    root.mkdir(parents=True, exist_ok=True)
    env_dir = root / environment_key(requirements, python)
    if (env_dir / ".ready").is_file():
        return env_dir
    with (root / f"{env_dir.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (env_dir / ".ready").is_file():  # another worker finished it while we waited
            return env_dir
        shutil.rmtree(env_dir, ignore_errors=True)
        _run([python, "-m", "venv", str(env_dir)], timeout, "creating the virtual environment")
        requirements_file = env_dir / "requirements.txt"
        requirements_file.write_text(requirements)
        if requirements.strip():
            _run(
                [
                    str(environment_python(env_dir)),
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "-r",
                    str(requirements_file),
                    *pip_args,
                ],
                timeout,
                "installing the plugin's requirements",
            )
        (env_dir / ".ready").write_text("ok\n")
    return env_dir


def _run(argv: list[str], timeout: float, what: str) -> None:
    try:
        # The interpreter is the operator's; the requirements file is data pip reads, not a command.
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise EnvironmentBuildError(f"{what} took longer than {timeout:.0f}s") from None
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-6:])
        raise EnvironmentBuildError(f"{what} failed: {tail[:1500]}")

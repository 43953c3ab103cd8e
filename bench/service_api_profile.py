"""Profiling the platform's server for bench/service_api.py.

py-spy (preferred) attaches to the running server and samples every thread, so the asgiref thread that
runs the synchronous database work is seen beside the event loop. Without py-spy the bench restarts the
server under cProfile, which sees the event-loop thread only.

The summary groups samples by ``file:function`` (lines folded) and prints each function's own share
(the samples where it is the innermost frame) and inclusive share (anywhere on the stack), of all
samples taken while the server was busy.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def py_spy() -> str | None:
    """py-spy from $PY_SPY, from PATH, or beside this Python."""
    candidates = [
        os.environ.get("PY_SPY"),
        shutil.which("py-spy"),
        str(Path(sys.executable).parent / "py-spy"),
    ]
    return next((c for c in candidates if c and Path(c).is_file()), None)


class PySpy:
    def __init__(self, binary: str, pid: int, out: Path, rate: int = 250) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--threads",
                "--gil",  # only the thread holding the GIL: where the CPU goes
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def stop(self) -> str:
        """Stop sampling (py-spy writes its file on SIGINT); returns its messages."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
        return err.decode(errors="replace").strip()


def _frame_key(frame: str) -> str:
    """``func (path/file.py:123)`` -> ``path/file.py:func`` with the project or site-packages prefix cut."""
    name, _, location = frame.rpartition(" (")
    path = location.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3.11/", f"{ROOT}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{name}" if name else frame


# Frames on every stack of a thread (they say nothing about where the time goes).
PLUMBING = (
    "<frozen runpy>",
    "click/",
    "uvicorn/main.py",
    "uvicorn/__main__.py",
    "uvicorn/_compat.py",
    "uvicorn/server.py",
    "asyncio/runners.py",
    "threading.py",
    "concurrent/futures/thread.py",
    "asgiref/sync.py",
    "asgiref/current_thread_executor.py",
)
PROJECT = ("apps/", "providers/", "dify_project/", "workflows/", "accounts/", "files/", "knowledge/")


def summarize(raw: Path, top: int = 20) -> list[str]:
    """Own and inclusive shares by function, and the split between threads."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        keys = [_frame_key(f) for f in frames if not f.startswith(("thread ", "process "))]
        if not keys:
            continue
        total += count
        threads[_thread_kind(keys)] += count
        own[keys[-1]] += count
        for key in set(keys):
            inclusive[key] += count
    if not total:
        return ["  (no samples)"]
    lines = [
        f"  {total} samples while busy; by thread: "
        + ", ".join(f"{k} {v / total:.0%}" for k, v in threads.most_common())
    ]
    lines.append(f"  own time (innermost frame), top {top}:")
    lines += [f"    {v / total:6.1%}  {k}" for k, v in own.most_common(top)]
    lines.append(
        f"  inclusive time (anywhere on the stack; entry-point and thread plumbing left out), top {top}:"
    )
    shown = [(k, v) for k, v in inclusive.most_common() if not k.startswith(PLUMBING)][:top]
    lines += [f"    {v / total:6.1%}  {k}" for k, v in shown]
    lines.append(f"  inclusive time of the project's own code, top {top}:")
    ours = [(k, v) for k, v in inclusive.most_common() if k.startswith(PROJECT)][:top]
    lines += [f"    {v / total:6.1%}  {k}" for k, v in ours]
    return lines


def _thread_kind(keys: list[str]) -> str:
    """Event loop, asgiref's sync thread (database work), or another worker thread."""
    joined = " ".join(keys)
    if "asyncio/base_events.py:run_forever" in joined or "uvloop" in joined or "uvicorn/server.py" in joined:
        return "event loop"
    if "asgiref/sync.py" in joined or "asgiref/current_thread_executor.py" in joined:
        return "sync_to_async thread"
    if "concurrent/futures/thread.py" in joined:
        return "executor thread"
    return "other"


def print_cprofile(path: Path, top: int = 25) -> None:
    import pstats

    if not path.exists():
        print(f"  (no profile written at {path})")
        return
    print(f"  cProfile (event-loop thread only), top {top} by own time, then by cumulative time:")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)

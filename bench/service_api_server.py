"""What-if launcher for bench/service_api.py: the platform's server with a setting changed in memory.

    .venv/bin/python bench/service_api_server.py [--model-pool N] [--switch-interval S] -- <uvicorn args>

``--model-pool N`` replaces the model runtime's outbound connection limit (``providers/runtime/http.py``,
``DEFAULT_LIMITS``: 256 connections per event loop). ``--switch-interval S`` sets the interpreter's
GIL switch interval (default 0.005 s), to see how much latency comes from threads waiting for the GIL.
Both apply before the server starts, to measure what a fix would give. Nothing in the repository
changes; the bench's default runs never use this.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def set_model_pool(size: int) -> None:
    import httpx2

    from providers.runtime import http

    limits = httpx2.Limits(max_connections=size, max_keepalive_connections=size, keepalive_expiry=30.0)
    http.DEFAULT_LIMITS = limits
    http.HttpPool.__init__.__kwdefaults__["limits"] = limits  # the default was bound at definition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-pool", type=int, default=0, help="max outbound model connections")
    parser.add_argument("--switch-interval", type=float, default=0.0, help="sys.setswitchinterval(S)")
    parser.add_argument("uvicorn", nargs=argparse.REMAINDER, help="-- then uvicorn's arguments")
    args = parser.parse_args()
    if args.model_pool:
        set_model_pool(args.model_pool)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    import uvicorn.main

    sys.argv = ["uvicorn", *[a for a in args.uvicorn if a != "--"]]
    uvicorn.main.main()


if __name__ == "__main__":
    main()

"""A slow model for bench/service_api.py: ``tests.support.fake_llm`` whose default answer streams a long
text with a pause between words, so that thousands of streams can stay open at once.

    .venv/bin/python bench/service_api_fake_llm.py --port 8901 --words 12 --chunk-delay 2

Scripted replies (``push``) still win; only the unscripted default changes. The listen backlog is
raised so that a burst of new connections from the platform is not dropped.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fake_llm import LOREM, FakeLLMServer, Reply  # noqa: E402


class SlowFakeLLM(FakeLLMServer):
    def __init__(self, *, words: int, chunk_delay: float, backlog: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.default_reply = Reply(
            text=" ".join(LOREM[i % len(LOREM)] for i in range(words)), chunk_delay=chunk_delay
        )
        self.backlog = backlog

    def _take(self, route: str) -> Reply | None:
        return super()._take(route) or self.default_reply

    def _bind(self) -> socket.socket:
        sock = super()._bind()
        sock.listen(self.backlog)
        return sock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--words", type=int, default=12, help="words in each answer, one SSE chunk each")
    parser.add_argument("--chunk-delay", type=float, default=2.0, help="seconds between chunks")
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args()
    server = SlowFakeLLM(port=args.port, words=args.words, chunk_delay=args.chunk_delay, backlog=args.backlog)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""Ports with the engine's own HTTP and code implementations, for running the engine on its own (tests,
benchmarks, the conformance runner). Kept apart from `ports` so the interfaces import no adapter."""

from __future__ import annotations

from typing import Any

from .http_client import HttpxHttpPort
from .ports import Ports
from .sandbox import SandboxCodePort


def default_ports(**overrides: Any) -> Ports:
    """The bubblewrap code sandbox and the HTTP client; models, tools and the rest stay unset."""
    ports = Ports(http=HttpxHttpPort(), code=SandboxCodePort())
    return ports.replace(**overrides) if overrides else ports

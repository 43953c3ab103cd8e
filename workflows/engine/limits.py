"""Run limits, with Dify's defaults (`api/configs`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CodeLimits:
    """Validation of code-node results (Dify's CODE_* settings)."""

    max_string_length: int = 400_000
    max_number: int = 2**63 - 1
    min_number: int = -(2**63 - 1)
    max_precision: int = 20
    max_depth: int = 5
    max_number_array_length: int = 1000
    max_string_array_length: int = 30
    max_object_array_length: int = 30


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one run.

    * `max_steps`: node executions (every node start counts, container bodies included);
      exceeding it stops the run with "Maximum execution steps exceeded: N > max".
    * `max_time`: wall-clock seconds for the whole run.
    * `max_depth`: nested workflow calls (a workflow invoked as a tool by another workflow);
      a run whose `call_depth` exceeds it fails before any node runs.
    * `max_parallel`: I/O nodes (models, HTTP, code, tools...) running at once in one run.
    """

    max_steps: int = 500
    max_time: float = 1200.0
    max_depth: int = 5
    max_parallel: int = 10
    template_max_length: int = 400_000
    http_max_text_size: int = 1024 * 1024
    http_max_binary_size: int = 10 * 1024 * 1024
    http_timeout: tuple[float, float, float] = (10.0, 600.0, 600.0)  # connect, read, write
    code: CodeLimits = field(default_factory=CodeLimits)

"""Conformance runner for `../shared/conformance` (Django-free; `manage.py workflow_conformance` wraps it)."""

from .cases import generate_texts
from .runner import DEFAULT_SHARED, CaseResult, Report, main, run_case, run_conformance
from .setups import RecordedHttpPort

__all__ = [
    "DEFAULT_SHARED",
    "CaseResult",
    "RecordedHttpPort",
    "Report",
    "generate_texts",
    "main",
    "run_case",
    "run_conformance",
]

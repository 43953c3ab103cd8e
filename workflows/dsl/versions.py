"""DSL versions and Dify's compatibility rule (``services/dsl_version.py::check_version_compatibility``)."""

from __future__ import annotations

import re
from enum import StrEnum

# Dify's api/constants/dsl_version.py (see ../shared/contract/workflow.md section 0).
CURRENT_DSL_VERSION = "0.6.0"
DEFAULT_IMPORTED_VERSION = "0.1.0"

_VERSION = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?([-+.].*)?\s*$")


class ImportStatus(StrEnum):
    COMPLETED = "completed"
    COMPLETED_WITH_WARNINGS = "completed-with-warnings"
    PENDING = "pending"
    FAILED = "failed"


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.match(text or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)


def check_version_compatibility(imported: str, current: str = CURRENT_DSL_VERSION) -> ImportStatus:
    """Newer than current, or an older major: pending (ask for confirmation). Older minor: completed with
    warnings. Otherwise completed. Unparsable: failed."""
    imported_v, current_v = parse_version(imported), parse_version(current)
    if imported_v is None or current_v is None:
        return ImportStatus.FAILED
    if imported_v > current_v:
        return ImportStatus.PENDING
    if imported_v[0] < current_v[0]:
        return ImportStatus.PENDING
    if imported_v[1] < current_v[1]:
        return ImportStatus.COMPLETED_WITH_WARNINGS
    return ImportStatus.COMPLETED

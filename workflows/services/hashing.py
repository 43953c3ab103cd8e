"""The draft's content hash, computed as Dify's ``Workflow.unique_hash``.

``sha256(json.dumps({"graph", "features"}, sort_keys=True) + "None")``: Dify hashes text through
``generate_text_hash``, which appends ``"None"``. Keeping the formula lets a Dify front end compare hashes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def workflow_hash(*, graph: Mapping[str, Any] | None, features: Mapping[str, Any] | None) -> str:
    entity = {"graph": graph or {}, "features": features or {}}
    text = json.dumps(entity, sort_keys=True) + "None"
    return hashlib.sha256(text.encode()).hexdigest()

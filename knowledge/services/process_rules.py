"""Checking a document's process rule (how it is cleaned and split), with Dify's messages. Used both when a
document is added (`documents`) and when it is re-split (`indexing`), so it sits below them."""

from __future__ import annotations

from typing import Any

from knowledge import exceptions as errors
from knowledge import split

PROCESS_RULE_MODES = ("automatic", "custom", "hierarchical")


def validate_process_rule(rule: Any) -> tuple[str, dict[str, Any] | None]:
    """(mode, rules) of a process_rule argument, with Dify's messages for what is wrong."""
    if not isinstance(rule, dict):
        raise errors.InvalidParam("Process rule is invalid.", params="process_rule")
    mode = rule.get("mode")
    if not mode:
        raise errors.InvalidParam("Process rule mode is required", params="process_rule.mode")
    if mode not in PROCESS_RULE_MODES:
        raise errors.InvalidParam("Process rule mode is invalid", params="process_rule.mode")
    if mode == "automatic":
        return mode, dict(split.AUTOMATIC_RULES)
    rules = rule.get("rules")
    if not isinstance(rules, dict):
        raise errors.InvalidParam("Process rule rules is required", params="process_rule.rules")
    pre = rules.get("pre_processing_rules", [])
    if not isinstance(pre, list) or any(not isinstance(r, dict) or "id" not in r for r in pre):
        raise errors.InvalidParam("Process rule pre_processing_rules is invalid", params="process_rule.rules")
    # Deduplicate by id, the last one winning, as Dify does.
    rules["pre_processing_rules"] = list({r["id"]: r for r in pre}.values())
    try:
        if mode == "custom" or rules.get("parent_mode", "paragraph") != "full-doc":
            split.validate_segmentation(rules.get("segmentation"))
        if mode == "hierarchical":
            split.validate_segmentation(rules.get("subchunk_segmentation"), what="subchunk_segmentation")
    except ValueError as exc:
        raise errors.InvalidParam(str(exc), params="process_rule.rules") from None
    return mode, rules

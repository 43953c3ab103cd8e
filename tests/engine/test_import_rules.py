"""The engine is a library: nothing under workflows/engine/ may import Django or another project app."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "workflows" / "engine"
FORBIDDEN = (
    "django",
    "rest_framework",
    "channels",
    "celery",
    "dify_project",
    "accounts",
    "apps",
    "knowledge",
    "providers",
)


def forbidden_imports(source: str, module_path: Path) -> list[str]:
    """Absolute imports of forbidden packages, other `workflows.*` modules, or relative imports leaving the engine."""
    depth_inside = len(module_path.relative_to(ENGINE).parts) - 1  # 0 for workflows/engine/x.py
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > depth_inside:
                    found.append(f"relative import leaves the engine package (level {node.level})")
                continue
            names = [node.module or ""]
        for name in names:
            root = name.split(".")[0]
            if root in FORBIDDEN or (root == "workflows" and not name.startswith("workflows.engine")):
                found.append(name)
    return found


def test_no_module_under_the_engine_imports_django_or_another_app():
    modules = sorted(ENGINE.rglob("*.py"))
    assert len(modules) >= 20  # the scan really covers the package
    violations = {
        str(path.relative_to(ENGINE)): bad
        for path in modules
        if (bad := forbidden_imports(path.read_text(encoding="utf-8"), path))
    }
    assert violations == {}


def test_the_scanner_catches_violations():
    fake = ENGINE / "nodes" / "fake.py"
    assert forbidden_imports("import django.conf", fake) == ["django.conf"]
    assert forbidden_imports("from rest_framework import serializers", fake) == ["rest_framework"]
    assert forbidden_imports("from workflows.models import Workflow", fake) == ["workflows.models"]
    assert forbidden_imports("def f():\n    import celery\n", fake) == ["celery"]
    assert forbidden_imports("from ...apps import x", fake) == [
        "relative import leaves the engine package (level 3)"
    ]
    assert forbidden_imports("from ..graph import parse_graph\nfrom workflows.engine import pool", fake) == []

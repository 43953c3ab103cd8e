"""Dify's app DSL (YAML): parse and check a file, write one. The app-level import and export that store
and read apps live in ``apps.services.app_dsl`` (apps depend on workflows, not the reverse)."""

from workflows.dsl.document import DSL_MAX_SIZE, DslDocument, DslError, parse_dsl
from workflows.dsl.export import dump_yaml, workflow_block, workflow_dependencies
from workflows.dsl.versions import CURRENT_DSL_VERSION, ImportStatus, check_version_compatibility

__all__ = [
    "CURRENT_DSL_VERSION",
    "DSL_MAX_SIZE",
    "DslDocument",
    "DslError",
    "ImportStatus",
    "check_version_compatibility",
    "dump_yaml",
    "parse_dsl",
    "workflow_block",
    "workflow_dependencies",
]

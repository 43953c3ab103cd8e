"""Tool errors.

Two families, as in ``providers.exceptions``:

* run-time errors (plain exceptions) raised while invoking a tool. The workflow engine fails the tool
  node with the message and uses the class name as ``error_type``, so they carry Dify's names
  (``ToolInvokeError``, ``ToolProviderNotFoundError``, ...);
* console errors (``ApiError`` subclasses) with Dify's codes, raised by the services and selectors.
"""

from __future__ import annotations

from dify_project.api.errors import InvalidParam, NotFound


class ToolError(Exception):
    """Base of the run-time tool errors."""


class ToolProviderNotFoundError(ToolError):
    """No such provider in this workspace (or no such builtin provider)."""


class ToolNotFoundError(ToolError):
    """The provider exists but has no tool of that name."""


class ToolProviderNotInstalledError(ToolError):
    """The provider type (plugin, workflow, MCP) is not available on this platform yet."""


class ToolParameterValidationError(ToolError):
    """A parameter is missing or cannot be converted to its declared type."""


class ToolProviderCredentialValidationError(ToolError):
    """The provider's credentials are incomplete or malformed."""


class ToolInvokeError(ToolError):
    """The tool ran and failed: an upstream HTTP error, a timeout, a blocked destination, ..."""


class ToolApiSchemaError(ToolError):
    """An OpenAPI / Swagger document that cannot be turned into tools."""


# --- console ---------------------------------------------------------------------------------------------


class ToolProviderNotFound(NotFound):
    message = "Tool provider not found."


class ToolNotFound(NotFound):
    message = "Tool not found."


class ApiToolProviderExists(InvalidParam):
    message = "Tool provider already exists."


class InvalidToolSchema(InvalidParam):
    message = "invalid schema"

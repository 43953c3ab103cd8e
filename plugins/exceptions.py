"""Errors of the plugins app; the project's handler maps each to Dify's error body."""

from __future__ import annotations

from dify_project.api.errors import ApiError


class PluginError(ApiError):
    status = 400
    code = "plugin_error"


class InvalidPluginPackage(PluginError):
    """The upload is not a `.difypkg` we can install: not a zip, no manifest, a bad field."""

    code = "invalid_plugin_package"


class PluginPackageTooLarge(PluginError):
    status = 413
    code = "file_too_large"


class PluginNotFound(PluginError):
    status = 404
    code = "not_found"


class PluginAlreadyInstalled(PluginError):
    code = "plugin_installed"

"""Reading a `.difypkg`: a zip holding `manifest.yaml`, the provider and tool YAML it names, Python
sources and `requirements.txt`. Verifying happens here, before anything is stored or run: the manifest's
fields (Dify's `PluginConfiguration`: author, name, version, type, meta.runner), every YAML it names
present and parseable, no member escaping the package directory. No Django in here.

The declaration we keep (`PluginDeclaration`) is what the daemon would learn from the plugin: the
manifest plus the model providers (with their predefined models) and tool providers (with their tools).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

_AUTHOR = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NAME = re.compile(r"^[a-z0-9_-]{1,128}$")
_MAX_MEMBERS = 5000
_MAX_UNPACKED = 200 << 20


class PackageError(ValueError):
    """The package cannot be installed; the message says which file and field."""


@dataclass(slots=True)
class PluginDeclaration:
    manifest: dict[str, Any]
    checksum: str  # sha256 of the package bytes
    models: list[dict[str, Any]] = field(default_factory=list)  # provider YAML, `models` filled in
    tools: list[dict[str, Any]] = field(default_factory=list)  # provider YAML, `tools` filled in
    requirements: str = ""

    @property
    def author(self) -> str:
        return str(self.manifest.get("author") or "")

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def plugin_id(self) -> str:
        """Dify's plugin id: `author/name`."""
        return f"{self.author}/{self.name}"

    @property
    def unique_identifier(self) -> str:
        """Dify's form: `author/name:version@checksum`."""
        return f"{self.plugin_id}:{self.version}@{self.checksum}"

    @property
    def entrypoint(self) -> str:
        return str(self.manifest["meta"]["runner"]["entrypoint"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest,
            "checksum": self.checksum,
            "models": self.models,
            "tools": self.tools,
            "requirements": self.requirements,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PluginDeclaration:
        return cls(
            manifest=dict(data["manifest"]),
            checksum=str(data["checksum"]),
            models=list(data.get("models") or []),
            tools=list(data.get("tools") or []),
            requirements=str(data.get("requirements") or ""),
        )


def _yaml(archive: zipfile.ZipFile, path: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(archive.read(path))
    except KeyError:
        raise PackageError(f"{path}: named by the manifest but missing from the package") from None
    except yaml.YAMLError as exc:
        raise PackageError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise PackageError(f"{path}: must be a YAML mapping")
    return data


def _require(condition: Any, message: str) -> None:
    if not condition:
        raise PackageError(message)


def _check_manifest(manifest: Mapping[str, Any]) -> None:
    _require(manifest.get("type") == "plugin", "manifest.yaml: type must be 'plugin'")
    _require(
        _AUTHOR.match(str(manifest.get("author") or "")),
        "manifest.yaml: author must match [a-zA-Z0-9_-]{1,64}",
    )
    _require(_NAME.match(str(manifest.get("name") or "")), "manifest.yaml: name must match [a-z0-9_-]{1,128}")
    try:
        Version(str(manifest.get("version")))
    except InvalidVersion:
        raise PackageError(f"manifest.yaml: version {manifest.get('version')!r} is not a version") from None
    for key in ("label", "description", "icon", "created_at", "resource", "plugins", "meta"):
        _require(manifest.get(key) is not None, f"manifest.yaml: {key} is required")
    meta = manifest["meta"]
    _require(
        isinstance(meta, Mapping) and isinstance(meta.get("runner"), Mapping),
        "manifest.yaml: meta.runner is required",
    )
    runner = meta["runner"]
    _require(runner.get("language") == "python", "manifest.yaml: meta.runner.language must be 'python'")
    _require(
        re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", str(runner.get("entrypoint") or "")),
        "manifest.yaml: meta.runner.entrypoint must name a Python module",
    )
    _require(isinstance(manifest["plugins"], Mapping), "manifest.yaml: plugins must be a mapping")


def _expand(names: list[str], members: list[str]) -> list[str]:
    """Dify's `predefined: ["models/llm/*.yaml"]` globs, in sorted order."""
    found: list[str] = []
    for pattern in names:
        matched = sorted(m for m in members if fnmatch.fnmatch(m, str(pattern)))
        found.extend(matched or [str(pattern)])
    return found


def _model_provider(archive: zipfile.ZipFile, path: str, members: list[str]) -> dict[str, Any]:
    data = _yaml(archive, path)
    _require(data.get("provider"), f"{path}: provider is required")
    _require(data.get("supported_model_types"), f"{path}: supported_model_types is required")
    python = (data.get("extra") or {}).get("python") or {}
    _require(python.get("provider_source"), f"{path}: extra.python.provider_source is required")
    for source in [python["provider_source"], *(python.get("model_sources") or [])]:
        _require(source in members, f"{path}: source {source} is missing from the package")
    models: list[dict[str, Any]] = []
    for model_type, spec in (data.get("models") or {}).items():
        for model_path in _expand(list((spec or {}).get("predefined") or []), members):
            model = _yaml(archive, model_path)
            model.setdefault("model_type", model_type)
            _require(model.get("model"), f"{model_path}: model is required")
            models.append(model)
    data["models"] = models
    return data


def _tool_provider(archive: zipfile.ZipFile, path: str, members: list[str]) -> dict[str, Any]:
    data = _yaml(archive, path)
    identity = data.get("identity") or {}
    _require(identity.get("name"), f"{path}: identity.name is required")
    source = ((data.get("extra") or {}).get("python") or {}).get("source")
    _require(source in members, f"{path}: extra.python.source {source} is missing from the package")
    tools: list[dict[str, Any]] = []
    for tool_path in data.get("tools") or []:
        tool = _yaml(archive, str(tool_path))
        _require((tool.get("identity") or {}).get("name"), f"{tool_path}: identity.name is required")
        tool_source = ((tool.get("extra") or {}).get("python") or {}).get("source")
        _require(
            tool_source in members,
            f"{tool_path}: extra.python.source {tool_source} is missing from the package",
        )
        tools.append(tool)
    data["tools"] = tools
    return data


def read_package(content: bytes) -> PluginDeclaration:
    """Verify a `.difypkg` and return its declaration. Raises PackageError naming the problem."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise PackageError("the package is not a zip archive (.difypkg)") from None
    with archive:
        infos = archive.infolist()
        _require(len(infos) <= _MAX_MEMBERS, "the package holds too many files")
        _require(sum(i.file_size for i in infos) <= _MAX_UNPACKED, "the package unpacks to more than 200 MB")
        for info in infos:
            parts = PurePosixPath(info.filename).parts
            _require(
                not info.filename.startswith("/") and ".." not in parts and "\\" not in info.filename,
                f"{info.filename}: a path outside the package",
            )
        members = [i.filename for i in infos if not i.is_dir()]
        _require("manifest.yaml" in members, "manifest.yaml is missing from the package")
        manifest = _yaml(archive, "manifest.yaml")
        _check_manifest(manifest)
        entry = manifest["meta"]["runner"]["entrypoint"].replace(".", "/")
        _require(
            f"{entry}.py" in members or f"{entry}/__init__.py" in members,
            f"manifest.yaml: entrypoint {manifest['meta']['runner']['entrypoint']} is missing from the package",
        )
        plugins = manifest["plugins"]
        models = [_model_provider(archive, str(p), members) for p in plugins.get("models") or []]
        tools = [_tool_provider(archive, str(p), members) for p in plugins.get("tools") or []]
        requirements = (
            archive.read("requirements.txt").decode("utf-8", "replace")
            if "requirements.txt" in members
            else ""
        )
    # created_at arrives as a datetime from YAML; keep the manifest JSON-serialisable.
    manifest = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in manifest.items()}
    return PluginDeclaration(
        manifest=manifest,
        checksum=hashlib.sha256(content).hexdigest(),
        models=models,
        tools=tools,
        requirements=requirements,
    )


def extract_package(content: bytes, target: str) -> None:
    """Unpack a package already verified by `read_package` into `target`."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        archive.extractall(target)


def parse_identifier(identifier: str) -> tuple[str, str, str]:
    """`author/name:version@checksum` -> (plugin_id, version, checksum); raises PackageError."""
    match = re.match(r"^([^/:@]+/[^/:@]+):([^@]+)@([0-9a-f]{16,64})$", identifier or "")
    if match is None:
        raise PackageError(f"{identifier!r} is not a plugin unique identifier (author/name:version@checksum)")
    return match.group(1), match.group(2), match.group(3)

"""What this machine can run: plugin versions whose package is unpacked and whose environment is built.

The install task writes `PLUGIN_ROOT/index/<checksum>.json` last, once everything is ready; every
process (web, Celery worker) reads that directory, re-reading only when its modification time changes.
No database here: the provider catalogue asks on every lookup, often from async code.

From the index come the provider catalogue's plugin providers (full ids, `tester/loopback/loopback`, with
the `plugin` adapter), the plugin tool providers, and how to start each plugin (`launch_spec`).
When two versions of one plugin are ready (two workspaces installed different ones), the newest serves
its model providers; tools follow the workspace's own installation.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from packaging.version import InvalidVersion, Version

from plugins.package import PluginDeclaration
from plugins.runtime import sandbox
from plugins.runtime.environment import environment_python
from plugins.runtime.pool import LaunchSpec, PluginPool
from plugins.runtime.process import PluginStartError
from providers.runtime.catalogue.loader import parse_provider
from providers.runtime.schema import FORM_TYPES, MODEL_FEATURES, ProviderSchema
from providers.runtime.templates import PARAMETER_TEMPLATES
from workflows.engine.sandbox.egress import EgressBroker

logger = logging.getLogger(__name__)
BOOTSTRAP = Path(__file__).resolve().parent / "runtime" / "bootstrap.py"


@dataclass(frozen=True, slots=True)
class ReadyPlugin:
    unique_identifier: str
    declaration: PluginDeclaration
    source_dir: str
    env_dir: str


def root() -> Path:
    return Path(settings.PLUGIN_ROOT)


def index_dir() -> Path:
    path = root() / "index"
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_dir(checksum: str) -> Path:
    return root() / "plugins" / checksum


def package_path(checksum: str) -> Path:
    return root() / "packages" / f"{checksum}.difypkg"


def envs_dir() -> Path:
    return Path(settings.PLUGIN_ENVS_DIR)


# --- the index ---------------------------------------------------------------------------------------------


class _Index:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[str, int] | None = None
        self.plugins: dict[str, ReadyPlugin] = {}
        self.model_providers: dict[str, ProviderSchema] = {}
        self.model_owner: dict[str, ReadyPlugin] = {}

    def refresh(self) -> _Index:
        directory = index_dir()
        stamp = (str(directory), directory.stat().st_mtime_ns)
        if stamp == self._stamp:
            return self
        with self._lock:
            if stamp == self._stamp:
                return self
            plugins: dict[str, ReadyPlugin] = {}
            for path in sorted(directory.glob("*.json")):
                try:
                    data = json.loads(path.read_text())
                    declaration = PluginDeclaration.from_dict(data["declaration"])
                    plugins[declaration.unique_identifier] = ReadyPlugin(
                        unique_identifier=declaration.unique_identifier,
                        declaration=declaration,
                        source_dir=str(data["source_dir"]),
                        env_dir=str(data["env_dir"]),
                    )
                except (OSError, ValueError, KeyError) as exc:
                    logger.warning("plugin index entry %s is unreadable: %s", path.name, exc)
            providers: dict[str, ProviderSchema] = {}
            owners: dict[str, ReadyPlugin] = {}
            for plugin in sorted(plugins.values(), key=lambda p: _version(p.declaration.version)):
                for provider in plugin.declaration.models:
                    schema = model_provider_schema(plugin, provider)
                    if schema is not None:
                        providers[schema.provider] = schema  # newest version last, so it wins
                        owners[schema.provider] = plugin
            self.plugins, self.model_providers, self.model_owner = plugins, providers, owners
            self._stamp = stamp
        return self


def _version(value: str) -> Version:
    try:
        return Version(value)
    except InvalidVersion:
        return Version("0")


_index = _Index()


def ready_plugins() -> dict[str, ReadyPlugin]:
    return _index.refresh().plugins


def ready_plugin(unique_identifier: str) -> ReadyPlugin | None:
    return ready_plugins().get(unique_identifier)


def mark_ready(*, declaration: PluginDeclaration, env_dir: Path) -> None:
    """Publish a built plugin version to every process (atomic: written aside, then renamed)."""
    entry = {
        "declaration": declaration.to_dict(),
        "source_dir": str(source_dir(declaration.checksum)),
        "env_dir": str(env_dir),
    }
    target = index_dir() / f"{declaration.checksum}.json"
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(entry))
    temporary.replace(target)


def unmark_ready(checksum: str) -> None:
    (index_dir() / f"{checksum}.json").unlink(missing_ok=True)


# --- model providers ---------------------------------------------------------------------------------------


def _form(form: dict[str, Any]) -> dict[str, Any]:
    form = dict(form)
    if form.get("type") not in FORM_TYPES:
        form["type"] = "text-input"  # a form type we cannot render is still a value the plugin reads
    return form


def _model(model: dict[str, Any]) -> dict[str, Any]:
    model = dict(model)
    model["features"] = [f for f in model.get("features") or [] if f in MODEL_FEATURES]
    model["parameter_rules"] = [
        rule
        for rule in model.get("parameter_rules") or []
        if not rule.get("use_template") or rule["use_template"] in PARAMETER_TEMPLATES
    ]
    model.pop("extra", None)
    return model


def model_provider_schema(plugin: ReadyPlugin, provider: dict[str, Any]) -> ProviderSchema | None:
    """The plugin's provider YAML as a catalogue entry under its full id (`author/plugin/provider`)."""
    full_id = f"{plugin.declaration.plugin_id}/{provider['provider']}"
    data: dict[str, Any] = {
        key: provider.get(key)
        for key in ("label", "description", "icon_small", "icon_large", "background", "help")
        if provider.get(key) is not None
    }
    data.update(
        provider=full_id,
        adapter="plugin",
        supported_model_types=provider["supported_model_types"],
        configurate_methods=provider.get("configurate_methods") or ["predefined-model"],
        models=[_model(m) for m in provider.get("models") or []],
        defaults={
            "plugin_unique_identifier": plugin.unique_identifier,
            "plugin_provider": provider["provider"],
        },
    )
    credentials = provider.get("provider_credential_schema") or {}
    if credentials.get("credential_form_schemas"):
        data["provider_credential_schema"] = {
            "credential_form_schemas": [_form(f) for f in credentials["credential_form_schemas"]]
        }
    model_forms = provider.get("model_credential_schema")
    if model_forms:
        data["model_credential_schema"] = {
            "model": model_forms.get("model") or {"label": {"en_US": "Model Name"}},
            "credential_form_schemas": [_form(f) for f in model_forms.get("credential_form_schemas") or []],
        }
    try:
        return parse_provider(data)
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning(
            "plugin %s: provider %s cannot join the catalogue: %s", plugin.unique_identifier, full_id, exc
        )
        return None


def catalogue_source() -> dict[str, ProviderSchema]:
    return _index.refresh().model_providers


def model_provider_owner(full_id: str) -> ReadyPlugin | None:
    return _index.refresh().model_owner.get(full_id)


# --- tool providers ----------------------------------------------------------------------------------------


def tool_provider(plugin: ReadyPlugin, provider_id: str) -> dict[str, Any] | None:
    """The tool provider YAML (tools filled in) named by `author/plugin/provider` or the bare name."""
    name = provider_id.rsplit("/", 1)[-1]
    return next((p for p in plugin.declaration.tools if p["identity"]["name"] == name), None)


# --- processes ---------------------------------------------------------------------------------------------

pool = PluginPool()
_egress_lock = threading.Lock()
_egress: EgressBroker | None = None
_warned_unsandboxed = False


def egress_socket() -> str:
    """The process-wide egress broker's socket (started on first use), shared by every sandboxed plugin:
    each destination is vetted by the same rules as the code sandbox's (`code_execution.egress_addresses`)."""
    global _egress
    with _egress_lock:
        if _egress is None:
            from dify_project.code_execution import egress_addresses

            _egress = EgressBroker(egress_addresses)
        return _egress.path


def launch_spec(plugin: ReadyPlugin) -> LaunchSpec:
    """The plugin's own interpreter running our bootstrap in its directory, with an environment of its
    own: none of the platform's variables (secrets, database URLs) reach third-party code. Under
    PLUGIN_ISOLATION=sandbox (the default) it runs in bubblewrap (`plugins.runtime.sandbox`) with no
    network of its own: HTTP(S) through the egress broker when PLUGIN_EGRESS is on, nothing otherwise.
    Without bwrap the sandbox is not silently dropped: the start fails, naming the fix."""
    home = root() / "home" / plugin.declaration.checksum
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{Path(plugin.env_dir) / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "INSTALL_METHOD": "local",
        "MAX_REQUEST_TIMEOUT": str(int(settings.PLUGIN_CALL_TIMEOUT)),
        "MAX_INVOCATION_TIMEOUT": str(int(settings.PLUGIN_CALL_TIMEOUT)),
        "HEARTBEAT_INTERVAL": "10",
    }
    python = str(environment_python(Path(plugin.env_dir)))
    argv: tuple[str, ...] = (python, str(BOOTSTRAP), plugin.declaration.entrypoint)
    if settings.PLUGIN_ISOLATION == "sandbox":
        bwrap = sandbox.bwrap_path()
        if bwrap is None:
            raise PluginStartError(
                "bubblewrap (bwrap) is not installed: install it, or set PLUGIN_ISOLATION=process",
                error_type="PluginStartError",
            )
        argv = tuple(
            sandbox.sandboxed_argv(
                bwrap=bwrap,
                python=python,
                bootstrap=str(BOOTSTRAP),
                entrypoint=plugin.declaration.entrypoint,
                env_dir=plugin.env_dir,
                source_dir=plugin.source_dir,
                home=str(home),
                env=env,
                egress_socket=egress_socket() if settings.PLUGIN_EGRESS else None,
            )
        )
    else:
        global _warned_unsandboxed
        if not _warned_unsandboxed:
            _warned_unsandboxed = True
            logger.warning(
                "PLUGIN_ISOLATION=process: plugins run unsandboxed as the server's user, on the host's "
                "network (they can reach the database, Redis and private addresses); unsafe for "
                "third-party plugins"
            )
    return LaunchSpec(
        key=plugin.unique_identifier,
        argv=argv,
        cwd=plugin.source_dir,
        env=env,
        start_timeout=settings.PLUGIN_START_TIMEOUT,
    )

"""Plugin tests: real `.difypkg`s built with the SDK, real plugin processes.

The plugin environment (`dify_plugin` and its dependencies, from the registry) is built once and kept
in /tmp between sessions (keyed by its requirements, so it is reused safely); pip's cache lives beside
it. Each test gets an empty package store and index, so no plugin provider outlives the test that
installed it (other tests see the stock catalogue), and every plugin process is stopped after it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from plugins import registry

ENVS = Path(tempfile.gettempdir()) / "dify-plugin-test-envs"
PIP_CACHE = Path(tempfile.gettempdir()) / "dify-plugin-test-pip-cache"


@pytest.fixture(autouse=True)
def plugin_store(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "plugins"
    with override_settings(
        PLUGIN_ROOT=root,
        PLUGIN_ENVS_DIR=ENVS,
        PLUGIN_PIP_ARGS=["--cache-dir", str(PIP_CACHE)],
        PLUGIN_CALL_TIMEOUT=30.0,
    ):
        try:
            yield root
        finally:
            registry.pool.stop_all()
            for entry in registry.index_dir().glob("*.json"):
                entry.unlink()


@pytest.fixture
def install_now(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Install tasks are queued (Celery) and run here when the test says so, as a worker would."""
    queued: list[str] = []
    monkeypatch.setattr("plugins.tasks.install_plugins.delay", queued.append)

    def run() -> list[str]:
        from plugins.tasks import install_plugins

        done = list(queued)
        queued.clear()
        for task_id in done:
            install_plugins(task_id)
        return done

    run.queued = queued  # type: ignore[attr-defined]
    return run

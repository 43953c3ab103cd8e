"""The variable pool: `node_id -> name -> value`, with cheap overlays for iteration items.

An iteration item runs on an *overlay* of the parent pool: reads fall through to the parent,
writes stay in the overlay. That gives each item the isolation Dify gets from deep-copying the
whole pool, at the cost of one dict per item instead of a copy of everything. Conversation
variables are the exception Dify makes: a write to `conversation.*` anywhere goes to the root pool,
so it is visible after the iteration (fixture `update-conversation-variable-in-iteration`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .values import FILE_ATTRIBUTES, File, from_plain, infer_type, to_plain

SYSTEM = "sys"
ENVIRONMENT = "env"
CONVERSATION = "conversation"
RAG = "rag"
RESERVED_PREFIXES = frozenset({SYSTEM, ENVIRONMENT, CONVERSATION, RAG})

_MISSING = object()


class VariablePool:
    """Values addressed by selectors `[node_id, name, *path]`. Not thread-safe (asyncio only)."""

    __slots__ = ("_data", "_hidden", "_parent", "_root", "_types")

    def __init__(self, parent: VariablePool | None = None) -> None:
        self._data: dict[str, dict[str, Any]] = {}
        self._types: dict[tuple[str, str], str] = {}
        self._parent = parent
        self._root: VariablePool = parent._root if parent is not None else self
        self._hidden: set[str] | None = None

    # -- construction ---------------------------------------------------------------------------
    def overlay(self) -> VariablePool:
        """A child pool whose writes do not reach this one (except conversation variables)."""
        return VariablePool(self)

    @property
    def parent(self) -> VariablePool | None:
        return self._parent

    # -- reads ----------------------------------------------------------------------------------
    def _get2(self, node_id: str, name: str) -> Any:
        pool: VariablePool | None = self
        while pool is not None:
            values = pool._data.get(node_id)
            if values is not None and name in values:
                return values[name]
            if pool._hidden is not None and node_id in pool._hidden:
                return _MISSING
            pool = pool._parent
        return _MISSING

    def lookup(self, selector: Sequence[str]) -> tuple[bool, Any]:
        """Return `(found, value)`. Longer selectors walk into objects or file attributes."""
        if len(selector) < 2:
            return False, None
        value = self._get2(selector[0], selector[1])
        if value is _MISSING:
            return False, None
        if len(selector) == 2:
            return True, value
        if isinstance(value, File):
            attr = selector[2]
            if attr not in FILE_ATTRIBUTES:
                return False, None
            return True, value.attribute(attr)
        for key in selector[2:]:
            if isinstance(value, dict) and key in value:
                value = value[key]
            else:
                return False, None
        return True, value

    def get(self, selector: Sequence[str], default: Any = None) -> Any:
        found, value = self.lookup(selector)
        return value if found else default

    def has(self, selector: Sequence[str]) -> bool:
        return self.lookup(selector)[0]

    def declared_type(self, selector: Sequence[str]) -> str | None:
        if len(selector) != 2:
            return None
        key = (selector[0], selector[1])
        pool: VariablePool | None = self
        while pool is not None:
            declared = pool._types.get(key)
            if declared is not None:
                return declared
            pool = pool._parent
        return None

    def type_of(self, selector: Sequence[str]) -> str | None:
        """Declared type if any, else the type inferred from the value; None when missing."""
        found, value = self.lookup(selector)
        if not found:
            return None
        return self.declared_type(selector) or infer_type(value)

    def node_values(self, node_id: str) -> dict[str, Any]:
        """All variables stored under one node id (merged through overlays)."""
        chain: list[VariablePool] = []
        pool: VariablePool | None = self
        while pool is not None:
            chain.append(pool)
            if pool._hidden is not None and node_id in pool._hidden:
                break
            pool = pool._parent
        merged: dict[str, Any] = {}
        for layer in reversed(chain):
            merged.update(layer._data.get(node_id, {}))
        return merged

    def node_ids(self) -> set[str]:
        ids: set[str] = set()
        pool: VariablePool | None = self
        while pool is not None:
            ids.update(pool._data)
            pool = pool._parent
        return ids

    def flatten(self, *, unprefixed_node_id: str | None = None) -> dict[str, Any]:
        """Selector-style snapshot (`sys.query`, `env.KEY`, ...) as the Start node outputs it."""
        result: dict[str, Any] = {}
        for node_id in sorted(self.node_ids()):
            for name, value in self.node_values(node_id).items():
                result[name if node_id == unprefixed_node_id else f"{node_id}.{name}"] = value
        return result

    # -- writes ---------------------------------------------------------------------------------
    def set(self, node_id: str, name: str, value: Any, declared_type: str | None = None) -> None:
        target = self._root if node_id == CONVERSATION else self
        values = target._data.get(node_id)
        if values is None:
            values = target._data[node_id] = {}
        values[name] = value
        if declared_type is not None:
            target._types[(node_id, name)] = declared_type

    def set_selector(self, selector: Sequence[str], value: Any) -> None:
        """Write a whole variable (`[node_id, name]`); the declared type, if any, is kept."""
        if len(selector) != 2:
            raise ValueError(f"a variable is written by a 2-part selector, got {list(selector)}")
        self.set(selector[0], selector[1], value)

    def set_outputs(self, node_id: str, outputs: Mapping[str, Any]) -> None:
        if not outputs:
            return
        values = self._data.get(node_id)
        if values is None:
            self._data[node_id] = dict(outputs)
        else:
            values.update(outputs)

    def remove_node(self, node_id: str) -> None:
        """Forget a node's outputs (loop rounds start clean)."""
        self._data.pop(node_id, None)
        if self._parent is not None and node_id in self._parent.node_ids():
            if self._hidden is None:
                self._hidden = set()
            self._hidden.add(node_id)

    def declare(self, node_id: str, name: str, type_name: str) -> None:
        target = self._root if node_id == CONVERSATION else self
        target._types[(node_id, name)] = type_name

    # -- serialisation (pause / resume) -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Flatten the overlay chain into a JSON-serialisable dict."""
        return {
            "variables": {
                node_id: to_plain(self.node_values(node_id)) for node_id in sorted(self.node_ids())
            },
            "types": [[node_id, name, type_name] for (node_id, name), type_name in self._all_types().items()],
        }

    def _all_types(self) -> dict[tuple[str, str], str]:
        chain: list[VariablePool] = []
        pool: VariablePool | None = self
        while pool is not None:
            chain.append(pool)
            pool = pool._parent
        merged: dict[tuple[str, str], str] = {}
        for layer in reversed(chain):
            merged.update(layer._types)
        return merged

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VariablePool:
        pool = cls()
        for node_id, values in data.get("variables", {}).items():
            pool._data[node_id] = {name: from_plain(value) for name, value in values.items()}
        for node_id, name, type_name in data.get("types", []):
            pool._types[(node_id, name)] = type_name
        return pool

    def secret_values(self) -> list[str]:
        """Values of variables declared `secret` (environment secrets), for masking logs."""
        secrets = []
        for (node_id, name), type_name in self._all_types().items():
            if type_name == "secret":
                value = self.get((node_id, name))
                if isinstance(value, str) and value:
                    secrets.append(value)
        return secrets

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {node_id: self.node_values(node_id) for node_id in self.node_ids()}

    def __repr__(self) -> str:
        return f"VariablePool(nodes={sorted(self.node_ids())})"

"""Django's SQLite backend on the pysqlite3 driver, with sqlite-vec loaded (see the package docstring)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from itertools import tee
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.sqlite3 import base as sqlite_base

try:
    from pysqlite3 import dbapi2 as Database  # noqa: N812 - the name Django backends use
except ImportError as exc:  # pragma: no cover - a deployment without the driver
    raise ImproperlyConfigured(
        "ENGINE knowledge.sqlite_vec needs pysqlite3 (pip install pysqlite3-binary)"
    ) from exc

# The converters and adapters Django registered on the stdlib driver, registered on this one too.
for _name, _converter in sqlite3.converters.items():
    Database.register_converter(_name, _converter)
for (_type, _protocol), _adapter in sqlite3.adapters.items():
    if _protocol is sqlite3.PrepareProtocol:
        Database.register_adapter(_type, _adapter)


class CursorWrapper(Database.Cursor):
    """Django's "format"/"pyformat" parameters to pysqlite3's qmark/named (as SQLiteCursorWrapper)."""

    def execute(self, query: str, params: Any = None) -> Any:
        if params is None:
            return super().execute(query)
        names = list(params) if isinstance(params, Mapping) else None
        return super().execute(self.convert_query(query, param_names=names), params)

    def executemany(self, query: str, param_list: Any) -> Any:
        peekable, param_list = tee(iter(param_list))
        first = next(peekable, None)
        names = list(first) if first and isinstance(first, Mapping) else None
        return super().executemany(self.convert_query(query, param_names=names), param_list)

    def convert_query(self, query: str, *, param_names: list[str] | None = None) -> str:
        if param_names is None:
            return sqlite_base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")
        return query % {name: f":{name}" for name in param_names}


class DatabaseWrapper(sqlite_base.DatabaseWrapper):
    Database = Database

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        from knowledge.index.stores import load_sqlite_vec

        conn = Database.connect(**conn_params)
        sqlite_base.register_functions(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA legacy_alter_table = OFF")
        for init_command in self.init_commands:
            if init_command := init_command.strip():
                conn.execute(init_command)
        load_sqlite_vec(conn)
        return conn

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=CursorWrapper)

"""Insert many new rows of one model with a single ``executemany``: the indexing hot path.

``QuerySet.bulk_create`` compiles a multi-row ``VALUES`` statement per batch (999 parameters on SQLite, so
about 50 rows), calling ``pre_save`` and ``get_db_prep_save`` field by field and row by row; for a
document's segments and index nodes that was most of the pipeline's own time (profiled: 3.5 s of 5 s for
5,000 segments). Here the statement is built once and each field's conversion is chosen once: values
that the database driver takes as they are (text, numbers, booleans, bytes, None) pass through, UUIDs and
datetimes go through the backend's own adapters, and any other field type through Django's
``get_db_prep_save``, so the stored values are the ones ``bulk_create`` would store.

Like ``bulk_create``: no signals, no ``save()``; ``auto_now``/``auto_now_add`` fields are set (one
timestamp for the whole call) and the objects are marked as saved. Unlike it: primary keys must be set
before the call (this project's are UUIDs with a default).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, models, router
from django.db.models.constants import OnConflict
from django.utils import timezone

_TEXT = (models.CharField, models.TextField)
_AS_IS = (models.BooleanField, models.FloatField, models.BinaryField)


def _converter(field: models.Field, connection: Any) -> Callable[[Any], Any]:
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if isinstance(target, models.UUIDField):
        if connection.features.has_native_uuid_field:
            return lambda v: v
        return lambda v: None if v is None else (v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))).hex
    if isinstance(target, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        return lambda v: None if v is None else adapt(v)
    # Choices members become plain values: a driver may adapt an Enum by its name (psycopg does).
    if isinstance(target, _TEXT):
        return lambda v: v if v is None or type(v) is str else str(v)
    if isinstance(target, models.IntegerField):
        return lambda v: v if v is None or type(v) is int else int(v)
    if isinstance(target, _AS_IS):
        return lambda v: v
    return lambda v: target.get_db_prep_save(v, connection)


def insert_objects(objects: Sequence[models.Model], *, ignore_conflicts: bool = False) -> None:
    """INSERT `objects` (new instances of one model, primary keys set) in one ``executemany``;
    `ignore_conflicts` skips rows a unique constraint refuses, as ``bulk_create`` does."""
    if not objects:
        return
    model = type(objects[0])
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if f.column]
    now = timezone.now()
    for field in fields:
        if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
            for obj in objects:
                setattr(obj, field.attname, now)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    suffix = connection.ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    sql = (
        f"{connection.ops.insert_statement(on_conflict=on_conflict)} {quote(model._meta.db_table)} "
        f"({columns}) VALUES ({', '.join(['%s'] * len(fields))}) {suffix}"
    ).rstrip()
    plan = [(f.attname, _converter(f, connection)) for f in fields]
    rows = [[convert(getattr(obj, name)) for name, convert in plan] for obj in objects]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias

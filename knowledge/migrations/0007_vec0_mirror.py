"""SQLite: which datasets the sqlite-vec store mirrors into vec0 (``knowledge.index.vec0_mirror``).

Until now every vector was mirrored, so each dataset with vectors of a dimension whose vec0 table exists
is recorded as mirrored completely (start 0, done 0: every node above rowid 0 is written on insert).
"""

from django.db import migrations

CREATE = (
    "CREATE TABLE IF NOT EXISTS knowledge_vec_mirror (dataset_id TEXT NOT NULL, dimension INTEGER NOT NULL,"
    " start INTEGER NOT NULL, done INTEGER NOT NULL, PRIMARY KEY (dataset_id, dimension))"
)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE)
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'knowledge_vec_[0-9]*'"
        )
        dimensions = [
            int(name.rsplit("_", 1)[1]) for (name,) in cursor.fetchall() if name.rsplit("_", 1)[1].isdigit()
        ]
        for dimension in dimensions:
            cursor.execute(
                "INSERT OR IGNORE INTO knowledge_vec_mirror (dataset_id, dimension, start, done)"
                " SELECT DISTINCT dataset_id, dimension, 0, 0 FROM knowledge_indexnode WHERE dimension = %s",
                [dimension],
            )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS knowledge_vec_mirror")


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0006_fewer_write_indexes")]

    operations = [migrations.RunPython(forward, backward)]

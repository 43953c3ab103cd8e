"""SQLite: search rowids from a sequence that never goes back.

FTS5 gives a new row max(rowid) + 1, so deleting the newest node and inserting another reused its rowid.
The in-memory vector matrices (``knowledge.index.matrix``) find rows written since they last looked by
"rowid above the highest seen", which needs rowids that only grow. The sequence starts above every rowid
in use; the insert trigger takes the next value for the FTS row and ``IndexNode.search_rowid``.
"""

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE TABLE IF NOT EXISTS knowledge_search_sequence (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO knowledge_search_sequence (id, value)"
    " VALUES (1, (SELECT coalesce(max(rowid), 0) FROM knowledge_fts))",
    "DROP TRIGGER IF EXISTS knowledge_indexnode_fts_insert",
    """CREATE TRIGGER knowledge_indexnode_fts_insert AFTER INSERT ON knowledge_indexnode
    BEGIN
        UPDATE knowledge_search_sequence SET value = value + 1 WHERE id = 1;
        INSERT INTO knowledge_fts (rowid, content, node_id, dataset_id, document_id)
        VALUES ((SELECT value FROM knowledge_search_sequence WHERE id = 1),
                new.content, new.node_id, new.dataset_id, new.document_id);
        UPDATE knowledge_indexnode SET search_rowid = (SELECT value FROM knowledge_search_sequence WHERE id = 1)
        WHERE id = new.id;
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS knowledge_indexnode_fts_insert",
    """CREATE TRIGGER knowledge_indexnode_fts_insert AFTER INSERT ON knowledge_indexnode
    BEGIN
        INSERT INTO knowledge_fts (content, node_id, dataset_id, document_id)
        VALUES (new.content, new.node_id, new.dataset_id, new.document_id);
        UPDATE knowledge_indexnode SET search_rowid = last_insert_rowid() WHERE id = new.id;
    END""",
    "DROP TABLE IF EXISTS knowledge_search_sequence",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_full_text_index")]

    operations = [migrations.RunPython(_run(SQLITE_FORWARD), _run(SQLITE_BACKWARD))]

"""Full-text search over IndexNode.content, per database.

SQLite: an FTS5 table kept in step with knowledge_indexnode by triggers (so cascaded deletes of
documents and datasets clean it too). Each FTS row's rowid is written back to IndexNode.search_rowid,
which is stable (a table's implicit rowid is not: VACUUM may renumber it).

PostgreSQL: a GIN index on to_tsvector('simple', content); the store queries that same expression.
'simple' (no stemming, no stop words) because knowledge bases mix languages.
"""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_fts USING fts5(
        content, node_id UNINDEXED, dataset_id UNINDEXED, document_id UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS knowledge_indexnode_fts_insert AFTER INSERT ON knowledge_indexnode
    BEGIN
        INSERT INTO knowledge_fts (content, node_id, dataset_id, document_id)
        VALUES (new.content, new.node_id, new.dataset_id, new.document_id);
        UPDATE knowledge_indexnode SET search_rowid = last_insert_rowid() WHERE id = new.id;
    END""",
    """CREATE TRIGGER IF NOT EXISTS knowledge_indexnode_fts_delete AFTER DELETE ON knowledge_indexnode
    BEGIN
        DELETE FROM knowledge_fts WHERE rowid = old.search_rowid;
    END""",
    """CREATE TRIGGER IF NOT EXISTS knowledge_indexnode_fts_update AFTER UPDATE OF content ON knowledge_indexnode
    BEGIN
        UPDATE knowledge_fts SET content = new.content WHERE rowid = old.search_rowid;
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS knowledge_indexnode_fts_update",
    "DROP TRIGGER IF EXISTS knowledge_indexnode_fts_delete",
    "DROP TRIGGER IF EXISTS knowledge_indexnode_fts_insert",
    "DROP TABLE IF EXISTS knowledge_fts",
]
POSTGRES_FORWARD = [
    "CREATE INDEX IF NOT EXISTS knowledge_indexnode_content_tsv "
    "ON knowledge_indexnode USING gin (to_tsvector('simple', content))",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS knowledge_indexnode_content_tsv"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        )
    ]

"""Full-text search reads IndexNode.search_text where it is set (Chinese split into words), else content.

SQLite: the FTS5 triggers index ``coalesce(search_text, content)``. PostgreSQL: the GIN index is on
``to_tsvector('simple', coalesce(search_text, content))``, the expression the store queries. Existing
nodes with Chinese text get their search text here, so their full-text search starts working too.
"""

from django.db import migrations, models

SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS knowledge_indexnode_fts_insert",
    """CREATE TRIGGER knowledge_indexnode_fts_insert AFTER INSERT ON knowledge_indexnode
    BEGIN
        UPDATE knowledge_search_sequence SET value = value + 1 WHERE id = 1;
        INSERT INTO knowledge_fts (rowid, content, node_id, dataset_id, document_id)
        VALUES ((SELECT value FROM knowledge_search_sequence WHERE id = 1),
                coalesce(new.search_text, new.content), new.node_id, new.dataset_id, new.document_id);
        UPDATE knowledge_indexnode SET search_rowid = (SELECT value FROM knowledge_search_sequence WHERE id = 1)
        WHERE id = new.id;
    END""",
    "DROP TRIGGER IF EXISTS knowledge_indexnode_fts_update",
    """CREATE TRIGGER knowledge_indexnode_fts_update
    AFTER UPDATE OF content, search_text ON knowledge_indexnode
    BEGIN
        UPDATE knowledge_fts SET content = coalesce(new.search_text, new.content) WHERE rowid = old.search_rowid;
    END""",
]
SQLITE_BACKWARD = [
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
    "DROP TRIGGER IF EXISTS knowledge_indexnode_fts_update",
    """CREATE TRIGGER knowledge_indexnode_fts_update AFTER UPDATE OF content ON knowledge_indexnode
    BEGIN
        UPDATE knowledge_fts SET content = new.content WHERE rowid = old.search_rowid;
    END""",
]
POSTGRES_FORWARD = [
    "CREATE INDEX IF NOT EXISTS knowledge_indexnode_search_tsv ON knowledge_indexnode"
    " USING gin (to_tsvector('simple', coalesce(search_text, content)))",
    "DROP INDEX IF EXISTS knowledge_indexnode_content_tsv",
]
POSTGRES_BACKWARD = [
    "CREATE INDEX IF NOT EXISTS knowledge_indexnode_content_tsv"
    " ON knowledge_indexnode USING gin (to_tsvector('simple', content))",
    "DROP INDEX IF EXISTS knowledge_indexnode_search_tsv",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def _backfill(apps, schema_editor):
    from knowledge.index.base import search_text

    IndexNode = apps.get_model("knowledge", "IndexNode")
    batch = []
    for node in IndexNode.objects.filter(search_text=None).only("id", "content").iterator(chunk_size=2000):
        text = search_text(node.content)
        if text is not None:
            node.search_text = text
            batch.append(node)
        if len(batch) >= 500:
            IndexNode.objects.bulk_update(batch, ["search_text"])
            batch = []
    if batch:
        IndexNode.objects.bulk_update(batch, ["search_text"])


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0004_external_knowledge_api")]

    operations = [
        migrations.AddField(
            model_name="indexnode",
            name="search_text",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
        migrations.RunPython(_backfill, migrations.RunPython.noop),
    ]

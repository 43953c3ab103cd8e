"""Drop the index-node and embedding-cache indexes no query needs: each is written once per indexed segment.

The field changes go to the migration state only; the database side is a plain DROP INDEX (the names are
Django's, the same on SQLite and PostgreSQL). On SQLite, Django would carry out AlterField by rebuilding
the table, which drops the full-text triggers of migration 0002 with it.
"""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = {
    # index name: (table, column)
    "knowledge_embedding_created_at_0c66bba6": ("knowledge_embedding", "created_at"),
    "knowledge_embedding_tenant_id_d4527fc5": ("knowledge_embedding", "tenant_id"),
    "knowledge_indexnode_created_at_fad126cb": ("knowledge_indexnode", "created_at"),
    "knowledge_indexnode_dataset_id_032cce5f": ("knowledge_indexnode", "dataset_id"),
    "knowledge_indexnode_tenant_id_43cef8ec": ("knowledge_indexnode", "tenant_id"),
}


def _fk(to: str) -> models.ForeignKey:
    return models.ForeignKey(
        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=to
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("knowledge", "0005_full_text_search_text"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="indexnode", name="knowledge_i_documen_46d847_idx"),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")',
                )
                for name, (table, column) in DROPPED.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="embedding", name="created_at", field=models.DateTimeField(auto_now_add=True)
                ),
                migrations.AlterField(model_name="embedding", name="tenant", field=_fk("accounts.tenant")),
                migrations.AlterField(
                    model_name="indexnode", name="created_at", field=models.DateTimeField(auto_now_add=True)
                ),
                migrations.AlterField(model_name="indexnode", name="dataset", field=_fk("knowledge.dataset")),
                migrations.AlterField(model_name="indexnode", name="tenant", field=_fk("accounts.tenant")),
            ],
        ),
    ]

"""Trigram indexes for the stock list's search (any part of a SKU code or title).

The search is `code_key LIKE '%x%' OR UPPER(title) LIKE UPPER('%x%')` (Django's
`contains` and `icontains`), which no B-tree can serve: at 100,000 SKUs every search
was a full scan. pg_trgm's GIN indexes on exactly those expressions let PostgreSQL
answer both with a bitmap index scan. PostgreSQL only: SQLite keeps the plain scan.
pg_trgm is a trusted extension (PostgreSQL 13+), so the database's owner may create it.
"""

from django.db import migrations

INDEXES = {
    "ledger_sku_code_key_trgm": "((code_key::text)) gin_trgm_ops",
    "ledger_sku_title_upper_trgm": "((UPPER(title::text))) gin_trgm_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON ledger_sku USING gin ({expression})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_role_permissions")]

    operations = [migrations.RunPython(create, drop)]

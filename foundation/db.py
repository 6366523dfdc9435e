"""Small database helpers for the hot paths."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


def update_each(model: type[models.Model], rows: Sequence[models.Model], fields: Sequence[str]):
    """UPDATE `fields` of each row by primary key in one executemany (pipelined by
    psycopg 3). Django's bulk_update builds a CASE expression per row and field, which on
    the drainer's batches cost more CPU than the push to the channel itself."""
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    params = [
        [column.get_db_prep_save(getattr(row, column.attname), connection) for column in columns]
        + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s",
            params,
        )

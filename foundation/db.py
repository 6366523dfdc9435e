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


def estimated_count(model: type[models.Model], *, exact_below: int) -> tuple[int, bool]:
    """The number of rows of `model`'s table, and whether it is an estimate: exact below
    `exact_below` rows, above it PostgreSQL's own estimate (the planner's: rows per page
    at the last ANALYZE times the table's pages now, so it follows growth between
    analyses). One query either way: the exact count is an InitPlan, run only when the
    CASE needs it. Other databases count."""
    if connection.vendor != "postgresql":
        return model._default_manager.count(), False
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH estimate AS (
                SELECT CASE WHEN c.reltuples > 0 AND c.relpages > 0
                    THEN (c.reltuples / c.relpages)
                         * (pg_relation_size(c.oid) / current_setting('block_size')::int)
                    ELSE -1 END AS n
                FROM pg_class c WHERE c.oid = %s::regclass
            )
            SELECT CASE WHEN n >= %s THEN n::bigint ELSE (SELECT count(*) FROM {table}) END,
                   n >= %s
            FROM estimate
            """,
            [model._meta.db_table, exact_below, exact_below],
        )
        total, estimated = cursor.fetchone()
    return int(total), bool(estimated)

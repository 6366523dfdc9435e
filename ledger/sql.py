"""Lean SQL for the stock hot path.

The ORM is used everywhere else; on the path every sale takes (lock levels, insert the
operation, reservation and movements, update the levels) its per-statement Python cost
dominated the database's own work. These helpers keep the models' column definitions
(values are prepared by each field, so JSON, datetimes and defaults behave exactly as
with `save()`), and only skip the query compiler. PostgreSQL and SQLite both support the
statements used (row-value IN, RETURNING, ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model

from .models import Location, StockLevel


def _columns(model: type[Model]):
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    return fields, names


def insert(objs: Sequence[Model], *, with_ids: bool = True) -> None:
    """INSERT the objects (one statement) and set their primary keys."""
    if not objs:
        return
    model = type(objs[0])
    fields, names = _columns(model)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params: list = []
    for obj in objs:
        params.extend(_insert_values(obj, fields))
    sql = f"INSERT INTO {model._meta.db_table} ({names}) VALUES {', '.join([row] * len(objs))}"
    with connection.cursor() as cursor:
        if not with_ids:
            cursor.execute(sql, params)
        else:
            cursor.execute(sql + " RETURNING id", params)
            # PostgreSQL and SQLite return rows of a multi-row VALUES insert in order
            # (Django's own bulk_create relies on the same).
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
    for obj in objs:
        _mark_saved(obj)


def _insert_values(obj: Model, fields) -> list:
    """The object's column values, prepared as save() prepares them."""
    # Picks up the pk of a related object saved after it was assigned (as save() does).
    obj._prepare_related_fields_for_save(operation_name="insert")
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


def _mark_saved(obj: Model) -> None:
    obj._state.adding = False
    obj._state.db = connection.alias


def insert_unless_taken(obj: Model, *, unique: str) -> bool:
    """INSERT one object unless a row with the same `unique` column value exists (or is
    being inserted by a concurrent transaction, which this waits for). True when inserted
    (its primary key is then set); no exception either way, so no savepoint is needed."""
    model = type(obj)
    fields, names = _columns(model)
    params = _insert_values(obj, fields)
    column = connection.ops.quote_name(model._meta.get_field(unique).column)
    sql = (
        f"INSERT INTO {model._meta.db_table} ({names}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({column}) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    _mark_saved(obj)
    return True


def lock_levels(pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """SELECT ... FOR UPDATE the levels of these (sku_id, location_id) pairs, in id order."""
    table = StockLevel._meta.db_table
    values = ", ".join(["(%s, %s)"] * len(pairs))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = (
        f"SELECT id, sku_id, location_id, on_hand, committed, version FROM {table} "
        f"WHERE (sku_id, location_id) IN (VALUES {values}) ORDER BY id{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for pair in pairs for value in pair])
        rows = cursor.fetchall()
    levels = {}
    for pk, sku_id, location_id, on_hand, committed, version in rows:
        level = StockLevel(
            id=pk,
            sku_id=sku_id,
            location_id=location_id,
            on_hand=on_hand,
            committed=committed,
            version=version,
        )
        level._state.adding = False
        level._state.db = connection.alias
        levels[(sku_id, location_id)] = level
    return levels


def create_missing_levels(pairs: Sequence[tuple[int, int]], now) -> None:
    table = StockLevel._meta.db_table
    values = ", ".join(["(%s, %s, 0, 0, 0, %s)"] * len(pairs))
    params = [value for sku_id, location_id in pairs for value in (sku_id, location_id, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (sku_id, location_id, on_hand, committed, version, updated_at) "
            f"VALUES {values} ON CONFLICT (sku_id, location_id) DO NOTHING",
            params,
        )


def update_levels(levels: Sequence[StockLevel], now) -> None:
    table = StockLevel._meta.db_table
    rows = [(lv.on_hand, lv.committed, lv.version, now, lv.pk) for lv in levels]
    sql = (
        f"UPDATE {table} SET on_hand = %s, committed = %s, version = %s, updated_at = %s "
        "WHERE id = %s"
    )
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)


def locations_by_priority() -> list[Location]:
    """Every location, highest priority (lowest number) first: where an unplaced
    reservation takes stock from."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, code, name, priority, is_default FROM {Location._meta.db_table} "
            "ORDER BY priority, id"
        )
        rows = cursor.fetchall()
    places = []
    for pk, code, name, priority, is_default in rows:
        place = Location(id=pk, code=code, name=name, priority=priority, is_default=is_default)
        place._state.adding = False
        place._state.db = connection.alias
        places.append(place)
    return places

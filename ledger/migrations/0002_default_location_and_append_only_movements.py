"""The default location, and the database trigger that makes movements append-only.

The trigger lives in the database, not in Python, so no ORM path, admin action or
stray SQL can rewrite history. TRUNCATE (used by test teardown) is not a row event.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION ledger_movement_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger movements are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_movement_append_only
    BEFORE UPDATE OR DELETE ON ledger_movement
    FOR EACH ROW EXECUTE FUNCTION ledger_movement_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS ledger_movement_append_only ON ledger_movement;
DROP FUNCTION IF EXISTS ledger_movement_append_only();
"""
SQLITE_UP = [
    """CREATE TRIGGER ledger_movement_no_update BEFORE UPDATE ON ledger_movement
       BEGIN SELECT RAISE(ABORT, 'ledger movements are append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER ledger_movement_no_delete BEFORE DELETE ON ledger_movement
       BEGIN SELECT RAISE(ABORT, 'ledger movements are append-only: DELETE refused'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS ledger_movement_no_update;",
    "DROP TRIGGER IF EXISTS ledger_movement_no_delete;",
]


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"No append-only trigger for {schema_editor.connection.vendor}")


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)
    else:
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


def create_default_location(apps, schema_editor):
    Location = apps.get_model("ledger", "Location")
    if not Location.objects.filter(is_default=True).exists():
        Location.objects.create(code="main", name="Main warehouse", priority=0, is_default=True)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(install_trigger, remove_trigger),
        migrations.RunPython(create_default_location, migrations.RunPython.noop),
    ]

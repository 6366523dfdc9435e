"""The roles see the reconcile runs, digests and count lines (foundation.roles)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from foundation.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("channels", "0007_reconcile")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]

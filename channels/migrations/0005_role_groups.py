"""The role groups (Admin, Merchant, Approver, Viewer) with their permissions: the table
is foundation.roles.ROLES, the one place that says what each role may do."""

from django.db import migrations


def create_role_groups(apps, schema_editor):
    from foundation.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("ledger", "0004_role_permissions"),
        ("channels", "0004_role_permissions"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]

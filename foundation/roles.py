"""The roles, in one table: what each Django group may do, as model permissions.

The API and the dashboard check the same permissions (`foundation.permissions`), so a
role means the same everywhere. A migration creates the groups from this table
(`channels/migrations/0005_role_groups.py` calls `sync_role_groups`); superusers have
every permission. A person may be in several groups.

- Viewer: reads everything the hub shows; changes nothing.
- Merchant: the catalogue and the stock (SKUs, locations, movements, counts,
  reservations), and the channels' names, enabled flag, allocation rules, buffers and
  listings. Not a channel's credentials, secrets or endpoints.
- Approver: decisions on what went wrong: drift, the dead-letter queue, oversell
  incidents.
- Admin: channels themselves (create, credentials, webhook secrets, endpoints) and the
  people (users and their groups), on top of everything the others may do.
"""

from __future__ import annotations

VIEW = [
    "ledger.view_sku",
    "ledger.view_location",
    "ledger.view_stocklevel",
    "ledger.view_movement",
    "ledger.view_stockoperation",
    "ledger.view_reservation",
    "ledger.view_oversellincident",
    "channels.view_channel",
    "channels.view_allocationrule",
    "channels.view_listing",
    "channels.view_outboxentry",
    "channels.view_channelaudit",
    "channels.view_inboundevent",
    "channels.view_channelorderline",
    "channels.view_drift",
    "channels.view_reconcilerun",
    "channels.view_digest",
    "channels.view_countline",
]
MERCHANT = [
    "ledger.add_sku",
    "ledger.change_sku",
    "ledger.add_location",
    "ledger.change_location",
    "ledger.record_movement",
    "ledger.add_reservation",
    "ledger.change_reservation",
    "channels.change_channel",
    "channels.add_allocationrule",
    "channels.change_allocationrule",
    "channels.delete_allocationrule",
    "channels.change_listing",
]
APPROVER = [
    "channels.decide_drift",
    "channels.act_on_dlq",
    "ledger.resolve_oversellincident",
]
ADMIN = [
    "channels.add_channel",
    "channels.delete_channel",
    "channels.manage_channel_endpoints",
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.view_group",
]

ROLES: dict[str, list[str]] = {
    "Viewer": VIEW,
    "Merchant": VIEW + MERCHANT,
    "Approver": VIEW + APPROVER,
    "Admin": VIEW + MERCHANT + APPROVER + ADMIN,
}


def sync_role_groups(apps) -> None:
    """Create (or bring up to date) one group per role with exactly its permissions.

    Takes the app registry it is given (a migration's historical one works), and creates
    the models' permissions first: Django makes them only after all migrations ran."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, codes in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".")
            permission = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is None:
                if not _model_exists(apps, app_label, codename):
                    continue  # its model comes with a later migration, which syncs again
                raise LookupError(f"Role {name}: no permission {code}")
            wanted.append(permission)
        group.permissions.set(wanted)


def _model_exists(apps, app_label: str, codename: str) -> bool:
    """Whether the model of a default permission (view_/add_/change_/delete_<model>) is in
    this (historical) registry; custom permissions are taken to exist."""
    action, _, model = codename.partition("_")
    if action not in ("view", "add", "change", "delete"):
        return True
    try:
        apps.get_model(app_label, model)
    except LookupError:
        return False
    return True

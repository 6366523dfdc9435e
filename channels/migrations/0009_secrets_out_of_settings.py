"""Secrets kept in a channel's plain settings JSON (eBay's application_token and
verification_token, a token or client secret put in the wrong object) move to its
Fernet-encrypted credentials, under the same name, where the adapters and the intake
read them. A credential already stored under that name wins, as it did at runtime
(channels.intake.verify); the settings copy is dropped either way.

The names are frozen here (channels.settings_schema is the live list): a migration
means what it meant when it was written. Going back leaves the secrets encrypted: the
code before this reads them from the credentials too.
"""

import re

from django.db import migrations

SECRET_SETTINGS = frozenset(
    {
        "application_token",
        "verification_token",
        "access_token",
        "refresh_token",
        "client_secret",
        "lwa_client_secret",
        "aws_secret_access_key",
        "aws_session_token",
        "consumer_key",
        "consumer_secret",
        "push_secret",
        "webhook_secret",
    }
)
SECRET_NAME = re.compile(r"(secret|token|password|passwd|api_?key|private_?key)", re.I)


def is_secret(name: str) -> bool:
    return name in SECRET_SETTINGS or (
        bool(SECRET_NAME.search(name)) and not name.endswith(("_url", "_uri"))
    )


def secrets_to_credentials(apps, schema_editor):
    Channel = apps.get_model("channels", "Channel")
    # Channels are few, and a secret may hide under any name the pattern matches: read
    # each one.
    for channel in Channel.objects.order_by("pk").iterator():
        settings = dict(channel.settings or {})
        secrets = {name: value for name, value in settings.items() if is_secret(name)}
        if not secrets:
            continue
        credentials = dict(channel.credentials or {})
        for name, value in secrets.items():
            del settings[name]
            if value not in (None, "") and name not in credentials:
                credentials[name] = value
        channel.settings = settings
        channel.credentials = credentials
        # updated_at moves too: the intake's per-process cache of a channel's secrets is
        # keyed by it.
        channel.save(update_fields=["settings", "credentials", "updated_at"])


class Migration(migrations.Migration):
    dependencies = [("channels", "0008_reconcile_roles")]

    operations = [migrations.RunPython(secrets_to_credentials, migrations.RunPython.noop)]

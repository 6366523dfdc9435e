"""Shopify channels are paced by GraphQL query cost: their bucket is in points.

Channels still at the old request-count defaults (5/s, burst 20) move to the Standard
plan's budget (100 points/s, 1000 points). Any other values were set by someone on purpose
and are left alone.
"""

from django.db import migrations, models

OLD = (5.0, 20)
NEW = (100.0, 1000)


def _move(apps, before, after):
    Channel = apps.get_model("channels", "Channel")
    Channel.objects.filter(
        kind="shopify", rate_limit_per_second=before[0], rate_limit_burst=before[1]
    ).update(rate_limit_per_second=after[0], rate_limit_burst=after[1])


def to_points(apps, schema_editor):
    _move(apps, OLD, NEW)


def to_requests(apps, schema_editor):
    _move(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0002_intake"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="rate_limit_burst",
            field=models.PositiveIntegerField(
                default=20,
                help_text="Most spent at once: requests; for Shopify, query-cost points (1000).",
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="rate_limit_per_second",
            field=models.FloatField(
                default=10.0,
                help_text="The channel's sustained budget: requests per second; for Shopify, "
                "GraphQL query-cost points per second (100 on the Standard plan, raise it for "
                "a bigger plan).",
            ),
        ),
        migrations.RunPython(to_points, to_requests),
    ]

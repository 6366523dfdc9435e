from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("channels", "0009_secrets_out_of_settings")]

    operations = [
        migrations.AlterField(
            model_name="inboundevent",
            name="status",
            field=models.CharField(
                choices=[
                    ("received", "Received"),
                    ("processed", "Processed"),
                    ("duplicate", "Duplicate"),
                    ("ignored_stale", "Ignored (stale)"),
                    ("other_location", "Ignored (another location)"),
                    ("unmapped", "Unmapped SKU"),
                    ("failed", "Failed (will retry)"),
                    ("dead", "Dead (gave up)"),
                ],
                default="received",
                max_length=15,
            ),
        ),
    ]

from django.db import migrations

from audits.append_only import RefuseTruncate


class Migration(migrations.Migration):
    """The scan log and its anomalies refuse TRUNCATE too (PostgreSQL statement triggers)."""

    dependencies = [("scanning", "0002_append_only")]

    operations = [
        RefuseTruncate("scanning_scanlog"),
        RefuseTruncate("scanning_scananomaly"),
    ]

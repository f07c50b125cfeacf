from django.db import migrations

from audits.append_only import AppendOnly


class Migration(migrations.Migration):
    """The scan log and its anomalies are history: PostgreSQL refuses UPDATE and DELETE on
    them, even from raw SQL."""

    dependencies = [("scanning", "0001_initial")]

    operations = [
        AppendOnly("scanning_scanlog"),
        AppendOnly("scanning_scananomaly"),
    ]

from django.db import migrations

from audits.append_only import AppendOnly


class Migration(migrations.Migration):
    """The device lifecycle and the exam register are history: PostgreSQL refuses UPDATE and
    DELETE on them, even from raw SQL."""

    dependencies = [("devices", "0001_initial")]

    operations = [
        AppendOnly("devices_deviceevent"),
        AppendOnly("devices_deviceexam"),
    ]

from django.db import migrations

from audits.append_only import AppendOnly, RefuseTruncate


class Migration(migrations.Migration):
    """Refused device acts are kept for inspectors and never change; the lifecycle and the
    exam register refuse TRUNCATE too (PostgreSQL triggers)."""

    dependencies = [("devices", "0002_append_only")]

    operations = [
        AppendOnly("devices_devicerefusal"),
        RefuseTruncate("devices_deviceevent"),
        RefuseTruncate("devices_deviceexam"),
    ]

from django.db import migrations

from audits.append_only import AppendOnly


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial"), ("audits", "0002_append_only")]

    operations = [AppendOnly("inventory_stockmovement")]

from django.db import migrations

from audits.append_only import AppendOnly


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial")]

    operations = [AppendOnly("audits_auditentry")]

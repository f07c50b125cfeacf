from django.db import migrations

from audits.append_only import AppendOnly


class Migration(migrations.Migration):
    """Signed closings and submitted sales filings never change (PostgreSQL triggers)."""

    dependencies = [("audits", "0003_reconciliation")]

    operations = [
        AppendOnly("audits_signedclosing"),
        AppendOnly("audits_signedclosingline"),
        AppendOnly("audits_salesfiling"),
        AppendOnly("audits_salesfilingline"),
    ]

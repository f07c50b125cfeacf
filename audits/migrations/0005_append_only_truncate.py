from django.db import migrations

from audits.append_only import RefuseTruncate


class Migration(migrations.Migration):
    """The audit trail, signed closings and sales filings refuse TRUNCATE too (PostgreSQL
    statement triggers; their rows were already protected against UPDATE and DELETE)."""

    dependencies = [("audits", "0004_append_only_filings")]

    operations = [
        RefuseTruncate("audits_auditentry"),
        RefuseTruncate("audits_signedclosing"),
        RefuseTruncate("audits_signedclosingline"),
        RefuseTruncate("audits_salesfiling"),
        RefuseTruncate("audits_salesfilingline"),
    ]

from django.db import migrations

from audits.append_only import AppendOnly


class Migration(migrations.Migration):
    """What a visit recorded never changes (PostgreSQL triggers): checklist answers, ticks,
    findings, evidence photos, finding actions and case events."""

    dependencies = [("sweeps", "0001_initial")]

    operations = [
        AppendOnly("sweeps_checklistanswer"),
        AppendOnly("sweeps_tick"),
        AppendOnly("sweeps_finding"),
        AppendOnly("sweeps_evidencephoto"),
        AppendOnly("sweeps_findingaction"),
        AppendOnly("sweeps_caseevent"),
    ]

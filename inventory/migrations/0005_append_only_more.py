from django.db import migrations

from audits.append_only import AppendOnly, RefuseTruncate


class Migration(migrations.Migration):
    """The use register and the other documents of the drug chain are history: PostgreSQL
    refuses UPDATE, DELETE and TRUNCATE on them, even from raw SQL. None of these rows is
    ever changed by the application (a mistake is corrected by a compensating movement);
    shipments, shipment lines, batches and pack codes are left out: their status changes."""

    dependencies = [("inventory", "0004_dispense_refusal")]

    operations = [
        AppendOnly("inventory_dispense"),
        AppendOnly("inventory_dispense_emergency_physicians"),
        AppendOnly("inventory_intake"),
        AppendOnly("inventory_shipmentrefusal"),
        AppendOnly("inventory_dispenserefusal"),
        AppendOnly("inventory_shipmentdiscrepancy"),
        AppendOnly("inventory_disposal"),
        AppendOnly("inventory_seizure"),
        AppendOnly("inventory_stockcount"),
        RefuseTruncate("inventory_stockmovement"),
    ]

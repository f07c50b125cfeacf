"""PostgreSQL only: the records nobody may rewrite refuse UPDATE and DELETE row by row, and
every append-only table refuses TRUNCATE, even from raw SQL.

Run with DATABASE_URL=postgres://... ; on SQLite these are skipped (there are no triggers:
the application never rewrites these rows and the hash chain detects tampering)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from inventory import services
from inventory.devices.models import DeviceRefusal
from inventory.models import DispenseRefusal, ShipmentRefusal
from tests.inventory.factories import BatchFactory, dispense_kwargs, ship, stock_institution, stock_wholesaler

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: the append-only triggers exist only there (set DATABASE_URL=postgres://...)",
)
pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db]

# Made append-only by inventory 0005 and devices 0003.
NEW_TABLES = [
    "inventory_dispense", "inventory_dispense_emergency_physicians", "inventory_intake",
    "inventory_shipmentrefusal", "inventory_dispenserefusal", "inventory_shipmentdiscrepancy",
    "inventory_disposal", "inventory_seizure", "inventory_stockcount", "devices_devicerefusal",
]
# Every append-only table: TRUNCATE is refused on each.
ALL_TABLES = [
    *NEW_TABLES, "inventory_stockmovement", "audits_auditentry", "audits_signedclosing",
    "audits_signedclosingline", "audits_salesfiling", "audits_salesfilingline", "devices_deviceevent",
    "devices_deviceexam", "scanning_scanlog", "scanning_scananomaly",
]


@pytest.fixture
def rows(county):
    """At least one row in each new table, written the way the application writes them."""
    batch = BatchFactory()
    stock_institution(county, batch, 40)  # an intake, a shipment
    services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, batch))
    short = BatchFactory()
    stock_wholesaler(county, short, 10)
    shipment = ship(county, short, 10, receive=False)
    services.shipment_receive(actor=county.pharmacist, shipment=shipment,
                              lines=[{"line": shipment.lines.get().pk, "received_quantity": 9, "note": "破损"}])
    services.disposal_record(actor=county.pharmacist, batch=batch, quantity=1, reason="damaged", witness_name="王五")
    services.seizure_record(actor=county.inspector, holder=county.hospital, batch=batch, quantity=1)
    services.stock_count_record(actor=county.pharmacist, batch=batch, counted=30)
    now = timezone.now()
    ShipmentRefusal.objects.create(sender=county.wholesaler, recipient=county.pharmacy, attempted_by=county.clerk,
                                   attempted_at=now, code="recipient_not_authorized", message="x")
    DispenseRefusal.objects.create(institution=county.clinic, attempted_by=county.pharmacist, attempted_at=now,
                                   code="institution_not_authorized", message="x")
    DeviceRefusal.objects.create(holder=county.hospital, code="device_duplicate_filing", message="x",
                                 brand="GE", model="E8", serial_number="S1", identity="GE|E8|S1")
    with connection.cursor() as cursor:
        cursor.execute(  # emergency signers: a dispense with its through-table rows
            "INSERT INTO inventory_dispense_emergency_physicians (dispense_id, person_id) "
            "SELECT d.id, %s FROM inventory_dispense d LIMIT 1", [county.physician.person_id])
    return {table: _count(table) for table in NEW_TABLES}


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608
        return cursor.fetchone()[0]


def _refused(*sql: str) -> None:
    with pytest.raises(DatabaseError, match="refused: the table is append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)


@pytest.mark.parametrize("table", NEW_TABLES)
def test_raw_update_and_delete_are_refused(rows, table):
    assert rows[table] >= 1
    column = "dispense_id" if table.endswith("_emergency_physicians") else "id"
    _refused(f'UPDATE "{table}" SET {column} = {column}')  # noqa: S608
    _refused(f'DELETE FROM "{table}"')  # noqa: S608
    assert _count(table) == rows[table]


@pytest.mark.parametrize("table", ALL_TABLES)
def test_truncate_is_refused(rows, table):
    before = _count(table)
    # the deferred foreign-key checks of the rows just written would block TRUNCATE first
    _refused("SET CONSTRAINTS ALL IMMEDIATE", f'TRUNCATE "{table}" CASCADE')
    assert _count(table) == before


def test_the_application_still_writes_them(rows, county):
    """The triggers refuse rewriting, not writing: a second dispense is recorded."""
    batch = BatchFactory()
    stock_institution(county, batch, 5)
    services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, batch))
    assert _count("inventory_dispense") == rows["inventory_dispense"] + 1

"""The ledger through the services: intake, shipment life cycle, dispense, disposal, seizure."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.models import Licence
from inventory import selectors, services
from inventory.errors import BatchExpired, InsufficientStock, RecipientNotAuthorized
from inventory.models import (
    Batch,
    ShipmentDiscrepancy,
    ShipmentRefusal,
    StockMovement,
    StockPosition,
    parse_expiry,
)
from tests.factories import UserFactory
from tests.inventory.factories import (
    BatchFactory,
    dispense_kwargs,
    ship,
    stock_institution,
    stock_wholesaler,
)

pytestmark = pytest.mark.django_db


def qty(holder, batch, in_transit=False):
    return selectors.position_quantity(holder.pk, batch.pk, in_transit=in_transit)


def test_gs1_day_00_means_last_day_of_month():
    assert parse_expiry("270200") == dt.date(2027, 2, 28)
    assert parse_expiry("280200") == dt.date(2028, 2, 29)
    assert parse_expiry("270315") == dt.date(2027, 3, 15)
    assert parse_expiry("2027-11") == dt.date(2027, 11, 30)
    assert parse_expiry("2027.11.05") == dt.date(2027, 11, 5)
    with pytest.raises(ValueError):
        parse_expiry("271300")


def test_batch_unique_per_product_and_lot(county):
    batch = BatchFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Batch.objects.create(product=batch.product, lot_number=batch.lot_number, expiry_printed="270100",
                             expiry_date=dt.date(2027, 1, 31))


def test_batch_get_or_create_keeps_printed_expiry_and_refuses_a_different_one(county):
    from backend.errors import Conflict
    from tests.inventory.factories import DrugProductFactory

    product = DrugProductFactory()
    batch = services.batch_get_or_create(product=product, lot_number="A1", expiry_printed="271000")
    assert (batch.expiry_printed, batch.expiry_date) == ("271000", dt.date(2027, 10, 31))
    assert services.batch_get_or_create(product=product, lot_number="A1", expiry_printed="2027-10-31") == batch
    with pytest.raises(Conflict) as exc:
        services.batch_get_or_create(product=product, lot_number="A1", expiry_printed="271100")
    assert exc.value.code == "batch_expiry_mismatch"


def test_intake_dispatch_receive_moves_stock_through_transit(county):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 100)
    assert qty(county.wholesaler, batch) == 100
    shipment = ship(county, batch, 40, receive=False)
    assert (qty(county.wholesaler, batch), qty(county.wholesaler, batch, True)) == (60, 40)
    services.shipment_receive(actor=county.pharmacist, shipment=shipment)
    assert (qty(county.wholesaler, batch, True), qty(county.hospital, batch)) == (0, 40)
    shipment.refresh_from_db()
    assert shipment.status == "received"
    assert selectors.ledger_mismatches() == []
    assert selectors.wholesaler_flow(county.wholesaler.pk)["balanced"]


def test_receipt_shortage_is_a_recorded_discrepancy(county):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 100)
    shipment = ship(county, batch, 30, receive=False)
    line = shipment.lines.get()
    services.shipment_receive(actor=county.pharmacist, shipment=shipment,
                              lines=[{"line": line.pk, "received_quantity": 28, "note": "两盒破损"}])
    d = ShipmentDiscrepancy.objects.get(line=line)
    assert (d.kind, d.shipped, d.received, d.difference) == ("shortage", 30, 28, -2)
    assert qty(county.hospital, batch) == 28
    flow = selectors.wholesaler_flow(county.wholesaler.pk)
    assert flow["left"] == 30 and flow["received"] == 28 and flow["net_discrepancy"] == 2 and flow["balanced"]


def test_reject_returns_stock_to_sender(county):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 10)
    shipment = ship(county, batch, 10, receive=False)
    services.shipment_reject(actor=county.pharmacist, shipment=shipment, reason="未订购")
    assert (qty(county.wholesaler, batch), qty(county.wholesaler, batch, True)) == (10, 0)
    flow = selectors.wholesaler_flow(county.wholesaler.pk)
    assert flow["returned"] == 10 and flow["balanced"]


def test_dispatch_to_retail_pharmacy_is_refused_and_stored(county):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 10)
    shipment = services.shipment_create(actor=county.clerk, recipient=county.pharmacy,
                                        lines=[{"batch": batch, "quantity": 5}])
    with pytest.raises(RecipientNotAuthorized) as exc:
        services.shipment_dispatch(actor=county.clerk, shipment=shipment)
    assert exc.value.status_code == 422
    assert exc.value.details["clauses"][0]["code"] == "retail_pharmacy"
    refusal = ShipmentRefusal.objects.get()
    assert (refusal.sender, refusal.recipient, refusal.code) == (county.wholesaler, county.pharmacy,
                                                                 "recipient_not_authorized")
    assert refusal.lines[0]["quantity"] == 5
    assert qty(county.wholesaler, batch) == 10  # nothing left the wholesaler
    shipment.refresh_from_db()
    assert shipment.status == "draft"


def test_dispatch_refused_when_approval_lapsed_last_week(county):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 10)
    Licence.objects.filter(holder_organisation=county.hospital, kind="termination_approval").update(
        valid_until=timezone.localdate() - dt.timedelta(days=7), valid_from=timezone.localdate() - dt.timedelta(days=400))
    shipment = services.shipment_create(actor=county.clerk, recipient=county.hospital,
                                        lines=[{"batch": batch, "quantity": 5}])
    with pytest.raises(RecipientNotAuthorized) as exc:
        services.shipment_dispatch(actor=county.clerk, shipment=shipment)
    assert exc.value.details["clauses"][0]["code"] == "termination_approval_expired"
    assert ShipmentRefusal.objects.filter(shipment=shipment).exists()


def test_expired_batch_cannot_ship(county):
    batch = BatchFactory(expired=True)
    stock_wholesaler(county, batch, 10)
    shipment = services.shipment_create(actor=county.clerk, recipient=county.hospital,
                                        lines=[{"batch": batch, "quantity": 5}])
    with pytest.raises(BatchExpired):
        services.shipment_dispatch(actor=county.clerk, shipment=shipment)


def test_institution_returns_only_to_its_supplier(county):
    from backend.errors import DomainError
    from tests.factories import OrganisationFactory

    batch = BatchFactory()
    stock_institution(county, batch, 10)
    other_wholesaler = OrganisationFactory(kind="wholesaler", jurisdiction=county.jurisdiction, licensed=True)
    with pytest.raises(DomainError) as exc:
        services.shipment_create(actor=county.pharmacist, recipient=other_wholesaler,
                                 lines=[{"batch": batch, "quantity": 2}])
    assert exc.value.code == "return_to_supplier_only"
    with pytest.raises(DomainError) as exc:
        services.shipment_create(actor=county.pharmacist, recipient=county.other.hospital,
                                 lines=[{"batch": batch, "quantity": 2}])
    assert exc.value.code == "only_wholesalers_ship"
    ret = services.shipment_create(actor=county.pharmacist, recipient=county.wholesaler,
                                   lines=[{"batch": batch, "quantity": 2}])
    services.shipment_dispatch(actor=county.pharmacist, shipment=ret)
    services.shipment_receive(actor=county.clerk, shipment=ret)
    assert (qty(county.hospital, batch), qty(county.wholesaler, batch)) == (8, 2)
    assert selectors.ledger_mismatches() == []


def test_dispense_decrements_and_insufficient_stock_is_409(county):
    batch = BatchFactory()
    stock_institution(county, batch, 3)
    services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, batch, quantity=2))
    assert qty(county.hospital, batch) == 1
    with pytest.raises(InsufficientStock) as exc:
        services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, batch, quantity=2))
    assert exc.value.status_code == 409
    assert exc.value.details["available"] == 1


def test_position_cannot_go_negative_in_the_database(county):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockPosition.objects.filter(holder=county.wholesaler, batch=batch).update(quantity=-1)


def test_duplicate_movement_idempotency_key_impossible(county):
    batch = BatchFactory()
    intake = stock_wholesaler(county, batch, 1)
    StockMovement.objects.create(holder=county.wholesaler, batch=batch, quantity=1, kind="intake",
                                 occurred_at=timezone.now(), intake=intake, idempotency_key="k#0")
    with pytest.raises(IntegrityError), transaction.atomic():
        StockMovement.objects.create(holder=county.wholesaler, batch=batch, quantity=1, kind="intake",
                                     occurred_at=timezone.now(), intake=intake, idempotency_key="k#0")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only")
def test_ledger_refuses_update_and_delete_on_postgresql(county):
    from django.db import DatabaseError

    batch = BatchFactory()
    stock_wholesaler(county, batch, 5)
    movement = StockMovement.objects.get(batch=batch)
    with pytest.raises(DatabaseError), transaction.atomic():
        StockMovement.objects.filter(pk=movement.pk).update(quantity=50)
    with pytest.raises(DatabaseError), transaction.atomic():
        StockMovement.objects.filter(pk=movement.pk).delete()


def test_correction_is_a_compensating_row(county):
    batch = BatchFactory()
    intake = stock_wholesaler(county, batch, 12)
    original = intake.movements.get()
    correction = services.movement_correct(actor=county.clerk, movement=original, reason="录入错误")
    assert (correction.quantity, correction.corrects, correction.kind) == (-12, original, "correction")
    assert StockMovement.objects.filter(pk=original.pk, quantity=12).exists()  # the original stays
    assert qty(county.wholesaler, batch) == 0
    assert selectors.ledger_mismatches() == []


def test_disposal_needs_witness_and_seizure_moves_to_authority(county):
    from backend.errors import InvalidInput

    batch = BatchFactory()
    stock_institution(county, batch, 10)
    with pytest.raises(InvalidInput):
        services.disposal_record(actor=county.pharmacist, batch=batch, quantity=2, reason="damaged", witness_name="")
    services.disposal_record(actor=county.pharmacist, batch=batch, quantity=2, reason="damaged",
                             witness_name="王护士长")
    services.seizure_record(actor=county.inspector, holder=county.hospital, batch=batch, quantity=3,
                            case_reference="衡县两非〔2026〕1号")
    assert (qty(county.hospital, batch), qty(county.authority, batch)) == (5, 3)
    from inventory.errors import NotAllowed

    with pytest.raises(NotAllowed):
        services.seizure_record(actor=county.other.inspector, holder=county.hospital, batch=batch, quantity=1)


def test_every_movement_is_on_the_audit_trail(county):
    """Each movement is listed in the audit entry of the document that caused it (a
    correction, which has no document, has an entry of its own)."""
    from audits.models import AuditEntry

    batch = BatchFactory()
    stock_institution(county, batch, 10)
    services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, batch))
    original = StockMovement.objects.get(kind="dispense")
    services.movement_correct(actor=county.pharmacist, movement=original, reason="登记重复")
    audited = set()
    for entry in AuditEntry.objects.all():
        audited |= {m["id"] for m in (entry.after or {}).get("movements", [])}
        if entry.object_type == "inventory.stockmovement":
            audited.add(int(entry.object_id))
    assert set(StockMovement.objects.values_list("pk", flat=True)) <= audited


def test_register_page_posts_many_dispenses_at_once(county):
    batch = BatchFactory()
    stock_institution(county, batch, 10)
    earlier = timezone.now() - dt.timedelta(days=3)
    entries = [dispense_kwargs(county, batch, quantity=q, occurred_at=earlier) for q in (1, 2, 3)]
    dispenses = services.dispense_record_many(actor=county.pharmacist, entries=entries)
    assert len(dispenses) == 3 and qty(county.hospital, batch) == 4
    assert {m.occurred_at for m in StockMovement.objects.filter(kind="dispense")} == {earlier}
    with pytest.raises(InsufficientStock):
        services.dispense_record_many(actor=county.pharmacist, entries=[dispense_kwargs(county, batch, quantity=5)])
    assert qty(county.hospital, batch) == 4


def test_stock_count_posts_adjustment(county):
    batch = BatchFactory()
    stock_institution(county, batch, 10)
    count = services.stock_count_record(actor=county.pharmacist, batch=batch, counted=9, note="月末盘点")
    assert count.book_quantity == 10
    assert qty(county.hospital, batch) == 9
    assert selectors.stock_balances_as_of(UserFactory(role="pharmacist", organisation=county.hospital),
                                          timezone.localdate()) == [
        {"holder_id": county.hospital.pk, "batch_id": batch.pk, "in_transit": False, "quantity": 9}]


def test_single_position_posting_checks_and_keys_like_the_general_one(county):
    """The one-UPDATE path (one position) refuses what the locking path refuses, with the
    same codes: not enough stock (with the figures), a reused idempotency key."""
    from backend.errors import Conflict
    from inventory import ledger
    from inventory.ledger import Leg

    batch = BatchFactory()
    doc = {"intake": stock_wholesaler(county, batch, 4)}  # any document will do for the ledger
    now = timezone.now()
    with transaction.atomic(), CaptureQueriesContext(connection) as posting:
        ledger.post(legs=[Leg(county.wholesaler.pk, batch.pk, -3)], kind="disposal", actor=county.clerk,
                    occurred_at=now, document=doc, idempotency_key="once")
    assert qty(county.wholesaler, batch) == 1
    # It took the one-UPDATE path: no position read or locked first (PostgreSQL: one statement,
    # the UPDATE and the movement's INSERT; SQLite: the two of them).
    assert len(posting.captured_queries) == (1 if connection.vendor == "postgresql" else 2)
    with pytest.raises(InsufficientStock) as exc, transaction.atomic():
        ledger.post(legs=[Leg(county.wholesaler.pk, batch.pk, -2)], kind="disposal", actor=county.clerk,
                    occurred_at=now, document=doc)
    assert (exc.value.details["available"], exc.value.details["requested"]) == (1, 2)
    with pytest.raises(Conflict) as exc, transaction.atomic():
        ledger.post(legs=[Leg(county.wholesaler.pk, batch.pk, -1)], kind="disposal", actor=county.clerk,
                    occurred_at=now, document=doc, idempotency_key="once")
    assert exc.value.code == "duplicate_movement"
    assert qty(county.wholesaler, batch) == 1  # both refusals rolled back
    assert selectors.ledger_mismatches() == []

"""POST /api/scan/ end to end through HTTP: lookup, receive, dispense, count, inspect; the
scan log; keyboard-wedge input; the codec's refusals; idempotent replay; visibility."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audits import counts
from backend.models import Licence
from inventory.devices import services as device_services
from inventory.models import Dispense, Shipment, StockMovement
from scanning.models import ScanAnomaly, ScanLog
from tests.conftest import error_of
from tests.devices.factories import file_device, operator
from tests.factories import UserFactory
from tests.inventory.factories import (
    dispense_context,
    dispense_payload,
    stock_institution,
    stock_wholesaler,
)
from tests.scanning.scan_helpers import (
    URL,
    expire,
    gs1_batch,
    gs1_text,
    scan,
    stock_with_packs,
    trace_codes,
)

pytestmark = pytest.mark.django_db


def flags(response) -> set[str]:
    return {f["code"] for f in response.json()["flags"]}


# --- lookup ------------------------------------------------------------------------------------


def test_lookup_gs1_batch_shows_product_expiry_and_own_balance(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 30)
    r = scan(client_for(county.pharmacist), gs1_text(batch))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["entity"] == "batch"
    assert body["product"]["id"] == batch.product_id
    assert body["batch"]["lot_number"] == batch.lot_number
    assert body["expiry"] == batch.expiry_date.isoformat()
    assert body["balance"] == 30
    assert [h["holder"] for h in body["holders"]] == [county.hospital.pk]
    assert body["flags"] == []
    log = ScanLog.objects.get(pk=body["scan"])
    assert (log.user, log.organisation, log.action, log.outcome, log.batch) == (
        county.pharmacist, county.hospital, "lookup", "ok", batch)
    assert log.raw == gs1_text(batch) and log.payload["gtin"] == batch.product.gtins[0]


@pytest.mark.parametrize("wedge", [
    "]C1{es}\r\n",
    "]C1{hri_gs}\n",
    "{es_caret}\r",
    "  ]d2{es}\r\n",
])
def test_keyboard_wedge_input_reads_the_same(county, client_for, wedge):
    batch = gs1_batch()
    stock_institution(county, batch, 5)
    es = gs1_text(batch, serial="S0001")
    code = wedge.format(es=es, hri_gs=es.replace("\x1d", "<GS>"), es_caret=es.replace("\x1d", "^]"))
    r = scan(client_for(county.pharmacist), code)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["payload"]["gtin"] == batch.product.gtins[0]
    assert body["payload"]["lot"] == batch.lot_number and body["payload"]["serial"] == "S0001"
    assert body["entity"] == "batch" and body["batch"]["id"] == batch.pk
    assert ScanLog.objects.get(pk=body["scan"]).raw == code  # the raw text is kept as typed


def test_expired_batch_is_flagged(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 5)
    expire(batch)
    r = scan(client_for(county.pharmacist), gs1_text(batch))
    assert r.status_code == 200
    assert "expired" in flags(r)


def test_bad_gtin_check_digit_is_refused_with_the_codecs_code_and_logged(county, client_for):
    batch = gs1_batch()
    text = gs1_text(batch)
    bad = text[:15] + str((int(text[15]) + 1) % 10) + text[16:]  # the GTIN's check digit
    r = scan(client_for(county.pharmacist), "]C1" + bad)
    assert r.status_code == 400
    error = error_of(r)
    assert error["code"] == "bad_gtin_check_digit"
    assert error["details"]["ai"] == "01"
    log = ScanLog.objects.get()
    assert (log.outcome, log.error_code, log.status_code, log.payload_kind) == ("invalid", "bad_gtin_check_digit",
                                                                               400, "error")


def test_swallowed_field_is_refused(county, client_for):
    batch = gs1_batch()
    gtin = batch.product.gtins[0]
    r = scan(client_for(county.pharmacist), f"]C101{gtin}10{batch.lot_number}17{batch.expiry_printed}")
    assert r.status_code == 400 and error_of(r)["code"] == "swallowed_field"


def test_unknown_code_is_logged_and_listed_for_inspectors(county, client_for):
    pharmacist = client_for(county.pharmacist)
    r = scan(pharmacist, "QX-7781-UNREGISTERED")
    assert r.status_code == 200
    assert r.json()["entity"] == "unknown" and r.json()["unknown"] is True
    assert "code_unknown" in flags(r)
    scan(pharmacist, gs1_text(gs1_batch()))  # a known one, not listed below

    listed = client_for(county.inspector).get("/api/scans/", {"unknown": "true"}).json()["results"]
    assert [row["raw"] for row in listed] == ["QX-7781-UNREGISTERED"]
    assert listed[0]["organisation"] == county.hospital.pk and listed[0]["flags"] == ["code_unknown"]
    assert client_for(county.other.inspector).get("/api/scans/", {"unknown": "true"}).json()["count"] == 0
    assert client_for(county.clerk).get("/api/scans/").json()["count"] == 0  # members: their own only
    assert client_for(county.pharmacist).get("/api/scans/").json()["count"] == 2


def test_unknown_lot_of_known_product_is_flagged(county, client_for):
    batch = gs1_batch()
    batch_text = gs1_text(batch).replace(batch.lot_number, "NOSUCHLOT")
    r = scan(client_for(county.inspector), batch_text)
    assert r.status_code == 200
    assert r.json()["entity"] == "product" and "batch_unknown" in flags(r) and r.json()["unknown"] is True


def quantities_in(data) -> list:
    """Every value under a `quantity` or `balance` key, at any depth of a JSON body."""
    if isinstance(data, dict):
        return [v for k, v in data.items() if k in ("quantity", "balance")] + [
            q for v in data.values() for q in quantities_in(v)]
    if isinstance(data, list):
        return [q for item in data for q in quantities_in(item)]
    return []


def test_member_scanning_another_organisations_batch_does_not_see_its_balance(county, client_for):
    batch = gs1_batch()
    stock_wholesaler(county, batch, 80)  # held by the wholesaler only
    r = scan(client_for(county.pharmacist), gs1_text(batch))
    assert r.status_code == 200
    body = r.json()
    assert body["balance"] == 0 and body["holders"] == []
    # nothing anywhere in the answer tells the wholesaler's quantity or names it as a holder
    # (the body holds other digits: the printed expiry, ids)
    assert 80 not in quantities_in(body)
    assert county.wholesaler.name not in r.content.decode()
    assert "batch_held_elsewhere" in flags(r)
    anomaly = ScanAnomaly.objects.get()
    assert (anomaly.kind, anomaly.batch, anomaly.holder) == ("batch_off_books", batch, county.hospital)
    # the county's inspector sees where it is
    r = scan(client_for(county.inspector), gs1_text(batch))
    assert r.json()["holders"] == [{"holder": county.wholesaler.pk, "holder_name": county.wholesaler.name,
                                    "in_transit": False, "quantity": 80}]
    assert r.json()["balance"] is None and "batch_held_elsewhere" not in flags(r)
    # another county's inspector sees what it is, not where
    r = scan(client_for(county.other.inspector), gs1_text(batch))
    assert r.json()["entity"] == "batch" and r.json()["holders"] == []


def test_batch_on_its_way_here_is_not_off_the_books(county, client_for):
    batch = gs1_batch()
    stock_wholesaler(county, batch, 10)
    from tests.inventory.factories import ship

    ship(county, batch, 10, receive=False)
    r = scan(client_for(county.pharmacist), gs1_text(batch))
    assert "batch_held_elsewhere" not in flags(r)


def test_traceability_code_names_the_pack(county, client_for):
    batch = gs1_batch()
    packs = trace_codes(batch, 2)
    stock_with_packs(county, batch, 12, packs)
    r = scan(client_for(county.pharmacist), packs[1] + "\r\n")
    assert r.status_code == 200
    body = r.json()
    assert body["entity"] == "pack" and body["pack"]["code"] == packs[1] and body["pack"]["dispensed"] == 0
    assert body["batch"]["id"] == batch.pk and body["balance"] == 12 and body["flags"] == []


def test_unregistered_trace_code_of_a_known_product(county, client_for):
    batch = gs1_batch()
    code = trace_codes(batch, 1, start=999)[0]
    r = scan(client_for(county.inspector), code)
    assert r.json()["entity"] == "product" and "pack_unknown" in flags(r) and r.json()["unknown"] is True


# --- devices -----------------------------------------------------------------------------------


def test_device_with_an_expired_operator_licence_is_flagged(county, client_for):
    sono = operator(county.hospital)
    device = file_device(holder=county.hospital, operators=[sono])
    Licence.objects.filter(holder_person=sono).update(valid_until=timezone.localdate() - dt.timedelta(days=1))
    r = scan(client_for(county.inspector), device.asset_tag)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["entity"] == "device" and body["device"]["id"] == device.pk
    assert body["device"]["holder"]["id"] == county.hospital.pk
    assert "operator_licence_expired" in flags(r)
    flag = next(f for f in body["flags"] if f["code"] == "operator_licence_expired")
    assert flag["details"]["operators"] == [{"person": sono.pk, "clauses": ["maternal_infant_expired"]}]
    assert body["device"]["operators"][0]["licensed"] is False
    assert ScanLog.objects.get(pk=body["scan"]).flags == ["operator_licence_expired"]


def test_device_with_licensed_operators_has_no_flags(county, client_for):
    device = file_device(holder=county.hospital)
    r = scan(client_for(county.physician), f"]C0{device.asset_tag}\r\n")
    assert r.status_code == 200 and r.json()["flags"] == [] and r.json()["device"]["status"] == "active"


def test_sealed_scrapped_other_holder_and_unregistered_devices(county, client_for):
    device = file_device(holder=county.hospital)
    device_services.device_seal(actor=county.inspector, device=device, reference="案-2026-1")
    assert "device_sealed" in flags(scan(client_for(county.inspector), device.asset_tag))
    # a member of another organisation: flagged, and sees neither holder nor operators
    r = scan(client_for(county.clerk), device.asset_tag)
    assert {"device_sealed", "device_at_other_holder"} <= flags(r)
    assert "holder" not in r.json()["device"] and "operators" not in r.json()["device"]

    scrapped = file_device(holder=county.hospital)
    device_services.device_scrap(actor=county.office_admin, device=scrapped, witness="王五")
    assert "device_scrapped" in flags(scan(client_for(county.inspector), scrapped.asset_tag))

    r = scan(client_for(county.inspector), "DV-99999999")
    assert r.json()["entity"] == "device" and "device_unregistered" in flags(r) and r.json()["unknown"] is True


# --- dispense ------------------------------------------------------------------------------------


def test_dispense_by_scan_equals_rest(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 20)
    pharmacist = client_for(county.pharmacist)
    rest = pharmacist.post("/api/dispenses/", dispense_payload(county, batch, quantity=2), format="json")
    r = scan(pharmacist, gs1_text(batch), action="dispense", **dispense_context(county, quantity=2))
    assert (rest.status_code, r.status_code) == (201, 201), r.content
    result = r.json()["result"]
    ignore = {"id", "occurred_at", "recorded_at"}
    assert {k: v for k, v in result.items() if k not in ignore} == {
        k: v for k, v in rest.json().items() if k not in ignore}
    assert StockMovement.objects.filter(dispense_id=result["id"]).get().quantity == -2
    log = ScanLog.objects.get(pk=r.json()["scan"])
    assert (log.action, log.outcome, log.dispense_id, log.context) == ("dispense", "ok", result["id"], {"quantity": 2})
    assert "陈小红" not in str(log.payload) + str(log.context)  # no patient data in the log


def test_dispense_refusal_has_the_rest_code_and_is_logged(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 20)
    expire(batch)
    pharmacist = client_for(county.pharmacist)
    rest = pharmacist.post("/api/dispenses/", dispense_payload(county, batch), format="json")
    r = scan(pharmacist, gs1_text(batch), action="dispense", **dispense_context(county))
    assert rest.status_code == r.status_code == 422
    assert error_of(r) == error_of(rest)
    assert error_of(r)["code"] == "batch_expired"
    assert Dispense.objects.count() == 0
    log = ScanLog.objects.get()
    assert (log.action, log.outcome, log.error_code, log.status_code, log.batch) == (
        "dispense", "refused", "batch_expired", 422, batch)
    assert "expired" in log.flags


def test_dispense_by_a_physician_is_refused_like_rest(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 20)
    physician = client_for(county.physician)
    rest = physician.post("/api/dispenses/", dispense_payload(county, batch), format="json")
    r = scan(physician, gs1_text(batch), action="dispense", **dispense_context(county))
    assert (r.status_code, error_of(r)["code"]) == (rest.status_code, error_of(rest)["code"])
    assert ScanLog.objects.get().outcome == "refused"


def test_dispense_validation_errors_are_rest_shaped(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 20)
    r = scan(client_for(county.pharmacist), gs1_text(batch), action="dispense", quantity=1)
    assert r.status_code == 400 and error_of(r)["code"] == "validation_error"
    assert "patient_name" in error_of(r)["details"]
    assert ScanLog.objects.get().outcome == "invalid"


def test_pack_dispensed_twice_is_flagged_and_recorded(county, client_for):
    batch = gs1_batch()
    packs = trace_codes(batch, 3)
    stock_with_packs(county, batch, 18, packs)
    pharmacist = client_for(county.pharmacist)
    first = scan(pharmacist, packs[0], action="dispense", **dispense_context(county))
    assert first.status_code == 201, first.content
    assert first.json()["result"]["pack_code"] is not None and first.json()["flags"] == []
    assert not ScanAnomaly.objects.exists()

    second = scan(pharmacist, packs[0], action="dispense", **dispense_context(county, prescription_number="RX-2"))
    assert second.status_code == 201
    assert "pack_already_dispensed" in flags(second)
    anomaly = ScanAnomaly.objects.get(kind="pack_dispensed_twice")
    assert anomaly.pack_code.code == packs[0] and anomaly.holder == county.hospital
    assert anomaly.dispenses == [first.json()["result"]["id"], second.json()["result"]["id"]]
    assert anomaly.scan_id == second.json()["scan"]

    lookup = scan(client_for(county.inspector), packs[0])
    assert "pack_already_dispensed" in flags(lookup)
    assert lookup.json()["pack"]["dispensed"] == 2
    assert [d["dispense"] for d in lookup.json()["pack"]["dispenses"]] == anomaly.dispenses
    # the log lists the flag
    listed = client_for(county.inspector).get("/api/scans/", {"flag": "pack_already_dispensed"}).json()
    assert {row["id"] for row in listed["results"]} == {second.json()["scan"], lookup.json()["scan"]}


def test_pack_seen_at_two_holders_is_flagged_and_recorded(county, client_for):
    batch = gs1_batch()
    packs = trace_codes(batch, 2)
    stock_with_packs(county, batch, 12, packs)
    # the wholesaler saw it, then shipped it here: the normal hand-over, no flag
    scan(client_for(county.clerk), packs[0])
    r = scan(client_for(county.pharmacist), packs[0])
    assert "pack_seen_at_other_holder" not in flags(r)
    # the same pack turns up at another hospital
    other_pharmacist = UserFactory(role="pharmacist", organisation=county.other.hospital)
    r = scan(client_for(other_pharmacist), packs[0])
    assert "pack_seen_at_other_holder" in flags(r)
    recorded = ScanAnomaly.objects.filter(kind="pack_at_two_holders")
    assert {(a.holder_id, a.other_holder_id) for a in recorded} == {
        (county.other.hospital.pk, county.hospital.pk), (county.other.hospital.pk, county.wholesaler.pk)}
    assert all(a.pack_code.code == packs[0] and a.scan_id == r.json()["scan"] for a in recorded)
    # what the other hospital sees of our balance: nothing
    assert r.json()["holders"] == [] and r.json()["balance"] == 0


# --- receive -------------------------------------------------------------------------------------


def test_receive_by_scan_equals_rest(county, client_for):
    batch_a, batch_b = gs1_batch(), gs1_batch()
    stock_wholesaler(county, batch_a, 40)
    stock_wholesaler(county, batch_b, 40)
    from tests.inventory.factories import ship

    by_rest = ship(county, batch_a, 10, receive=False)
    by_scan = ship(county, batch_a, 10, receive=False)
    pharmacist = client_for(county.pharmacist)
    rest = pharmacist.post(f"/api/shipments/{by_rest.pk}/receive/", {}, format="json")
    r = scan(pharmacist, gs1_text(batch_a), action="receive", shipment=by_scan.pk)
    assert (rest.status_code, r.status_code) == (200, 200), r.content
    result = r.json()["result"]
    assert result["status"] == rest.json()["status"] == "received"
    assert [(ln["batch"], ln["quantity"], ln["received_quantity"]) for ln in result["lines"]] == [
        (ln["batch"], ln["quantity"], ln["received_quantity"]) for ln in rest.json()["lines"]]
    assert r.json()["balance"] == 10  # before this receipt: the one received through REST
    log = ScanLog.objects.get(pk=r.json()["scan"])
    assert (log.action, log.outcome, log.shipment_id, log.context) == ("receive", "ok", by_scan.pk,
                                                                        {"shipment": by_scan.pk})


def test_receive_a_partial_quantity_records_the_discrepancy(county, client_for):
    batch = gs1_batch()
    stock_wholesaler(county, batch, 40)
    from tests.inventory.factories import ship

    shipment = ship(county, batch, 10, receive=False)
    r = scan(client_for(county.pharmacist), gs1_text(batch), action="receive", shipment=shipment.pk,
             received_quantity=8, note="两盒破损")
    assert r.status_code == 200
    line = r.json()["result"]["lines"][0]
    assert line["received_quantity"] == 8 and line["discrepancy"]["kind"] == "shortage"


def test_receive_refusals(county, client_for):
    batch, other_batch = gs1_batch(), gs1_batch()
    stock_wholesaler(county, batch, 40)
    from tests.inventory.factories import ship

    shipment = ship(county, batch, 10, receive=False)
    # a batch that is not on the shipment
    r = scan(client_for(county.pharmacist), gs1_text(other_batch), action="receive", shipment=shipment.pk)
    assert r.status_code == 422 and error_of(r)["code"] == "batch_not_in_shipment"
    # the sender may not receive: the service's own refusal, as through REST
    clerk = client_for(county.clerk)
    rest = clerk.post(f"/api/shipments/{shipment.pk}/receive/", {}, format="json")
    r = scan(clerk, gs1_text(batch), action="receive", shipment=shipment.pk)
    assert (r.status_code, error_of(r)["code"]) == (rest.status_code, error_of(rest)["code"]) == (403, "not_allowed")
    # a shipment the caller cannot see: 404, as through REST
    stranger = client_for(UserFactory(role="pharmacist", organisation=county.other.hospital))
    r = scan(stranger, gs1_text(batch), action="receive", shipment=shipment.pk)
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    assert Shipment.objects.get(pk=shipment.pk).status == "dispatched"
    assert list(ScanLog.objects.order_by("id").values_list("outcome", "error_code")) == [
        ("refused", "batch_not_in_shipment"), ("refused", "not_allowed"), ("refused", "not_found")]


def test_receive_needs_a_code_naming_a_batch(county, client_for):
    batch = gs1_batch()
    stock_wholesaler(county, batch, 40)
    from tests.inventory.factories import ship

    shipment = ship(county, batch, 10, receive=False)
    pharmacist = client_for(county.pharmacist)
    for code in ("QX-1", batch.product.gtins[0]):  # unknown; a product without its lot
        r = scan(pharmacist, code, action="receive", shipment=shipment.pk)
        assert r.status_code == 422 and error_of(r)["code"] == "code_names_no_batch"
    assert Shipment.objects.get(pk=shipment.pk).status == "dispatched"


# --- count and inspect ---------------------------------------------------------------------------


def test_count_scans_packs_into_an_open_session(county, client_for):
    batch = gs1_batch()
    packs = trace_codes(batch, 2)
    stock_with_packs(county, batch, 12, packs)
    session = counts.count_session_open(actor=county.pharmacist)
    pharmacist = client_for(county.pharmacist)
    r = scan(pharmacist, packs[0], action="count", session=session.pk)
    assert r.status_code == 200, r.content
    assert r.json()["result"]["lines"][0]["counted"] == batch.product.pack_size
    again = scan(pharmacist, packs[0], action="count", session=session.pk)
    assert again.status_code == 409 and error_of(again)["code"] == "pack_already_counted"
    r = scan(pharmacist, gs1_text(batch), action="count", session=session.pk)
    assert r.status_code == 422 and error_of(r)["code"] == "pack_code_required"


def test_inspect_needs_a_visit(county, client_for):
    """The inspect action ticks a visit's register (tests/sweeps); without one it is refused."""
    r = scan(client_for(county.inspector), gs1_text(gs1_batch()), action="inspect")
    assert r.status_code == 400 and error_of(r)["code"] == "validation_error"
    assert "visit" in error_of(r)["details"]
    assert ScanLog.objects.get().error_code == "validation_error"
    r = scan(client_for(county.inspector), gs1_text(gs1_batch()), action="inspect", visit=999999)
    assert r.status_code == 404


# --- idempotency, input shape, permissions ---------------------------------------------------------


def test_idempotent_replay_returns_the_original_and_logs_nothing(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 20)
    pharmacist = client_for(county.pharmacist)
    body = dispense_context(county)
    first = scan(pharmacist, gs1_text(batch), action="dispense", key="scan-k1", **body)
    assert first.status_code == 201
    logs, movements = ScanLog.objects.count(), StockMovement.objects.count()
    again = scan(pharmacist, gs1_text(batch), action="dispense", key="scan-k1", **body)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (ScanLog.objects.count(), StockMovement.objects.count(), Dispense.objects.count()) == (
        logs, movements, 1)
    reused = scan(pharmacist, gs1_text(batch), action="dispense", key="scan-k1", **{**body, "quantity": 3})
    assert reused.status_code == 422 and error_of(reused)["code"] == "idempotency_key_reused"


def test_refusal_replay_is_the_same_refusal(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 5)
    expire(batch)
    pharmacist = client_for(county.pharmacist)
    a = scan(pharmacist, gs1_text(batch), action="dispense", key="k-exp", **dispense_context(county))
    b = scan(pharmacist, gs1_text(batch), action="dispense", key="k-exp", **dispense_context(county))
    assert a.status_code == b.status_code == 422 and a.json() == b.json()
    assert ScanLog.objects.count() == 1


@pytest.mark.parametrize(("body", "code"), [
    ({}, "validation_error"),
    ({"code": "x", "action": "teleport"}, "validation_error"),
    ({"code": "\r\n"}, "empty"),
])
def test_bad_requests(county, client_for, body, code):
    r = client_for(county.pharmacist).post(URL, body, format="json")
    assert r.status_code == 400 and error_of(r)["code"] == code
    assert ScanLog.objects.get().outcome == "invalid"


def test_anonymous_is_401_and_not_logged(api):
    r = api.post(URL, {"code": "x"}, format="json")
    assert r.status_code == 401 and error_of(r)["code"] == "not_authenticated"
    assert not ScanLog.objects.exists()


def test_scan_log_detail_visibility(county, client_for):
    r = scan(client_for(county.pharmacist), "QX-2")
    log_id = r.json()["scan"]
    assert client_for(county.pharmacist).get(f"/api/scans/{log_id}/").status_code == 200
    assert client_for(county.inspector).get(f"/api/scans/{log_id}/").status_code == 200
    assert client_for(county.clerk).get(f"/api/scans/{log_id}/").status_code == 404
    assert client_for(county.other.inspector).get(f"/api/scans/{log_id}/").status_code == 404
    assert client_for(county.pharmacist).post("/api/scans/", {}, format="json").status_code == 405


def test_a_code_sent_as_a_json_number_is_read_as_its_digits(county, client_for):
    """A client that sends the EAN as a number (or 0) gets it read, not 'nothing was scanned'."""
    r = client_for(county.pharmacist).post(URL, {"code": 6901234567892}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["raw"] == "6901234567892" and r.json()["payload"]["gtin"] == "06901234567892"
    r = client_for(county.pharmacist).post(URL, {"code": 0}, format="json")
    assert r.status_code == 200 and r.json()["raw"] == "0"
    assert [log.raw for log in ScanLog.objects.order_by("pk")] == ["6901234567892", "0"]


def test_lot_and_serial_run_together_are_read_when_the_lot_is_registered(county, client_for):
    """A wedge scanner that drops the GS between (10) and (21) sends "10LOT21SER": the codec
    cannot tell, the registry can: one registered lot before a "21" -> that lot and serial."""
    batch = gs1_batch()
    gtin = batch.product.gtins[0]
    stock_with_packs(county, batch, 12, [f"01{gtin}21SER0001"])
    merged = "]C1" + gs1_text(batch) + "21SER0001"  # (01)(17)(10) lot last, then (21) without the GS
    r = scan(client_for(county.pharmacist), merged)
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["entity"] == "pack" and body["batch"]["id"] == batch.pk
    assert body["payload"]["lot"] == batch.lot_number and body["payload"]["serial"] == "SER0001"
    (flag,) = [f for f in body["flags"] if f["code"] == "separator_missing"]
    assert flag["details"] == {"scanned_lot": batch.lot_number + "21SER0001", "lot": batch.lot_number,
                               "serial": "SER0001"}
    log = ScanLog.objects.get()
    assert log.pack_code.code == f"01{gtin}21SER0001" and "separator_missing" in log.flags
    assert log.payload["lot"] == batch.lot_number + "21SER0001"  # the log keeps what was scanned

    # A serial the registry does not know: still that batch, the pack flagged unknown.
    r = scan(client_for(county.pharmacist), "]C1" + gs1_text(batch) + "21SER9999")
    assert r.json()["entity"] == "batch" and {"separator_missing", "pack_unknown"} <= flags(r)
    # No registered lot before a "21": not guessed.
    r = scan(client_for(county.pharmacist), "]C1" + gs1_text(batch) + "X21SER0001")
    assert r.json()["entity"] == "product" and flags(r) == {"batch_unknown"}


def test_lot_and_serial_run_together_are_not_acted_on(county, client_for):
    """The registry's reading is for the lookup; a dispense of "LOT21SER" is refused as
    scanned (the lot could be an unregistered one that happens to start with a registered lot)."""
    batch = gs1_batch()
    stock_institution(county, batch, 12)
    merged = "]C1" + gs1_text(batch) + "21SER0001"
    r = scan(client_for(county.pharmacist), merged, action="dispense", **dispense_context(county))
    assert r.status_code == 422, r.json()
    assert not Dispense.objects.exists()


def test_lot_and_serial_run_together_past_twenty_characters_are_read_too(county, client_for):
    """Lot "XK20250420" + "21" + serial "SN0005000003" is 24 characters, more than a lot may
    have: the codec refuses it (`lot_too_long`), and the lookup still reads it as the one
    registered lot before a "21". Without a registered lot, and for an action that moves
    stock, the refusal stands."""
    batch = gs1_batch(lot_number="XK20250420")
    gtin = batch.product.gtins[0]
    stock_with_packs(county, batch, 12, [f"01{gtin}21SN0005000003"])
    pharmacist = client_for(county.pharmacist)
    merged = gs1_text(batch) + "21SN0005000003"
    for code in (merged, "]C1" + merged, f"(01){gtin}(17){batch.expiry_printed}(10)XK2025042021SN0005000003"):
        r = scan(pharmacist, code)
        assert r.status_code == 200, r.json()
        body = r.json()
        assert body["entity"] == "pack" and body["batch"]["id"] == batch.pk
        assert (body["payload"]["lot"], body["payload"]["serial"]) == ("XK20250420", "SN0005000003")
        (flag,) = [f for f in body["flags"] if f["code"] == "separator_missing"]
        assert flag["details"] == {"scanned_lot": "XK2025042021SN0005000003", "lot": "XK20250420",
                                   "serial": "SN0005000003"}
        log = ScanLog.objects.get(pk=body["scan"])
        assert (log.outcome, log.pack_code.code, log.flags[0]) == ("ok", f"01{gtin}21SN0005000003",
                                                                   "separator_missing")
    r = scan(pharmacist, gs1_text(batch) + "X21SN0005000003")  # no registered lot before a "21"
    assert r.status_code == 400 and error_of(r)["code"] == "lot_too_long"
    r = scan(pharmacist, gs1_text(batch) + "A" * 14)  # no "21" at all
    assert r.status_code == 400 and error_of(r)["code"] == "lot_too_long"
    r = scan(pharmacist, merged, action="dispense", **dispense_context(county))
    assert r.status_code == 400 and error_of(r)["code"] == "lot_too_long"
    session = counts.count_session_open(actor=county.pharmacist)
    r = scan(pharmacist, merged, action="count", session=session.pk)
    assert r.status_code == 400 and error_of(r)["code"] == "lot_too_long"
    assert not Dispense.objects.exists()
    assert ScanLog.objects.filter(outcome="invalid", error_code="lot_too_long").count() == 4

"""The drug chain through HTTP: refusals with their codes, visibility, masking."""

import datetime as dt

import pytest
from django.utils import timezone

from audits.models import AuditEntry
from backend.models import Licence
from inventory.models import Dispense, Shipment, ShipmentRefusal
from tests.conftest import error_of
from tests.factories import PersonFactory, PersonLicenceFactory
from tests.inventory.factories import (
    BatchFactory,
    DrugProductFactory,
    dispense_payload,
    ship,
    stock_institution,
    stock_wholesaler,
)

pytestmark = pytest.mark.django_db

PATIENT_FIELDS = {"patient_name", "patient_age", "patient_address", "patient_resident_id", "birth_permit",
                  "children_count", "pregnancy_status", "midterm_certificate_number", "midterm_certificate_office"}


def post(client, url, body, **headers):
    return client.post(url, body, format="json", **{f"HTTP_{k.upper().replace('-', '_')}": v
                                                     for k, v in headers.items()})


# --- intake and shipments ---------------------------------------------------------------


def test_intake_registers_batch_and_stock(county, client_for):
    product = DrugProductFactory()
    clerk = client_for(county.clerk)
    r = post(clerk, "/api/intakes/", {"product": product.pk, "lot_number": "B2607", "expiry_printed": "280600",
                                     "quantity": 600, "invoice_number": "FP-0001", "supplier_name": "华润紫竹",
                                     "pack_codes": [f"{product.traceability_product_code}{i:013d}" for i in range(3)]})
    assert r.status_code == 201, r.json()
    r = clerk.get("/api/stock/balances/", {"holder": county.wholesaler.pk})
    assert [(row["lot_number"], row["quantity"], row["expiry_date"]) for row in r.json()["results"]] == [
        ("B2607", 600, "2028-06-30")]
    # only wholesalers take stock in
    r = post(client_for(county.pharmacist), "/api/intakes/", {"batch": r.json()["results"][0]["batch"],
             "quantity": 1, "invoice_number": "x", "supplier_name": "x"})
    assert r.status_code == 403 and error_of(r)["code"] == "not_allowed"


def test_balance_filters_apply_per_request(county, client_for):
    """The balances filter form is built once per class: each request still gets its own
    filters and its own errors."""
    first, second = BatchFactory(), BatchFactory()
    stock_wholesaler(county, first, 5)
    stock_wholesaler(county, second, 7)
    clerk = client_for(county.clerk)
    for batch, quantity in ((first, 5), (second, 7), (first, 5)):
        rows = clerk.get("/api/stock/balances/", {"batch": batch.pk}).json()["results"]
        assert [(row["batch"], row["quantity"]) for row in rows] == [(batch.pk, quantity)]
    assert clerk.get("/api/stock/balances/", {"batch": "x"}).status_code == 400
    assert len(clerk.get("/api/stock/balances/").json()["results"]) == 2
    ship(county, first, 5)  # the wholesaler's position of `first` is now 0 (and its transit row too)

    def shown(**params):
        return sorted((r["batch"], r["in_transit"], r["quantity"])
                      for r in clerk.get("/api/stock/balances/", {"holder": county.wholesaler.pk, **params}).json()
                      ["results"])

    assert shown(nonzero="true") == [(second.pk, False, 7)]  # a method filter, on its own copy
    assert shown(nonzero="false") == shown() == sorted([(first.pk, False, 0), (first.pk, True, 0),
                                                        (second.pk, False, 7)])
    assert shown(in_transit="true", nonzero="true") == []


def test_shipment_life_cycle_over_http(county, client_for):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 50)
    clerk, pharmacist = client_for(county.clerk), client_for(county.pharmacist)
    r = post(clerk, "/api/shipments/", {"recipient": county.hospital.pk, "reference": "DN-1",
                                        "lines": [{"batch": batch.pk, "quantity": 20}]})
    assert r.status_code == 201, r.json()
    sid, line = r.json()["id"], r.json()["lines"][0]["id"]
    assert post(pharmacist, f"/api/shipments/{sid}/dispatch/", {}).status_code == 403  # not the sender
    r = post(clerk, f"/api/shipments/{sid}/dispatch/", {})
    assert r.status_code == 200 and r.json()["status"] == "dispatched"
    r = clerk.get("/api/stock/balances/", {"holder": county.wholesaler.pk, "batch": batch.pk})
    assert sorted((row["in_transit"], row["quantity"]) for row in r.json()["results"]) == [(False, 30), (True, 20)]
    r = post(pharmacist, f"/api/shipments/{sid}/receive/", {"lines": [{"line": line, "received_quantity": 19,
                                                                        "note": "少一片"}]})
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "received"
    assert r.json()["lines"][0]["discrepancy"]["difference"] == -1
    r = pharmacist.get("/api/stock/movements/", {"holder": county.hospital.pk, "batch": batch.pk})
    assert [(m["kind"], m["quantity"]) for m in r.json()["results"]] == [("receipt", 19)]


def test_dispatch_refusal_code_clause_and_refusal_list(county, client_for):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 50)
    clerk = client_for(county.clerk)
    for recipient, clause in ((county.pharmacy, "retail_pharmacy"), (county.clinic, "individual_clinic")):
        sid = post(clerk, "/api/shipments/", {"recipient": recipient.pk,
                                              "lines": [{"batch": batch.pk, "quantity": 5}]}).json()["id"]
        r = post(clerk, f"/api/shipments/{sid}/dispatch/", {})
        assert r.status_code == 422
        err = error_of(r)
        assert err["code"] == "recipient_not_authorized"
        assert [c["code"] for c in err["details"]["clauses"]] == [clause]
        assert Shipment.objects.get(pk=sid).status == "draft"
    for user in (county.clerk, county.inspector):
        r = client_for(user).get("/api/shipment-refusals/")
        assert {row["recipient"] for row in r.json()["results"]} == {county.pharmacy.pk, county.clinic.pk}
        row = next(row for row in r.json()["results"] if row["recipient"] == county.pharmacy.pk)
        assert row["code"] == "recipient_not_authorized" and row["clauses"][0]["code"] == "retail_pharmacy"
        assert row["lines"][0]["quantity"] == 5 and row["attempted_by"] == county.clerk.pk
    assert client_for(county.other.inspector).get("/api/shipment-refusals/").json()["results"] == []
    assert ShipmentRefusal.objects.count() == 2


def test_dispatch_refused_when_recipient_approval_lapsed(county, client_for):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 50)
    Licence.objects.filter(holder_organisation=county.hospital, kind="termination_approval").update(
        valid_until=timezone.localdate() - dt.timedelta(days=3))
    clerk = client_for(county.clerk)
    sid = post(clerk, "/api/shipments/", {"recipient": county.hospital.pk,
                                          "lines": [{"batch": batch.pk, "quantity": 5}]}).json()["id"]
    r = post(clerk, f"/api/shipments/{sid}/dispatch/", {})
    assert r.status_code == 422
    assert error_of(r)["details"]["clauses"][0]["code"] == "termination_approval_expired"
    assert client_for(county.inspector).get("/api/shipment-refusals/", {"shipment": sid}).json()["count"] == 1


def test_expired_batch_cannot_ship_over_http(county, client_for):
    batch = BatchFactory(expired=True)
    stock_wholesaler(county, batch, 5)
    clerk = client_for(county.clerk)
    sid = post(clerk, "/api/shipments/", {"recipient": county.hospital.pk,
                                          "lines": [{"batch": batch.pk, "quantity": 5}]}).json()["id"]
    r = post(clerk, f"/api/shipments/{sid}/dispatch/", {})
    assert r.status_code == 422 and error_of(r)["code"] == "batch_expired"


def test_reject_over_http(county, client_for):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 5)
    clerk, pharmacist = client_for(county.clerk), client_for(county.pharmacist)
    sid = post(clerk, "/api/shipments/", {"recipient": county.hospital.pk,
                                          "lines": [{"batch": batch.pk, "quantity": 5}]}).json()["id"]
    post(clerk, f"/api/shipments/{sid}/dispatch/", {})
    r = post(pharmacist, f"/api/shipments/{sid}/reject/", {"reason": "未订购此批"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = post(pharmacist, f"/api/shipments/{sid}/receive/", {})
    assert r.status_code == 409 and error_of(r)["code"] == "shipment_not_in_transit"


# --- dispenses ----------------------------------------------------------------------------


@pytest.fixture
def stocked(county):
    batch = BatchFactory()
    stock_institution(county, batch, 20)
    return batch


def test_dispense_created_and_listed_masked(county, client_for, stocked):
    pharmacist = client_for(county.pharmacist)
    r = post(pharmacist, "/api/dispenses/", dispense_payload(county, stocked, patient_resident_id="430421199001011230"))
    assert r.status_code == 400 and "patient_resident_id" in error_of(r)["details"]  # check digit wrong
    from tests.factories import make_resident_id

    rid = make_resident_id(4242)
    r = post(pharmacist, "/api/dispenses/", dispense_payload(county, stocked, patient_resident_id=rid))
    assert r.status_code == 201, r.json()
    did = r.json()["id"]
    assert r.json()["patient_resident_id"] == rid
    listing = pharmacist.get("/api/dispenses/").json()["results"]
    row = next(x for x in listing if x["id"] == did)
    assert not PATIENT_FIELDS & set(row)
    assert row["patient_name_masked"] == "陈**" and row["patient_resident_id_masked"].endswith(rid[-4:])
    assert rid not in str(listing)


def test_dispense_bodies_equal_the_generic_model_serializer(county, client_for, stocked):
    """The dispense serializers render by hand (speed); they must say exactly what DRF's
    ModelSerializer would say from their field declarations, for the entry just written
    and for one read back."""
    from rest_framework import serializers

    from inventory.api.serializers import DispenseDetailSerializer, DispenseListSerializer

    r = post(client_for(county.pharmacist), "/api/dispenses/", dispense_payload(county, stocked))
    assert r.status_code == 201, r.json()
    dispense = Dispense.objects.select_related("batch", "physician").get(pk=r.json()["id"])
    for cls in (DispenseListSerializer, DispenseDetailSerializer):
        fast = cls(dispense).data
        generic = serializers.ModelSerializer.to_representation(cls(dispense), dispense)
        assert list(fast) == list(generic) and dict(fast) == dict(generic)
    assert r.json() == dict(DispenseDetailSerializer(dispense).data)


def test_patient_detail_only_to_own_staff_and_inspectors_and_audited(county, client_for, stocked):
    from tests.factories import make_resident_id

    rid = make_resident_id(777)
    did = post(client_for(county.pharmacist), "/api/dispenses/",
               dispense_payload(county, stocked, patient_resident_id=rid)).json()["id"]
    before = AuditEntry.objects.filter(action="sensitive_read", object_type="inventory.dispense").count()
    for user in (county.pharmacist, county.physician, county.inspector):
        r = client_for(user).get(f"/api/dispenses/{did}/")
        assert r.status_code == 200 and r.json()["patient_resident_id"] == rid, user.role
    assert AuditEntry.objects.filter(action="sensitive_read", object_type="inventory.dispense",
                                     object_id=str(did)).count() == before + 3
    r = client_for(county.office_admin).get(f"/api/dispenses/{did}/")
    assert r.status_code == 200 and not PATIENT_FIELDS & set(r.json())
    for user in (county.clerk, county.other.inspector):
        assert client_for(user).get(f"/api/dispenses/{did}/").status_code == 404


def test_wholesaler_token_never_returns_a_patient_field(county, client_for, stocked):
    post(client_for(county.pharmacist), "/api/dispenses/", dispense_payload(county, stocked))
    clerk = client_for(county.clerk)
    patient_name = Dispense.objects.get().patient_name
    for url in ("/api/dispenses/", "/api/stock/movements/", "/api/stock/balances/", "/api/shipments/",
                "/api/intakes/", "/api/shipment-refusals/", "/api/disposals/", "/api/batches/", "/api/drugs/",
                f"/api/dispenses/{Dispense.objects.get().pk}/"):
        r = clerk.get(url)
        text = r.content.decode()
        assert r.status_code in (200, 404), url
        assert patient_name not in text and not any(f'"{f}"' in text for f in PATIENT_FIELDS), url
        if url == "/api/dispenses/":
            assert r.json()["results"] == []


def refusal(client, body):
    r = post(client, "/api/dispenses/", body)
    assert r.status_code in (409, 422), r.json()
    return r.status_code, error_of(r)


def test_dispense_refusals_each_with_its_code(county, client_for, stocked):
    pharmacist = client_for(county.pharmacist)
    # physician's practice licence not valid that day
    lic = Licence.objects.get(holder_person=county.physician.person, kind="physician")
    day = timezone.localdate() - dt.timedelta(days=2)
    Licence.objects.filter(pk=lic.pk).update(valid_until=day)
    status, err = refusal(pharmacist, dispense_payload(county, stocked))
    assert (status, err["code"]) == (422, "physician_not_licensed")
    assert err["details"]["clauses"][0]["code"] == "physician_expired"
    Licence.objects.filter(pk=lic.pk).update(valid_until=None)
    refusals = client_for(county.inspector).get("/api/dispense-refusals/").json()["results"]
    assert [(r["code"], r["physician"], r["institution"]) for r in refusals] == [
        ("physician_not_licensed", county.physician.person_id, county.hospital.pk)]
    assert not PATIENT_FIELDS & set(refusals[0])

    # insufficient stock
    status, err = refusal(pharmacist, dispense_payload(county, stocked, quantity=21))
    assert (status, err["code"], err["details"]["available"]) == (409, "insufficient_stock", 20)

    # gestational weeks >= 14 without the mid-term certificate
    status, err = refusal(pharmacist, dispense_payload(county, stocked, gestational_weeks=15))
    assert (status, err["code"]) == (422, "midterm_certificate_required")
    from tests.factories import make_resident_id

    r = post(pharmacist, "/api/dispenses/", dispense_payload(
        county, stocked, gestational_weeks=15, midterm_certificate_number="衡计证〔2026〕15号",
        midterm_certificate_office="衡阳县卫生健康局", patient_resident_id=make_resident_id(99)))
    assert r.status_code == 201, r.json()

    # emergency without three physicians; with three it passes, papers due in three days
    status, err = refusal(pharmacist, dispense_payload(county, stocked, emergency=True, gestational_weeks=16))
    assert (status, err["code"]) == (422, "emergency_needs_three_physicians")
    others = []
    for _ in range(2):
        p = PersonFactory(organisation=county.hospital, position="physician")
        PersonLicenceFactory(holder_person=p, kind="physician")
        others.append(p.pk)
    r = post(pharmacist, "/api/dispenses/", dispense_payload(county, stocked, emergency=True, gestational_weeks=16,
                                                              emergency_physicians=others))
    assert r.status_code == 201, r.json()
    assert r.json()["papers_due_by"] == (timezone.localdate() + dt.timedelta(days=3)).isoformat()

    # batch expired
    expired = BatchFactory(expired=True, product=stocked.product)
    status, err = refusal(pharmacist, dispense_payload(county, expired))
    assert (status, err["code"]) == (422, "batch_expired")

    # institution not authorized (its approval revoked)
    Licence.objects.filter(holder_organisation=county.hospital, kind="termination_approval").update(
        revoked_at=timezone.localdate(), revoked_reason="违规")
    status, err = refusal(pharmacist, dispense_payload(county, stocked))
    assert (status, err["code"]) == (422, "institution_not_authorized")
    assert err["details"]["clauses"][0]["code"] == "termination_approval_revoked"


def test_individual_clinic_pharmacist_cannot_dispense(county, client_for):
    from tests.factories import UserFactory

    user = UserFactory(role="pharmacist", organisation=county.clinic)
    status, err = refusal(client_for(user), dispense_payload(county, BatchFactory()))
    assert (status, err["code"]) == (422, "institution_not_authorized")
    assert err["details"]["clauses"][0]["code"] == "individual_clinic"


def test_batches_expiring_within(county, client_for):
    soon = BatchFactory(expiry_date=timezone.localdate() + dt.timedelta(days=20))
    BatchFactory()
    BatchFactory(expired=True)
    r = client_for(county.pharmacist).get("/api/batches/", {"expiring_within": 30})
    assert [b["id"] for b in r.json()["results"]] == [soon.pk]


def test_balances_as_of_a_date_come_from_the_ledger(county, client_for):
    batch = BatchFactory()
    long_ago = timezone.now() - dt.timedelta(days=30)
    stock_wholesaler(county, batch, 10, received_at=long_ago)
    stock_wholesaler(county, batch, 5)
    clerk = client_for(county.clerk)
    as_of = (timezone.localdate() - dt.timedelta(days=10)).isoformat()
    r = clerk.get("/api/stock/balances/", {"as_of": as_of, "batch": batch.pk})
    assert [(row["quantity"], row["as_of"]) for row in r.json()["results"]] == [(10, as_of)]
    r = client_for(county.other.inspector).get("/api/stock/balances/", {"as_of": as_of})
    assert r.json()["results"] == []


def test_seizure_and_disposal_over_http(county, client_for, stocked):
    r = post(client_for(county.pharmacist), "/api/disposals/", {"batch": stocked.pk, "quantity": 1,
                                                                 "reason": "damaged", "witness_name": "王护士长"})
    assert r.status_code == 201, r.json()
    r = post(client_for(county.inspector), "/api/seizures/", {"holder": county.hospital.pk, "batch": stocked.pk,
                                                               "quantity": 2, "case_reference": "C-1"})
    assert r.status_code == 201, r.json()
    r = post(client_for(county.other.inspector), "/api/seizures/", {"holder": county.hospital.pk,
                                                                     "batch": stocked.pk, "quantity": 2})
    assert r.status_code == 403 and error_of(r)["code"] == "outside_jurisdiction"


def test_disposal_witnessed_by_a_registered_person_alone(county, client_for, stocked):
    """A disposal may name its witness by person id only (no `witness_name`): the person's
    name is recorded. With neither it is a 400 `witness_required`, not a 500."""
    pharmacist = client_for(county.pharmacist)
    witness = PersonFactory(organisation=county.hospital)
    r = post(pharmacist, "/api/disposals/", {"batch": stocked.pk, "quantity": 1, "reason": "damaged",
                                             "witness": witness.pk})
    assert r.status_code == 201, r.json()
    assert (r.json()["witness"], r.json()["witness_name"]) == (witness.pk, witness.name)
    r = post(pharmacist, "/api/disposals/", {"batch": stocked.pk, "quantity": 1, "reason": "damaged"})
    assert r.status_code == 400 and error_of(r)["code"] == "witness_required"
    r = post(pharmacist, "/api/disposals/", {"batch": stocked.pk, "quantity": 1, "reason": "damaged",
                                             "witness": county.pharmacist.person.pk})
    assert r.status_code == 400 and error_of(r)["code"] == "witness_is_actor"
    r = pharmacist.get("/api/stock/balances/", {"batch": stocked.pk})
    assert [row["quantity"] for row in r.json()["results"]] == [19]


def test_a_disposal_witness_named_by_id_is_of_the_holder_or_an_authority_over_it(county, client_for, stocked):
    """Anyone else's id would put a stranger on the record and tell the holder that person's
    name: 400 witness_unknown, nothing written."""
    pharmacist = client_for(county.pharmacist)
    stranger = PersonFactory(organisation=county.other.hospital)
    r = post(pharmacist, "/api/disposals/", {"batch": stocked.pk, "quantity": 1, "reason": "damaged",
                                             "witness": stranger.pk})
    assert r.status_code == 400 and error_of(r)["code"] == "witness_unknown", r.content
    assert stranger.name not in r.content.decode()
    regulator = PersonFactory(organisation=county.authority)  # the county's officer witnesses it
    r = post(pharmacist, "/api/disposals/", {"batch": stocked.pk, "quantity": 1, "reason": "expired",
                                             "witness": regulator.pk})
    assert r.status_code == 201 and r.json()["witness_name"] == regulator.name
    r = pharmacist.get("/api/stock/balances/", {"batch": stocked.pk})
    assert [row["quantity"] for row in r.json()["results"]] == [19]


def test_seizure_off_the_books_at_a_retail_pharmacy(county, client_for, stocked):
    """Termination drugs on a retail pharmacy's shelf were never on its books: seizing them
    must not be refused for want of stock; they enter the ledger in the authority's custody."""
    from inventory.models import StockMovement, StockPosition

    pharmacy = county.pharmacy
    payload = {"holder": pharmacy.pk, "batch": stocked.pk, "quantity": 6, "case_reference": "C-2"}
    r = post(client_for(county.inspector), "/api/seizures/", payload)
    assert r.status_code == 409 and error_of(r)["code"] == "insufficient_stock"  # the books show none
    r = post(client_for(county.inspector), "/api/seizures/", {**payload, "off_books": True})
    assert r.status_code == 201, r.json()
    assert r.json()["off_books"] is True and r.json()["holder"] == pharmacy.pk
    assert not StockMovement.objects.filter(holder=pharmacy).exists()
    authority = county.inspector.organisation
    movement = StockMovement.objects.get(seizure_id=r.json()["id"])
    assert (movement.holder, movement.quantity, movement.kind) == (authority, 6, "seizure")
    assert StockPosition.objects.get(holder=authority, batch=stocked, in_transit=False).quantity == 6


def test_stock_card_has_running_balance(county, client_for):
    from inventory import services
    from tests.inventory.factories import dispense_kwargs

    batch = BatchFactory()
    stock_institution(county, batch, 10)
    for q in (2, 3):
        services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, batch, quantity=q))
    r = client_for(county.pharmacist).get("/api/stock/movements/",
                                          {"holder": county.hospital.pk, "batch": batch.pk})
    assert [(m["kind"], m["quantity"], m["balance_after"]) for m in r.json()["results"]] == [
        ("receipt", 10, 10), ("dispense", -2, 8), ("dispense", -3, 5)]
    r = client_for(county.pharmacist).get("/api/stock/movements/", {"holder": county.hospital.pk,
                                                                     "batch": batch.pk, "kind": "dispense"})
    assert [m["balance_after"] for m in r.json()["results"]] == [8, 5]

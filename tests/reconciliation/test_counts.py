"""Count sessions (账物相符): lines entered or scanned, closed against the books, every
variance explained, approved into adjustments; suspected loss flagged for the alerts."""

import pytest

from audits import counts
from audits.models import CountLine, CountSession
from inventory.models import PackCode, StockMovement, StockPosition
from tests.conftest import error_of
from tests.inventory.factories import BatchFactory, DrugProductFactory, stock_institution

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(county):
    product = DrugProductFactory(pack_size=6)
    b1, b2, b3 = (BatchFactory(product=product) for _ in range(3))
    for b in (b1, b2, b3):
        stock_institution(county, b, 30)
    return b1, b2, b3


def book(county, batch) -> int:
    return StockPosition.objects.get(holder=county.hospital, batch=batch, in_transit=False).quantity


def test_count_close_approve_through_the_api(county, stocked, client_for):
    b1, b2, b3 = stocked
    client = client_for(county.pharmacist)
    session = client.post("/api/counts/", {"note": "月末盘点"}, format="json").json()
    url = f"/api/counts/{session['id']}/"
    assert session["holder"] == county.hospital.pk and session["status"] == "open"
    client.post(url + "lines/", {"batch": b1.pk, "counted": 30}, format="json")
    client.post(url + "lines/", {"batch": b2.pk, "counted": 28}, format="json")
    client.post(url + "lines/", {"batch": b3.pk, "counted": 25}, format="json")
    response = client.post(url + "close/", {"reasons": [{"batch": b2.pk, "reason": "breakage", "note": "摔碎"}]},
                           format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "variance_needs_reason"
    assert [(x["batch"], x["variance"]) for x in error["details"]["lines"]] == [(b3.pk, -5)]
    assert CountSession.objects.get().status == "open"
    response = client.post(url + "close/", {"reasons": [
        {"batch": b2.pk, "reason": "breakage", "note": "摔碎"},
        {"batch": b3.pk, "reason": "suspected_loss", "note": "药柜门锁损坏"}]}, format="json")
    assert response.status_code == 200, response.json()
    lines = {x["batch"]: x for x in response.json()["lines"]}
    assert (lines[b1.pk]["variance"], lines[b2.pk]["variance"], lines[b3.pk]["variance"]) == (0, -2, -5)
    assert lines[b3.pk]["suspected_loss"] is True and lines[b2.pk]["suspected_loss"] is False
    assert book(county, b3) == 30  # closing alone changes nothing
    response = client.post(url + "approve/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    assert (book(county, b1), book(county, b2), book(county, b3)) == (30, 28, 25)
    adjustments = StockMovement.objects.filter(kind="adjustment", holder=county.hospital)
    assert sorted(adjustments.values_list("quantity", flat=True)) == [-5, -2]
    assert all(line.stock_count_id for line in CountLine.objects.exclude(variance=0))
    assert list(counts.suspected_losses(county.inspector).values_list("batch_id", flat=True)) == [b3.pk]


def test_an_uncounted_batch_is_counted_as_zero(county, stocked):
    b1, b2, b3 = stocked
    session = counts.count_session_open(actor=county.pharmacist)
    counts.count_line_set(actor=county.pharmacist, session=session, batch=b1, counted=30)
    with pytest.raises(Exception) as exc:
        counts.count_session_close(actor=county.pharmacist, session=session)
    assert exc.value.code == "variance_needs_reason"
    assert sorted(x["batch"] for x in exc.value.details["lines"]) == [b2.pk, b3.pk]


def test_scanning_adds_a_pack_once(county, stocked):
    b1, _b2, _b3 = stocked
    PackCode.objects.create(code="81234560000000000001", kind="traceability", batch=b1)
    session = counts.count_session_open(actor=county.pharmacist)
    line = counts.count_line_scan(actor=county.pharmacist, session=session, code="81234560000000000001")
    assert line.counted == 6
    with pytest.raises(Exception) as exc:
        counts.count_line_scan(actor=county.pharmacist, session=session, code="81234560000000000001")
    assert exc.value.code == "pack_already_counted"


def test_inspector_opens_a_count_during_a_visit(county, stocked, client_for):
    b1, _b2, _b3 = stocked
    response = client_for(county.inspector).post("/api/counts/", {"holder": county.hospital.pk}, format="json")
    assert response.status_code == 201
    assert client_for(county.other.inspector).post(
        "/api/counts/", {"holder": county.hospital.pk}, format="json").status_code == 403
    assert client_for(county.clerk).post(
        "/api/counts/", {"holder": county.hospital.pk}, format="json").status_code == 403
    session = CountSession.objects.get()
    counts.count_line_set(actor=county.inspector, session=session, batch=b1, counted=30)
    # The inspector cannot approve adjustments: the custodian does.
    counts.count_session_close(actor=county.inspector, session=session,
                               reasons={b.pk: ("other", "未清点") for b in stocked[1:]})
    with pytest.raises(Exception) as exc:
        counts.count_session_approve(actor=county.inspector, session=session)
    assert exc.value.status_code == 403


def test_books_moved_since_close(county, stocked):
    b1, _b2, _b3 = stocked
    session = counts.count_session_open(actor=county.pharmacist)
    for b, n in zip(stocked, (29, 30, 30), strict=True):
        counts.count_line_set(actor=county.pharmacist, session=session, batch=b, counted=n)
    counts.count_session_close(actor=county.pharmacist, session=session, reasons={b1.pk: ("entry_error", "")})
    stock_institution(county, b1, 5)
    with pytest.raises(Exception) as exc:
        counts.count_session_approve(actor=county.pharmacist, session=session)
    assert exc.value.code == "count_stale"


def test_a_closed_count_takes_no_more_lines(county, stocked):
    session = counts.count_session_open(actor=county.pharmacist)
    for b in stocked:
        counts.count_line_set(actor=county.pharmacist, session=session, batch=b, counted=30)
    counts.count_session_close(actor=county.pharmacist, session=session)
    with pytest.raises(Exception) as exc:
        counts.count_line_set(actor=county.pharmacist, session=session, batch=stocked[0], counted=1)
    assert exc.value.code == "count_invalid_state"


def test_sessions_are_visible_to_their_holder_and_county(county, stocked, client_for):
    counts.count_session_open(actor=county.pharmacist)
    assert client_for(county.pharmacist).get("/api/counts/").json()["count"] == 1
    assert client_for(county.inspector).get("/api/counts/").json()["count"] == 1
    assert client_for(county.clerk).get("/api/counts/").json()["count"] == 0
    assert client_for(county.other.office_admin).get("/api/counts/").json()["count"] == 0


def test_the_admins_superuser_may_open_a_count_as_for_a_sweep_visit(county, stocked, client_for):
    """The same field-work rule as sweeps' visits (backend.visibility.is_inspector_of): a
    superuser may count any holder's stock, but approving adjustments stays the custodian's."""
    from tests.factories import UserFactory

    root = UserFactory(username="root", is_superuser=True, is_staff=True, role="", organisation=None)
    response = client_for(root).post("/api/counts/", {"holder": county.hospital.pk}, format="json")
    assert response.status_code == 201, response.content
    session = CountSession.objects.get()
    counts.count_line_set(actor=root, session=session, batch=stocked[0], counted=30)
    assert CountLine.objects.get(session=session).counted == 30


def test_a_counted_quantity_beyond_the_ledgers_range_is_refused_by_the_service(county, stocked):
    """The API's serializer bounds it too; the service is what the scan hook and any other
    caller share, so the bound is there (a value past the column's range would be a 500)."""
    from backend.errors import InvalidInput
    from inventory.models import MAX_QUANTITY

    session = counts.count_session_open(actor=county.pharmacist)
    with pytest.raises(InvalidInput) as exc:
        counts.count_line_set(actor=county.pharmacist, session=session, batch=stocked[0], counted=MAX_QUANTITY + 1)
    assert exc.value.code == "quantity_too_large"
    assert not CountLine.objects.exists()
    counts.count_line_set(actor=county.pharmacist, session=session, batch=stocked[0], counted=MAX_QUANTITY)
    assert CountLine.objects.get().counted == MAX_QUANTITY


def test_count_scan_reads_the_code_as_the_scan_endpoint_does(county, client_for):
    """POST /api/counts/{id}/scan/ parses what the scanner sent like POST /api/scan/ with
    action=count: a GS1 pack in its printed form, its element string behind a ]d2 prefix, a
    traceability code with the scanner's CR/LF all count the registered pack (and the same
    pack in another form is the same pack); a GS1 batch code names no pack."""
    from scanning import codec
    from tests.scanning.scan_helpers import gs1_batch, stock_with_packs, trace_codes

    batch = gs1_batch()
    gtin = batch.product.gtins[0]
    trace = trace_codes(batch, 1)[0]
    stock_with_packs(county, batch, 30, [f"01{gtin}21SN01", f"01{gtin}21SN02", trace])
    client = client_for(county.pharmacist)
    session = client.post("/api/counts/", {}, format="json").json()["id"]

    def scan(code):
        return client.post(f"/api/counts/{session}/scan/", {"code": code}, format="json")

    hri = codec.render_gs1_hri(gtin, batch.expiry_printed, batch.lot_number, "SN01")
    element_string = codec.render_gs1(gtin, batch.expiry_printed, batch.lot_number, "SN02")
    pack_size = batch.product.pack_size
    for code, counted in ((hri, pack_size), ("]d2" + element_string, 2 * pack_size), (trace + "\r\n", 3 * pack_size)):
        r = scan(code)
        assert r.status_code == 200, r.content
        assert [(ln["batch"], ln["counted"]) for ln in r.json()["lines"]] == [(batch.pk, counted)]
    r = scan(codec.render_gs1(gtin, batch.expiry_printed, batch.lot_number, "SN01"))  # SN01 again
    assert r.status_code == 409 and error_of(r)["code"] == "pack_already_counted"
    r = scan(codec.render_gs1(gtin, batch.expiry_printed, batch.lot_number))
    assert r.status_code == 422 and error_of(r)["code"] == "pack_code_required"
    r = scan(codec.render_gs1(gtin, batch.expiry_printed, batch.lot_number, "SN99"))
    assert r.status_code == 400 and error_of(r)["code"] == "pack_code_unknown"
    r = scan("]C1" + element_string[:15] + str((int(element_string[15]) + 1) % 10) + element_string[16:])
    assert r.status_code == 400 and error_of(r)["code"] == "bad_gtin_check_digit"
    assert CountLine.objects.get(session_id=session).scanned_codes == [f"01{gtin}21SN01", f"01{gtin}21SN02", trace]


def test_a_pack_registered_under_a_code_no_barcode_grammar_reads_still_counts_as_typed(county, client_for):
    """Intake keeps a pack code that is not 20 digits as a GS1 serial whatever it is (a bare
    serial a wholesaler's system printed): the count finds it as typed, as it did before the
    count read codes like the scan endpoint."""
    from tests.scanning.scan_helpers import gs1_batch, stock_with_packs

    batch = gs1_batch()
    stock_with_packs(county, batch, 30, ["SN-0042"])
    client = client_for(county.pharmacist)
    session = client.post("/api/counts/", {}, format="json").json()["id"]
    r = client.post(f"/api/counts/{session}/scan/", {"code": "SN-0042"}, format="json")
    assert r.status_code == 200, r.content
    assert [(ln["batch"], ln["counted"]) for ln in r.json()["lines"]] == [(batch.pk, batch.product.pack_size)]

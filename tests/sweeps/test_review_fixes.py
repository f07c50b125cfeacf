"""Fixes from a review of the sweep work: what an inspector or the office would have seen
go wrong, asserted through the API (or the service where the API cannot show it)."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from audits.alerts.models import Alert
from audits.sweeps import services
from audits.sweeps.models import Tick
from backend.models import Licence
from tests.conftest import error_of
from tests.devices.factories import file_device
from tests.factories import OrganisationFactory, UserFactory
from tests.inventory.factories import BatchFactory
from tests.scanning.scan_helpers import stock_with_packs, trace_codes
from tests.sweeps.helpers import item, open_visit, plan
from tests.sweeps.test_sync import PNG_URI

pytestmark = pytest.mark.django_db


def _sync(client, visit, items):
    r = client.post(f"/api/visits/{visit.pk}/sync/", {"items": items}, format="json")
    assert r.status_code == 200, r.json()
    return r.json()["results"]


# --- a typed factory serial that two registered devices share --------------------------------


def _shared_serial(county, *, here=True):
    other_hospital = OrganisationFactory(kind="hospital", jurisdiction=county.jurisdiction, licensed=True)
    own = file_device(holder=county.hospital, serial="SN-2020-0001", brand="GE", model="Voluson E8") if here \
        else None
    elsewhere = [file_device(holder=other_hospital, serial="SN-2020-0001", brand="Mindray", model="DC-70"),
                 file_device(holder=other_hospital, serial="sn-2020-0001", brand="Philips", model="EPIQ 7")]
    return own, elsewhere


def test_a_typed_serial_ticks_the_visited_sites_own_device_and_the_close_misses_nothing(county, client_for):
    own, _elsewhere = _shared_serial(county)  # the other hospital's were filed later
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    (res,) = _sync(inspector, visit, [item("scan", code="SN-2020-0001")])
    assert res["status"] == "created", res
    closed = inspector.post(f"/api/visits/{visit.pk}/close/", {}, format="json").json()
    assert {(t["device"], t["kind"]) for t in closed["ticks"]} == {(own.pk, "device_found")}


def test_a_typed_serial_no_device_of_the_site_carries_is_ambiguous_not_a_guess(county, client_for):
    _own, elsewhere = _shared_serial(county, here=False)
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    (res,) = _sync(inspector, visit, [item("scan", code="SN-2020-0001")])
    assert res["status"] == "error" and res["error"]["code"] == "device_serial_ambiguous", res
    assert res["error"]["details"] == {"devices": 2}
    assert not Tick.objects.filter(visit=visit).exists()  # neither another site's device nor "unregistered"
    # The asset tag tells them apart.
    (res,) = _sync(inspector, visit, [item("scan", code=elsewhere[1].asset_tag)])
    assert res["status"] == "created"
    assert Tick.objects.get(visit=visit).device_id == elsewhere[1].pk


def test_scan_endpoint_inspect_prefers_the_sites_device_and_lookup_says_ambiguous(county, client_for):
    own, _elsewhere = _shared_serial(county)
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    r = inspector.post("/api/scan/", {"code": "SN-2020-0001", "action": "inspect", "visit": visit.pk}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["result"]["device"] == own.pk and r.json()["result"]["kind"] == "device_found"
    # A lookup names no site: three devices carry the serial, the lookup does not pick one.
    body = inspector.post("/api/scan/", {"code": "SN-2020-0001"}, format="json").json()
    assert body["device"] is None
    assert [f["code"] for f in body["flags"]] == ["device_serial_ambiguous"]


# --- evidence citing a scan that was folded into an earlier tick -------------------------------


def test_evidence_citing_a_scan_folded_into_an_earlier_tick_resolves_to_that_tick(county, client_for):
    visit = open_visit(county, county.hospital)
    device = file_device(holder=county.hospital)
    inspector = client_for(county.inspector)
    (first,) = _sync(inspector, visit, [item("scan", code=device.asset_tag)])  # phone A
    tick_b, finding_b = str(uuid.uuid4()), str(uuid.uuid4())  # phone B: the serial plate, cited
    results = _sync(inspector, visit, [
        item("scan", tick_b, code=device.serial_number),
        item("finding", finding_b, rule="devices_match_register", severity="medium", description="铭牌与登记不符",
             evidence=[{"type": "tick", "client_id": tick_b}])])
    assert [(r["status"], r["id"]) for r in results][0] == ("duplicate", first["id"])
    evidence = inspector.get(f"/api/findings/{results[1]['id']}/").json()["evidence"]
    assert evidence == [{"type": "tick", "client_id": tick_b, "id": first["id"], "received": True}]
    # Phone B sends its scan again: still the same tick; its id is not free for another item.
    (again,) = _sync(inspector, visit, [item("scan", tick_b, code=device.serial_number)])
    assert (again["status"], again["id"]) == ("duplicate", first["id"])
    (other,) = _sync(inspector, visit, [item("answer", tick_b, item="warning_signs", answer="no")])
    assert other["error"]["code"] == "client_id_conflict"
    assert Tick.objects.filter(visit=visit).count() == 1


# --- a re-sent item with other links is not a "duplicate" ---------------------------------------


def test_a_finding_resent_with_other_evidence_is_refused_not_dropped(county, client_for):
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    answer, fid = str(uuid.uuid4()), str(uuid.uuid4())
    _sync(inspector, visit, [item("answer", answer, item="warning_signs", answer="no")])
    base = item("finding", fid, rule="warning_signs", severity="low", description="未张贴警示标志")
    assert _sync(inspector, visit, [base])[0]["status"] == "created"
    (res,) = _sync(inspector, visit, [{**base, "evidence": [{"type": "answer", "client_id": answer}]}])
    assert res["status"] == "error" and res["error"]["code"] == "client_id_reused", res
    assert res["error"]["details"]["fields"] == ["evidence"]
    (same,) = _sync(inspector, visit, [base])  # the very same item again is a duplicate
    assert same["status"] == "duplicate"


def test_a_photo_resent_for_a_finding_or_with_another_caption_is_refused_not_dropped(county, client_for):
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    pid, fid = str(uuid.uuid4()), str(uuid.uuid4())
    photo = item("photo", pid, image=PNG_URI, caption="警示牌位置")
    assert _sync(inspector, visit, [photo])[0]["status"] == "created"
    resent = _sync(inspector, visit, [{**photo, "finding_client_id": fid}, {**photo, "caption": "候诊区"}, photo])
    assert [(r["status"], (r["error"] or {}).get("details", {}).get("fields")) for r in resent] == [
        ("error", ["finding_client_id"]), ("error", ["caption"]), ("duplicate", None)]
    assert resent[0]["error"]["code"] == resent[1]["error"]["code"] == "client_id_reused"


# --- 拉网式检查: every medical institution is a target ------------------------------------------


def test_generate_targets_covers_every_medical_institution(county, client_for):
    """DOMAIN.md, joint enforcement: sweeps cover hospitals, township health centres, private
    and individual clinics, wholesalers and retail pharmacies (拉网式检查)."""
    centre = OrganisationFactory(kind="township_health_centre", jurisdiction=county.township, licensed=True)
    private = OrganisationFactory(kind="private_clinic", jurisdiction=county.township, licensed=True)
    lapsed = OrganisationFactory(kind="hospital", jurisdiction=county.jurisdiction, licensed=True)  # no approval
    elsewhere = OrganisationFactory(kind="township_health_centre", jurisdiction=county.other.jurisdiction,
                                    licensed=True)
    sweep = plan(county)
    office = client_for(county.office_admin)
    r = office.post(f"/api/sweeps/{sweep.pk}/generate-targets/", {}, format="json")
    assert r.status_code == 200, r.json()
    sources = {t["organisation"]: t["sources"] for t in r.json()["targets"]}
    assert {o: sources.get(o.pk) for o in (centre, private, lapsed)} == {
        centre: ["medical_institution"], private: ["medical_institution"], lapsed: ["medical_institution"]}
    assert set(sources[county.hospital.pk]) >= {"approved_institution"}  # its other reasons stand alone
    assert elsewhere.pk not in sources
    only = office.post(f"/api/sweeps/{sweep.pk}/generate-targets/", {"sources": ["medical_institution"]},
                       format="json")
    assert only.status_code == 200 and len(only.json()["targets"]) == len(sources)  # idempotent


# --- stock at a site whose termination approval has lapsed ----------------------------------------


def test_stock_at_an_institution_whose_approval_has_lapsed_is_flagged_prohibited_holder(county, client_for):
    batch = BatchFactory()
    packs = trace_codes(batch, 2)
    stock_with_packs(county, batch, 20, packs)
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    _sync(inspector, visit, [item("scan", code=packs[0])])  # approved: held lawfully
    today = timezone.localdate()
    Licence.objects.filter(holder_organisation=county.hospital, kind=Licence.Kind.TERMINATION_APPROVAL).update(
        valid_from=today - dt.timedelta(days=400), valid_until=today - dt.timedelta(days=1))
    _sync(inspector, visit, [item("scan", code=packs[1])])
    ticks = {t["code"]: t for t in inspector.get(f"/api/visits/{visit.pk}/").json()["ticks"]}
    assert [(ticks[p]["kind"], "prohibited_holder" in ticks[p]["flags"]) for p in packs] == [
        ("stock_on_books", False), ("stock_on_books", True)]


# --- a fine without a penalty decision -------------------------------------------------------------


def test_a_fine_is_refused_on_a_case_that_is_not_being_penalised(county, client_for):
    visit = open_visit(county, county.hospital)
    finding = services.finding_record(actor=county.inspector, visit=visit, client_id=uuid.uuid4(),
                                      rule="device_unregistered", severity="high", description="未备案B超")
    inspector = client_for(county.inspector)
    case = inspector.post("/api/cases/", {"finding": finding.pk}, format="json").json()
    url = f"/api/cases/{case['id']}/follow-up/"
    r = inspector.post(url, {"status": "transferred", "note": "移送公安", "fine_yuan": 20000}, format="json")
    assert r.status_code == 400 and error_of(r)["code"] == "case_fine_without_penalty", r.json()
    assert error_of(r)["message"] == "罚款只能在作出处罚决定时填写。"
    r = inspector.post(url, {"status": "transferred", "note": "移送公安"}, format="json")
    assert r.status_code == 200, r.content
    closed = inspector.post(url, {"status": "closed", "outcome": "已移送公安机关处理"}, format="json").json()
    assert closed["fine_yuan"] is None and [e["fine_yuan"] for e in closed["events"]] == [None, None, None]


def test_a_penalty_decision_states_the_fine_and_the_close_keeps_it(county, client_for):
    visit = open_visit(county, county.hospital)
    finding = services.finding_record(actor=county.inspector, visit=visit, client_id=uuid.uuid4(),
                                      rule="device_unregistered", severity="high", description="未备案B超")
    inspector = client_for(county.inspector)
    case = inspector.post("/api/cases/", {"finding": finding.pk}, format="json").json()
    url = f"/api/cases/{case['id']}/follow-up/"
    assert inspector.post(url, {"status": "investigating"}, format="json").status_code == 200
    assert inspector.post(url, {"status": "penalised", "fine_yuan": 20000}, format="json").status_code == 200
    r = inspector.post(url, {"status": "closed", "outcome": "已缴纳罚款", "fine_yuan": 30000}, format="json")
    assert error_of(r)["code"] == "case_fine_without_penalty"
    closed = inspector.post(url, {"status": "closed", "outcome": "已缴纳罚款"}, format="json").json()
    assert (closed["status"], closed["fine_yuan"]) == ("closed", 20000)


# --- one unregistered nameplate typed two ways ---------------------------------------------------


def test_one_unregistered_nameplate_typed_two_ways_is_one_device(county, client_for,
                                                               django_capture_on_commit_callbacks):
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    with django_capture_on_commit_callbacks(execute=True):  # the office's alerts
        results = _sync(inspector, visit, [item("scan", code="SN-7788"), item("scan", code="sn 7788 "),
                                           item("scan", code="SN-7789")])
    assert [r["status"] for r in results] == ["created", "duplicate", "created"], results
    assert results[1]["id"] == results[0]["id"]
    rows = load_workbook(io.BytesIO(client_for(county.office_admin).get(
        f"/api/sweeps/{visit.sweep_id}/report.xlsx").content))["概况"].iter_rows(values_only=True)
    assert dict(r[:2] for r in rows if r and r[0])["发现未登记设备（台）"] == 2
    assert Alert.objects.filter(type="unregistered_device_found").count() == 2


def test_an_unregistered_tick_recorded_before_the_key_existed_still_counts_as_that_device(county, client_for):
    visit = open_visit(county, county.hospital)
    old = Tick.objects.create(visit=visit, client_id=uuid.uuid4(), kind=Tick.Kind.DEVICE_UNREGISTERED,
                              code="SN-7788", scanned_at=timezone.now())  # code_key "" (before migration 0005)
    (res,) = _sync(client_for(county.inspector), visit, [item("scan", code="sn7788")])
    assert (res["status"], res["id"]) == ("duplicate", old.pk)


# --- team members of another county ----------------------------------------------------------------


def test_a_team_naming_users_of_another_county_does_not_show_their_usernames(county, client_for):
    sweep = plan(county)
    office = client_for(county.office_admin)
    r = office.post(f"/api/sweeps/{sweep.pk}/teams/", {
        "name": "一组", "members": [county.inspector.pk, county.other.office_admin.pk]}, format="json")
    assert r.status_code == 400 and "members" in error_of(r)["details"], r.json()
    assert str(county.other.office_admin.pk) in r.content.decode()  # named by id, as unknown
    assert county.other.office_admin.username not in r.content.decode()
    # A user of the county who is no inspector is still named, as before.
    r = office.post(f"/api/sweeps/{sweep.pk}/teams/", {
        "name": "一组", "members": [county.inspector.pk, county.pharmacist.pk]}, format="json")
    assert error_of(r)["code"] == "team_member_not_inspector" and error_of(r)["details"] == {
        "users": [county.pharmacist.username]}


def test_the_service_names_another_countys_user_by_id_only(county):
    sweep = plan(county)
    with pytest.raises(services.e.SweepInvalid) as refused:
        services.team_create(actor=county.office_admin, sweep=sweep, name="一组",
                             members=[county.inspector, county.other.inspector])
    assert refused.value.details == {"users": [f"#{county.other.inspector.pk}"]}
    assert county.other.inspector.username not in str(refused.value)


def test_a_city_inspector_joins_a_county_sweeps_team(county, client_for):
    """Inspectors whose jurisdiction covers the sweep may be members (team_create's rule):
    the city's drug inspector is known to the county's office for this, not "unknown"."""
    city_office = OrganisationFactory(kind="authority", jurisdiction=county.city)
    city_drug = UserFactory(role="inspector", organisation=city_office, department="drug_administration")
    sweep = plan(county)
    r = client_for(county.office_admin).post(f"/api/sweeps/{sweep.pk}/teams/", {
        "name": "一组", "members": [county.inspector.pk, city_drug.pk], "leader": city_drug.pk}, format="json")
    assert r.status_code == 201, r.content
    # A city user who is no inspector stays unknown to the county's office.
    clerk = UserFactory(role="pharmacist", organisation=OrganisationFactory(kind="hospital", jurisdiction=county.city))
    r = client_for(county.office_admin).post(f"/api/sweeps/{sweep.pk}/teams/", {
        "name": "二组", "members": [county.inspector.pk, clerk.pk]}, format="json")
    assert r.status_code == 400 and clerk.username not in r.content.decode()

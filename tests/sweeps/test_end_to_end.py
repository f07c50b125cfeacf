"""A sweep end to end through HTTP, as the office and two inspectors would run it: plan,
teams, targets from the registers, a visit with its checklist, scans (found, wrong holder,
unregistered, on and off the books), a count (book vs shelf), findings, a seal, a seizure, a
rectification order, a case with its follow-up, the close (a device nobody scanned is
missing), the reports and the summary (DOMAIN.md "Joint enforcement")."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from audits.alerts.models import Alert
from audits.sweeps.models import Case, Finding, Tick, Visit
from inventory.devices.models import DeviceStatus
from inventory.models import Seizure, StockMovement, StockPosition
from scanning.models import ScanLog
from tests.conftest import error_of
from tests.devices.factories import file_device
from tests.factories import OrganisationFactory
from tests.inventory.factories import BatchFactory, stock_wholesaler
from tests.scanning.scan_helpers import stock_with_packs, trace_codes
from tests.sweeps.helpers import drug_inspector, item

pytestmark = pytest.mark.django_db


def sheet(content: bytes, title: str) -> list[list]:
    return [list(r) for r in load_workbook(io.BytesIO(content))[title].iter_rows(values_only=True)]


def test_a_sweep_from_plan_to_report(county, client_for, django_capture_on_commit_callbacks):
    office, inspector = client_for(county.office_admin), client_for(county.inspector)
    drug = drug_inspector(county)
    today = timezone.localdate()

    # The registers: two devices at the hospital, one at another hospital, stock with packs.
    d_found, d_missing = file_device(holder=county.hospital), file_device(holder=county.hospital)
    other_hospital = OrganisationFactory(kind="hospital", jurisdiction=county.jurisdiction, licensed=True)
    d_elsewhere = file_device(holder=other_hospital)
    batch = BatchFactory()
    packs = trace_codes(batch, 3)
    stock_with_packs(county, batch, 30, packs)  # the hospital holds 30, packs registered
    stray = BatchFactory()
    stock_wholesaler(county, stray, 40)  # held by the wholesaler only

    # Plan.
    r = office.post("/api/sweeps/", {"name": "2026年上半年两非专项整治", "jurisdiction": county.jurisdiction.pk,
                                     "period_start": (today - dt.timedelta(days=1)).isoformat(),
                                     "period_end": (today + dt.timedelta(days=30)).isoformat(),
                                     "departments": ["health", "drug_administration"]}, format="json")
    assert r.status_code == 201, r.content
    sweep = r.json()["id"]
    one_department = office.post(f"/api/sweeps/{sweep}/teams/", {"name": "单部门组", "members": [county.inspector.pk]},
                                 format="json")
    assert one_department.status_code == 422 and error_of(one_department)["code"] == "team_needs_two_departments"
    outsider = office.post(f"/api/sweeps/{sweep}/teams/", {"name": "第一组", "members": [county.inspector.pk, drug.pk],
                                                           "leader": county.pharmacist.pk}, format="json")
    assert outsider.status_code == 400 and error_of(outsider)["code"] == "team_leader_not_member"
    other_county = office.post(f"/api/sweeps/{sweep}/teams/", {"name": "第一组", "members": [
        county.inspector.pk, drug.pk], "leader": county.other.inspector.pk}, format="json")
    assert other_county.status_code == 400 and "leader" in error_of(other_county)["details"]  # unknown here
    unknown = office.post(f"/api/sweeps/{sweep}/teams/", {"name": "第一组", "members": [county.inspector.pk, drug.pk],
                                                          "leader": 987654}, format="json")
    assert unknown.status_code == 400 and "leader" in error_of(unknown)["details"]
    r = office.post(f"/api/sweeps/{sweep}/teams/", {"name": "第一组", "members": [county.inspector.pk, drug.pk],
                                                    "leader": county.inspector.pk}, format="json")
    assert r.status_code == 201, r.content
    team = r.json()["teams"][0]
    assert team["departments"] == ["drug_administration", "health"]

    r = office.post(f"/api/sweeps/{sweep}/generate-targets/", {}, format="json")
    assert r.status_code == 200, r.content
    targets = {t["organisation"]: t for t in r.json()["targets"]}
    assert set(targets[county.hospital.pk]["sources"]) == {"approved_institution", "device_holder"}
    assert targets[other_hospital.pk]["sources"] == ["device_holder"]
    assert targets[county.wholesaler.pk]["sources"] == ["wholesaler"]
    assert targets[county.pharmacy.pk]["sources"] == ["retail_pharmacy"]
    assert targets[county.clinic.pk]["sources"] == ["individual_clinic"]
    assert county.other.hospital.pk not in targets  # another county
    again = office.post(f"/api/sweeps/{sweep}/generate-targets/", {}, format="json")  # idempotent
    assert len(again.json()["targets"]) == len(targets)
    r = office.post(f"/api/sweeps/{sweep}/targets/", {"site_name": "西渡镇无名B超点", "site_address": "西渡镇老街",
                                                      "jurisdiction": county.township.pk}, format="json")
    assert r.status_code == 201 and len(r.json()["targets"]) == len(targets) + 1
    hospital_target = targets[county.hospital.pk]["id"]
    r = office.post(f"/api/sweeps/{sweep}/assign/", {"target": hospital_target, "team": team["id"]}, format="json")
    assert r.status_code == 200

    # Visit the hospital.
    r = inspector.post("/api/visits/", {"target": hospital_target}, format="json")
    assert r.status_code == 201, r.content
    visit = r.json()
    assert visit["team"] == team["id"]
    assert {c["item"] for c in visit["checklist"]} >= {"warning_signs", "devices_match_register",
                                                        "operators_licensed", "monthly_reconciliation_signed"}
    assert "no_termination_drugs" not in {c["item"] for c in visit["checklist"]}
    vid = visit["id"]
    assert inspector.post("/api/visits/", {"target": hospital_target}, format="json").status_code == 409

    # Scans through /api/scan/ with action=inspect.
    def inspect(code, **extra):
        return inspector.post("/api/scan/", {"code": code, "action": "inspect", "visit": vid, **extra},
                              format="json")

    r = inspect(d_found.asset_tag)
    assert r.status_code == 200, r.content
    assert r.json()["result"]["kind"] == "device_found" and r.json()["result"]["status"] == "created"
    assert inspect(d_found.asset_tag).json()["result"]["status"] == "duplicate"  # one tick per device
    assert inspect(d_elsewhere.serial_number).json()["result"]["kind"] == "device_wrong_holder"
    with django_capture_on_commit_callbacks(execute=True):
        r = inspect("SN-NOT-ON-ANY-REGISTER-77")
    assert r.json()["result"]["kind"] == "device_unregistered"
    unregistered = Tick.objects.get(pk=r.json()["result"]["id"])
    alert = Alert.objects.get(type="unregistered_device_found")
    assert alert.severity == "high" and alert.subject_id == unregistered.pk
    assert {"type": "sweeps.visit", "id": vid} in alert.evidence
    r = inspect(packs[0])
    assert r.json()["result"]["kind"] == "stock_on_books" and r.json()["result"]["book_quantity"] == 30
    r = inspect(f"BT-{stray.product_id}-{stray.lot_number}")
    assert r.json()["result"]["kind"] == "stock_off_books" and r.json()["result"]["book_quantity"] == 0
    assert ScanLog.objects.filter(action="inspect", context__visit=vid).count() == 6

    # Count: book vs shelf.
    r = inspector.post(f"/api/visits/{vid}/count/", {}, format="json")
    assert r.status_code == 201, r.content
    session = r.json()["count_session"]
    r = inspector.post(f"/api/counts/{session}/lines/", {"batch": batch.pk, "counted": 26}, format="json")
    assert r.status_code == 200, r.content
    r = inspector.post(f"/api/counts/{session}/close/",
                       {"reasons": [{"batch": batch.pk, "reason": "suspected_loss", "note": "少4片"}]}, format="json")
    assert r.status_code == 200, r.content
    line = inspector.get(f"/api/visits/{vid}/").json()["count"]["lines"][0]
    assert (line["book_quantity"], line["counted"], line["variance"]) == (30, 26, -4)

    # Checklist answers, a finding with evidence and a photo through the sync batch.
    tick_client = str(unregistered.client_id)
    finding_client = str(uuid.uuid4())
    from tests.sweeps.test_sync import PNG_URI

    r = inspector.post(f"/api/visits/{vid}/sync/", {"items": [
        item("answer", item="warning_signs", answer="yes"),
        item("answer", item="monthly_reconciliation_signed", answer="no", note="本月未签字"),
        item("finding", finding_client, rule="device_unregistered", severity="high",
             description="B超室发现一台未备案的便携式超声设备", evidence=[{"type": "tick", "client_id": tick_client}]),
        item("photo", image=PNG_URI, caption="未备案设备铭牌", finding_client_id=finding_client),
    ]}, format="json")
    assert r.status_code == 200, r.content
    assert [x["status"] for x in r.json()["results"]] == ["created"] * 4
    finding = Finding.objects.get(client_id=finding_client)
    detail = inspector.get(f"/api/findings/{finding.pk}/").json()
    assert {(e["type"], e["received"]) for e in detail["evidence"]} == {("tick", True), ("photo", True)}

    # Actions: seal, seize, rectification; a second finding for the count.
    r = inspector.post(f"/api/findings/{finding.pk}/seal/", {"device": d_found.pk, "reason": "涉嫌非法鉴定"},
                       format="json")
    assert r.status_code == 201, r.content
    d_found.refresh_from_db()
    assert d_found.status == DeviceStatus.SEALED
    assert d_found.events.last().reference == finding.reference
    r = inspector.post("/api/findings/", {"visit": vid, "rule": "count_variance", "severity": "medium",
                                          "description": "米非司酮片账面30片，实盘26片"}, format="json")
    assert r.status_code == 201, r.content
    count_finding = r.json()["id"]
    r = inspector.post(f"/api/findings/{count_finding}/seize/", {"batch": batch.pk, "quantity": 26,
                                                                 "note": "封存待查"}, format="json")
    assert r.status_code == 201, r.content
    seizure = Seizure.objects.get()
    assert (seizure.holder, seizure.authority, seizure.quantity) == (county.hospital, county.authority, 26)
    assert StockMovement.objects.filter(seizure=seizure, holder=county.hospital).get().quantity == -26
    assert StockPosition.objects.get(holder=county.authority, batch=batch).quantity == 26
    deadline = (today + dt.timedelta(days=15)).isoformat()
    r = inspector.post(f"/api/findings/{count_finding}/rectification/",
                       {"requirement": "建立终止妊娠药品专用账册，每月核对签字", "deadline": deadline}, format="json")
    assert r.status_code == 201
    assert [a["kind"] for a in r.json()["actions"]] == ["seize_stock", "order_rectification"]

    # A case and its follow-up.
    r = inspector.post("/api/cases/", {"finding": finding.pk}, format="json")
    assert r.status_code == 201, r.content
    case = r.json()
    assert case["status"] == "open" and case["number"].startswith(f"LF-{county.jurisdiction.code}-")
    assert inspector.post("/api/cases/", {"finding": finding.pk}, format="json").status_code == 409
    follow = f"/api/cases/{case['id']}/follow-up/"
    assert inspector.post(follow, {"status": "investigating", "note": "调取进货票据"}, format="json").status_code == 200
    r = inspector.post(follow, {"status": "penalised", "fine_yuan": 50000}, format="json")
    assert r.status_code == 400 and error_of(r)["code"] == "case_fine_out_of_range"
    assert inspector.post(follow, {"status": "penalised", "fine_yuan": 20000}, format="json").status_code == 200
    r = inspector.post(follow, {"status": "closed", "outcome": "罚款2万元，没收设备"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert [e["status"] for e in r.json()["events"]] == ["open", "investigating", "penalised", "closed"]

    # Close the visit: the device nobody scanned is missing.
    r = inspector.post(f"/api/visits/{vid}/close/", {}, format="json")
    assert r.status_code == 200, r.content
    missing = [t for t in r.json()["ticks"] if t["kind"] == "device_missing"]
    assert [t["device"] for t in missing] == [d_missing.pk]
    late = inspector.post(f"/api/visits/{vid}/sync/", {"items": [item("answer", item="warning_signs",
                                                                      answer="no")]}, format="json")
    assert late.json()["results"][0]["error"]["code"] == "visit_closed"

    # The inspected organisation sees its own findings and rectification orders, not the visit.
    pharmacist = client_for(county.pharmacist)
    own = pharmacist.get("/api/findings/").json()["results"]
    assert {f["id"] for f in own} == {finding.pk, count_finding}
    assert all(f["case"] is None for f in own)
    assert pharmacist.get(f"/api/visits/{vid}/").status_code == 404
    assert pharmacist.get(f"/api/cases/{case['id']}/").status_code == 404
    assert client_for(county.clerk).get("/api/findings/").json()["count"] == 0

    # Reports.
    r = inspector.get(f"/api/visits/{vid}/report.xlsx")
    assert r.status_code == 200
    rows = sheet(r.content, "发现问题")
    assert rows[0][0] == "联合执法检查记录" and rows[2][:4] == ["序号", "检查对象", "违反规定", "严重程度"]
    assert {row[2] for row in rows[3:5]} == {"发现未登记备案的B超或染色体检测设备", "账物不符"}
    ticks = sheet(r.content, "设备及药品扫码核查")
    assert {row[0] for row in ticks[3:9]} == {"设备在册", "设备不在登记单位", "未登记设备", "药品在账", "药品账外",
                                              "登记设备未见实物"}
    count_rows = sheet(r.content, "盘点（账物相符）")
    assert count_rows[3][2:5] == [30, 26, -4]

    assert office.post(f"/api/sweeps/{sweep}/finish/", {}, format="json").status_code == 200
    r = office.get(f"/api/sweeps/{sweep}/report.xlsx")
    overview = {row[0]: row[1] for row in sheet(r.content, "概况")[3:] if row and row[0]}
    assert overview["计划检查单位（个）"] == len(targets) + 1
    assert overview["已检查单位（个）"] == 1
    assert overview["发现问题（条）"] == 2
    assert overview["查封设备（台）"] == 1
    assert overview["扣押药品（次 / 数量）"] == "1 / 26"
    assert overview["立案（件）"] == 1
    assert overview["发现未登记设备（台）"] == 1 and overview["登记设备未见实物（台）"] == 1
    assert Visit.objects.get(pk=vid).status == "closed" and Case.objects.get().status == "closed"

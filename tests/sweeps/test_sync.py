"""Offline field work: a phone queues checklist answers, scans, findings and photos with
client-generated ids and uploads them later, in any order, more than once. Each item lands
exactly once; a bad item answers with its own error code and does not block the others."""

from __future__ import annotations

import base64
import datetime as dt
import random
import uuid

import pytest
from django.utils import timezone

from audits.models import AuditEntry
from audits.sweeps.models import ChecklistAnswer, EvidencePhoto, Finding, Tick
from scanning.models import ScanLog
from tests.devices.factories import file_device, image_bytes
from tests.sweeps.helpers import item, open_visit

pytestmark = pytest.mark.django_db

PNG_URI = "data:image/png;base64," + base64.b64encode(image_bytes()).decode()
PDF_URI = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4 not an image").decode()


def sync(client, visit, items, **extra):
    return client.post(f"/api/visits/{visit.pk}/sync/", {"items": items}, format="json", **extra)


def queue(county, devices):
    finding = str(uuid.uuid4())
    tick = str(uuid.uuid4())
    now = timezone.now()
    first, recheck = (now - dt.timedelta(hours=2)).isoformat(), (now - dt.timedelta(hours=1)).isoformat()
    return [
        item("answer", item="warning_signs", answer="yes", answered_at=first),
        item("answer", item="exam_register_kept", answer="no", note="登记表缺两个月"),
        item("answer", item="warning_signs", answer="no", note="复查：警示牌被取下", answered_at=recheck),
        item("scan", tick, code=devices[0].asset_tag),
        item("scan", code=devices[1].serial_number),
        item("scan", code="UNREGISTERED-SERIAL-001"),
        item("finding", finding, rule="exam_register_kept", severity="medium", description="检查登记表未按要求填写",
             evidence=[{"type": "tick", "client_id": tick}]),
        item("photo", image=PNG_URI, caption="登记表", finding_client_id=finding),
    ]


def counts() -> tuple[int, int, int, int]:
    return (ChecklistAnswer.objects.count(), Tick.objects.count(), Finding.objects.count(),
            EvidencePhoto.objects.count())


def test_shuffled_and_duplicated_batches_leave_exactly_one_of_each(county, client_for):
    visit = open_visit(county, county.hospital)
    devices = [file_device(holder=county.hospital), file_device(holder=county.hospital)]
    items = queue(county, devices)
    inspector = client_for(county.inspector)
    rng = random.Random(7)

    first = items[:]
    rng.shuffle(first)
    r = sync(inspector, visit, first[:5])  # half the queue gets through, in a random order
    assert r.status_code == 200, r.content
    assert {x["status"] for x in r.json()["results"]} == {"created"}

    for _ in range(3):  # the phone retries everything, shuffled, with duplicates inside the batch
        batch = items + rng.sample(items, 4)
        rng.shuffle(batch)
        r = sync(inspector, visit, batch)
        assert r.status_code == 200, r.content
        assert all(x["status"] in ("created", "duplicate") for x in r.json()["results"]), r.json()
    assert counts() == (3, 3, 1, 1)
    by_client = {x["client_id"]: x for x in r.json()["results"]}
    assert set(by_client) == {i["client_id"] for i in items}
    assert {x["status"] for x in r.json()["results"]} == {"duplicate"}

    # The finding's evidence resolved whatever the order; the latest answer counts.
    finding = Finding.objects.get()
    detail = inspector.get(f"/api/findings/{finding.pk}/").json()
    assert sorted((e["type"], e["received"]) for e in detail["evidence"]) == [("photo", True), ("tick", True)]
    state = {c["item"]: c["answer"] for c in inspector.get(f"/api/visits/{visit.pk}/").json()["checklist"]}
    assert state["warning_signs"] == "no" and state["exam_register_kept"] == "no"  # the re-check, sent in any order
    # One audit entry per item written, none for the duplicates.
    assert AuditEntry.objects.filter(object_type__startswith="sweeps.").exclude(
        object_type="sweeps.visit").exclude(object_type="sweeps.sweep").exclude(
        object_type="sweeps.target").count() == 8


def test_one_bad_item_does_not_block_the_others(county, client_for):
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    good = item("answer", item="warning_signs", answer="yes")
    r = sync(inspector, visit, [
        item("answer", item="no_such_item", answer="yes"),
        item("answer", item="no_termination_drugs", answer="yes"),  # for pharmacies and clinics only
        good,
        item("photo", image=PDF_URI),
        item("finding", rule="warning_signs", severity="apocalyptic", description="x"),
        item("scan", code="]C1019"),  # the codec refuses it
        item("scan", code="NOTHING-KNOWN"),
        {"type": "answer", "client_id": "not-a-uuid", "item": "warning_signs", "answer": "yes"},
        {"type": "telepathy", "client_id": str(uuid.uuid4())},
        "not an object",
        item("finding", good["client_id"], rule="warning_signs", severity="low", description="x"),
    ])
    assert r.status_code == 200, r.content
    results = r.json()["results"]
    codes = [x["error"]["code"] if x["error"] else x["status"] for x in results]
    assert codes == ["checklist_item_unknown", "checklist_item_not_applicable", "created", "upload_type_not_allowed",
                     "validation_error", "bad_value", "created", "validation_error", "sync_item_type_unknown",
                     "sync_item_type_unknown", "client_id_conflict"]
    assert all(x["error"]["message"] for x in results if x["status"] == "error")
    assert r.json()["created"] == 2 and r.json()["error"] == 9
    assert counts() == (1, 1, 0, 0)
    assert Tick.objects.get().kind == "device_unregistered"
    # Refused scans are logged too.
    assert ScanLog.objects.filter(action="inspect").count() == 2


def test_idempotency_key_replays_the_whole_answer(county, client_for):
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    items = [item("answer", item="warning_signs", answer="yes")]
    first = sync(inspector, visit, items, HTTP_IDEMPOTENCY_KEY="phone-batch-1")
    again = sync(inspector, visit, items, HTTP_IDEMPOTENCY_KEY="phone-batch-1")
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert ChecklistAnswer.objects.count() == 1


def test_only_inspectors_of_the_jurisdiction_write(county, client_for):
    visit = open_visit(county, county.hospital)
    items = [item("answer", item="warning_signs", answer="yes")]
    r = sync(client_for(county.office_admin), visit, items)
    assert r.status_code == 403 and r.json()["error"]["code"] == "sweep_inspector_required"
    assert r.json()["error"]["message"] == "只有该单位所在辖区的检查人员可以进行现场检查。"  # zh-hans first
    r = sync(client_for(county.office_admin), visit, items, HTTP_ACCEPT_LANGUAGE="en")
    assert r.json()["error"]["message"] == "Only inspectors of the site's jurisdiction work on visits."
    assert sync(client_for(county.other.inspector), visit, items).status_code == 404
    assert sync(client_for(county.pharmacist), visit, items).status_code == 404
    assert ChecklistAnswer.objects.count() == 0


def test_empty_or_malformed_batch_is_400(county, client_for):
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    for body in ({"items": []}, {}, {"items": "x"}):
        r = inspector.post(f"/api/visits/{visit.pk}/sync/", body, format="json")
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"


def test_a_client_id_resent_with_other_content_is_refused_not_dropped(county, client_for):
    """A phone that reuses a client id for another answer must not see its new answer
    reported as a "duplicate" and silently lost."""
    visit = open_visit(county, county.hospital)
    inspector = client_for(county.inspector)
    cid = str(uuid.uuid4())
    first = item("answer", cid, item="warning_signs", answer="no")
    assert sync(inspector, visit, [first]).json()["results"][0]["status"] == "created"
    assert sync(inspector, visit, [first]).json()["results"][0]["status"] == "duplicate"
    other = item("answer", cid, item="exam_register_kept", answer="yes", note="已补登")
    (result,) = sync(inspector, visit, [other]).json()["results"]
    assert result["status"] == "error" and result["error"]["code"] == "client_id_reused"
    assert result["error"]["details"]["fields"] == ["answer", "item", "note"]
    finding = item("finding", rule="warning_signs", severity="low", description="未张贴警示标志")
    sync(inspector, visit, [finding])
    (result,) = sync(inspector, visit, [{**finding, "severity": "high"}]).json()["results"]
    assert result["error"]["code"] == "client_id_reused"
    assert ChecklistAnswer.objects.count() == 1 and Finding.objects.get().severity == "low"


@pytest.mark.parametrize(("bad", "code"), [
    ({"type": ["answer"]}, "sync_item_type_unknown"),
    ({"type": {"a": 1}}, "sync_item_type_unknown"),
    ({"type": 7, "client_id": ["x"]}, "sync_item_type_unknown"),
    ({"type": "answer", "client_id": str(uuid.uuid4()), "item": "warning_signs", "answer": "no",
      "answered_at": "0001-01-01T00:00:00"}, "value_out_of_range"),
])
def test_odd_items_answer_per_item_never_a_500(county, client_for, bad, code):
    visit = open_visit(county, county.hospital)
    good = item("answer", item="warning_signs", answer="yes")
    r = sync(client_for(county.inspector), visit, [bad, good])
    assert r.status_code == 200, r.content
    odd, fine = r.json()["results"]
    assert odd["status"] == "error"
    assert odd["error"]["code"] == code
    assert fine["status"] == "created"

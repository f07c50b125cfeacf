"""Rectification orders and their re-inspection (整改复查): an order past its deadline is
overdue until an inspector verifies it; one verification per order."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audits.sweeps import services
from audits.sweeps.models import FindingAction
from tests.conftest import error_of
from tests.sweeps.helpers import open_visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(county):
    visit = open_visit(county, county.hospital)
    finding = services.finding_record(actor=county.inspector, visit=visit,
                                      client_id="00000000-0000-4000-8000-0000000000a1", rule="warning_signs",
                                      severity="low", description="B超室未张贴警示标志")
    ordered_at = timezone.now() - dt.timedelta(days=10)
    return services.finding_order_rectification(actor=county.inspector, finding=finding, requirement="三日内张贴",
                                                deadline=timezone.localdate(ordered_at) + dt.timedelta(days=3),
                                                at=ordered_at)


def _order_json(client, order):
    actions = client.get(f"/api/findings/{order.finding_id}/").json()["actions"]
    return next(a for a in actions if a["id"] == order.pk)


def test_an_overdue_order_stops_being_overdue_once_verified(county, client_for, order):
    inspector = client_for(county.inspector)
    assert _order_json(inspector, order)["overdue"] is True
    url = f"/api/findings/{order.finding_id}/verify-rectification/"
    r = inspector.post(url, {"order": order.pk, "note": "复查：警示标志已张贴"}, format="json")
    assert r.status_code == 201, r.content
    kinds = [a["kind"] for a in r.json()["actions"]]
    assert kinds == ["order_rectification", "rectification_verified"]
    shown = _order_json(inspector, order)
    assert shown["overdue"] is False and shown["verified_at"] is not None
    # The site sees it too (its own findings and orders).
    assert _order_json(client_for(county.pharmacist), order)["overdue"] is False
    # Once only.
    r = inspector.post(url, {"order": order.pk, "note": "再次复查"}, format="json")
    assert r.status_code == 409 and error_of(r)["code"] == "rectification_already_verified"
    assert FindingAction.objects.filter(kind="rectification_verified").count() == 1


def test_verification_needs_a_note_an_order_of_this_finding_and_an_inspector(county, client_for, order):
    inspector = client_for(county.inspector)
    url = f"/api/findings/{order.finding_id}/verify-rectification/"
    r = inspector.post(url, {"order": order.pk, "note": "  "}, format="json")
    assert r.status_code == 400
    other_order = FindingAction.objects.create(finding=order.finding, kind="order_rectification", requirement="x",
                                             deadline=timezone.localdate(), occurred_at=timezone.now())
    other = services.finding_record(actor=county.inspector, visit=order.finding.visit,
                                    client_id="00000000-0000-4000-8000-0000000000a2", rule="exam_register_kept",
                                    severity="low", description="检查登记表缺页")
    r = inspector.post(f"/api/findings/{other.pk}/verify-rectification/", {"order": other_order.pk, "note": "好"},
                       format="json")
    assert r.status_code == 400  # an order of another finding
    r = client_for(county.pharmacist).post(url, {"order": order.pk, "note": "已整改"}, format="json")
    assert r.status_code == 403  # the site cannot verify itself
    assert not FindingAction.objects.filter(kind="rectification_verified").exists()


def test_bad_numbers_in_finding_and_team_bodies_are_400(county, client_for, order):
    inspector = client_for(county.inspector)
    r = inspector.post(f"/api/findings/{order.finding_id}/seize/", {"batch": 1, "quantity": 10**30}, format="json")
    assert r.status_code == 400
    sweep = order.finding.visit.sweep
    r = client_for(county.office_admin).post(f"/api/sweeps/{sweep.pk}/teams/", {"name": "二组", "members": [10**30]},
                                             format="json")
    assert r.status_code == 400


def test_the_visit_report_shows_the_verification(county, client_for, order):
    inspector = client_for(county.inspector)
    inspector.post(f"/api/findings/{order.finding_id}/verify-rectification/",
                   {"order": order.pk, "note": "复查：警示标志已张贴"}, format="json")
    r = inspector.get(f"/api/visits/{order.finding.visit_id}/report.xlsx")
    assert r.status_code == 200
    from io import BytesIO

    from openpyxl import load_workbook

    cells = [c for row in load_workbook(BytesIO(r.content))["发现问题"].iter_rows(values_only=True) for c in row if c]
    assert any("责令于" in str(c) and "整改复查：复查：警示标志已张贴" in str(c) for c in cells)

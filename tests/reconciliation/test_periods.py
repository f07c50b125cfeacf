"""Months and due days: malformed months are refused, a due day a month lacks never crashes,
and a due day outside 1..28 is refused where it is written."""

import datetime as dt

import pytest
from django.test import Client

from audits import periods
from backend.models import Jurisdiction
from tests.conftest import error_of
from tests.factories import UserFactory


@pytest.mark.parametrize("month,expected", [(dt.date(2026, 1, 1), dt.date(2026, 2, 28)),
                                            (dt.date(2028, 1, 1), dt.date(2028, 2, 29)),
                                            (dt.date(2026, 3, 1), dt.date(2026, 4, 30)),
                                            (dt.date(2026, 4, 1), dt.date(2026, 5, 31))])
def test_due_day_past_the_end_of_the_month_means_its_last_day(month, expected):
    jurisdiction = Jurisdiction(code="430421", name="衡阳县", level="county", monthly_filing_due_day=31)
    assert periods.due_on(month, jurisdiction) == expected


def test_due_day_within_the_month_is_kept():
    jurisdiction = Jurisdiction(code="430421", name="衡阳县", level="county", monthly_filing_due_day=28)
    assert periods.due_on(dt.date(2026, 1, 1), jurisdiction) == dt.date(2026, 2, 28)
    assert periods.due_on(dt.date(2026, 1, 1), None) == dt.date(2026, 2, 5)


@pytest.mark.django_db
@pytest.mark.parametrize("day", [0, 29, 31])
def test_api_refuses_a_due_day_outside_1_to_28(county, client_for, day):
    response = client_for(county.office_admin).patch(
        f"/api/jurisdictions/{county.jurisdiction.pk}/", {"monthly_filing_due_day": day}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error" and "monthly_filing_due_day" in error["details"]
    county.jurisdiction.refresh_from_db()
    assert county.jurisdiction.monthly_filing_due_day is None


@pytest.mark.django_db
def test_api_accepts_a_due_day_of_28(county, client_for):
    response = client_for(county.office_admin).patch(
        f"/api/jurisdictions/{county.jurisdiction.pk}/", {"monthly_filing_due_day": 28}, format="json")
    assert response.status_code == 200, response.json()
    county.jurisdiction.refresh_from_db()
    assert county.jurisdiction.monthly_filing_due_day == 28


@pytest.mark.django_db
def test_admin_refuses_a_due_day_outside_1_to_28(county):
    admin = UserFactory(role="", organisation=None, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    j = county.jurisdiction
    response = client.post(f"/admin/backend/jurisdiction/{j.pk}/change/", {
        "code": j.code, "name": j.name, "level": j.level, "parent": j.parent_id or "",
        "dual_signoff_required": "unknown", "monthly_filing_due_day": 31}, secure=True)
    assert response.status_code == 200  # the form again, with the error
    assert "monthly_filing_due_day" in response.context["adminform"].form.errors
    j.refresh_from_db()
    assert j.monthly_filing_due_day is None


@pytest.mark.django_db
@pytest.mark.parametrize("month", ["0000-05", "2026-13", "2026-1", "26-01"])
def test_malformed_month_is_refused(county, client_for, month):
    response = client_for(county.inspector).get("/api/closings/", {"month": month})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_month"

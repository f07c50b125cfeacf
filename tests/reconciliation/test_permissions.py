"""Who may see and do what: members their own, authorities their jurisdiction, anonymous 401;
and the office's filing-status view."""

import datetime as dt

import pytest
from django.utils import timezone

from audits import closing, periods
from tests.conftest import error_of

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/counts/"),
    ("post", "/api/counts/"),
    ("get", "/api/closings/"),
    ("post", "/api/closings/sign/"),
    ("get", "/api/filings/sales/"),
    ("post", "/api/filings/sales/"),
    ("get", "/api/filings/sales/template.csv"),
    ("get", "/api/filings/status/?month=2026-10"),
    ("get", "/api/reconciliations/?month=2026-10"),
    ("get", "/api/reconciliations/export.xlsx?month=2026-10"),
    ("get", "/api/forms/usage-register.xlsx?month=2026-10"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_anonymous_gets_401(api, method, url):
    response = getattr(api, method)(url)
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_filing_status_shows_who_filed_and_who_is_late(county, month, client_for):
    (b1,) = month.batches(1)
    month.ship({b1: 5})
    due = periods.due_on(month.month, county.jurisdiction)
    month.filing([month.row(b1, 5)], submitted_at=timezone.make_aware(
        dt.datetime.combine(due + dt.timedelta(days=1), dt.time(9))))
    after_due = timezone.localdate() > due
    body = client_for(county.office_admin).get(
        f"/api/filings/status/?month={month.month:%Y-%m}&jurisdiction={county.jurisdiction.code}").json()
    got = {(r["organisation"], r["form"]): r["status"] for r in body["results"]}
    assert got == {
        (county.wholesaler.pk, "sales_summary"): "late",
        (county.hospital.pk, "usage_register"): "missing" if after_due else "not_yet_due",
        (county.hospital.pk, "drug_summary"): "missing" if after_due else "not_yet_due",
    }
    # in the server's time zone (+08:00), like every other timestamp: 09:00 that day, not 01:00Z
    (sales,) = [r for r in body["results"] if r["form"] == "sales_summary"]
    assert sales["filed_at"] == f"{due + dt.timedelta(days=1)}T09:00:00+08:00"
    closing.closing_sign(actor=county.pharmacist, month=month.month)
    body = client_for(county.inspector).get(f"/api/filings/status/?month={month.month:%Y-%m}").json()
    got = {(r["organisation"], r["form"]): r["status"] for r in body["results"]}
    assert got[(county.hospital.pk, "drug_summary")] == ("late" if after_due else "filed")


def test_filing_status_scope(county, month, client_for):
    url = f"/api/filings/status/?month={month.month:%Y-%m}&jurisdiction={county.jurisdiction.code}"
    assert client_for(county.other.office_admin).get(url).status_code == 403
    body = client_for(county.pharmacist).get(url).json()
    assert {r["organisation"] for r in body["results"]} <= {county.hospital.pk}


def test_a_pharmacist_cannot_sign_for_another_holder(county, month, client_for):
    response = client_for(county.other.inspector).post("/api/closings/sign/", {"month": f"{month.month:%Y-%m}"},
                                                       format="json")
    assert response.status_code == 403

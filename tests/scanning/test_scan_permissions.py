"""Who may scan and act through POST /api/scan/ (a plain path, not in the router's matrix):
every signed-in role may look a code up; acting is the services' decision, answered with
their codes; anonymous requests are 401 and leave no log row."""

from __future__ import annotations

import pytest

from inventory.models import Dispense
from scanning.models import ScanLog
from tests.conftest import error_of
from tests.inventory.factories import BatchFactory, dispense_payload, stock_institution
from tests.scanning.scan_helpers import gs1_batch, gs1_text, scan

pytestmark = pytest.mark.django_db

ROLES = ("office_admin", "inspector", "pharmacist", "physician", "wholesaler_clerk")


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_look_up(county, client_for, role):
    batch = gs1_batch()
    stock_institution(county, batch, 7)
    user = county.users()[role]
    r = scan(client_for(user), gs1_text(batch))
    assert r.status_code == 200 and r.json()["batch"]["id"] == batch.pk
    holders = {h["holder"]: h["quantity"] for h in r.json()["holders"] if not h["in_transit"]}
    if role in ("office_admin", "inspector"):
        assert holders[county.hospital.pk] == 7 and r.json()["balance"] is None
    else:  # members see only their own holdings
        assert set(holders) <= {user.organisation_id}
        assert r.json()["balance"] == (7 if user.organisation_id == county.hospital.pk else 0)
    log = ScanLog.objects.get()
    assert (log.user, log.organisation_id) == (user, user.organisation_id)


@pytest.mark.parametrize(("role", "expected"), [
    ("pharmacist", 201),
    ("physician", "403 not_allowed"),
    ("wholesaler_clerk", "403 not_allowed"),
    ("inspector", "403 not_allowed"),
    ("office_admin", "403 not_allowed"),
])
def test_only_the_institutions_pharmacist_dispenses(county, client_for, role, expected):
    batch = gs1_batch()
    stock_institution(county, batch, 7)
    context = dispense_payload(county, BatchFactory.build())
    del context["batch"]
    r = scan(client_for(county.users()[role]), gs1_text(batch), action="dispense", **context)
    if expected == 201:
        assert r.status_code == 201 and Dispense.objects.count() == 1
    else:
        status, code = expected.split()
        assert (r.status_code, error_of(r)["code"]) == (int(status), code)
        assert Dispense.objects.count() == 0
        assert ScanLog.objects.get().outcome == "refused"


def test_anonymous_may_not_scan(api):
    assert api.post("/api/scan/", {"code": "DV-00000001"}, format="json").status_code == 401
    assert api.get("/api/scans/").status_code == 401
    assert not ScanLog.objects.exists()

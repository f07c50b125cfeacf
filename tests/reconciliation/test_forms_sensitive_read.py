"""Downloading the use register with the patients in full is a full read of patient
identifiers: one `sensitive_read` entry in the audit trail per download, naming the form,
the month, the institution and the dispenses shown. A masked download writes none."""

import pytest

from audits.models import AuditEntry
from tests.reconciliation.test_forms import small_month  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def reads():
    return list(AuditEntry.objects.filter(action="sensitive_read").order_by("seq"))


@pytest.mark.parametrize("fmt", ["xlsx", "pdf"])
@pytest.mark.parametrize("who", ["pharmacist", "inspector"])
def test_full_download_is_one_sensitive_read(county, month, small_month, client_for, who, fmt):  # noqa: F811
    d1, d2 = small_month["dispenses"]
    user = getattr(county, who)
    response = client_for(user).get(f"/api/forms/usage-register.{fmt}",
                                    {"month": f"{month.month:%Y-%m}", "organisation": county.hospital.pk})
    assert response.status_code == 200
    (entry,) = reads()
    assert (entry.actor_id, entry.object_type, entry.transition) == (user.pk, "inventory.dispense", "patient")
    assert entry.subject_organisation_id == county.hospital.pk
    assert entry.after == {"document": "usage-register", "month": f"{month.month:%Y-%m}",
                           "institution": county.hospital.pk, "dispenses": [d1.pk, d2.pk]}
    client_for(user).get(f"/api/forms/usage-register.{fmt}",
                         {"month": f"{month.month:%Y-%m}", "organisation": county.hospital.pk})
    assert len(reads()) == 2  # every download


def test_masked_download_writes_no_sensitive_read(county, month, small_month, client_for):  # noqa: F811
    response = client_for(county.office_admin).get(
        "/api/forms/usage-register.xlsx", {"month": f"{month.month:%Y-%m}", "organisation": county.hospital.pk})
    assert response.status_code == 200
    assert reads() == []


def test_single_dispense_read_is_still_one_entry_on_the_dispense(county, small_month, client_for):  # noqa: F811
    d1, _d2 = small_month["dispenses"]
    assert client_for(county.pharmacist).get(f"/api/dispenses/{d1.pk}/").status_code == 200
    (entry,) = reads()
    assert (entry.object_type, entry.object_id, entry.transition) == ("inventory.dispense", str(d1.pk), "patient")

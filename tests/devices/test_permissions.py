"""Who sees labels and the register (plain views outside the router; the router's device
endpoints are in the permission matrix, rows in tests/devices/permission_rows.py)."""

import csv
import io

import pytest

from tests.backend.permission_matrix import PLACES, ROLES, SCOPED_READ
from tests.devices.permission_rows import device_record

pytestmark = pytest.mark.django_db


def _owners(county, user):
    return {"own": user.organisation if user else county.hospital, "county": county.pharmacy,
            "outside": county.other.hospital}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_label_follows_visibility(county, client_for, role, fmt):
    user = county.users().get(role)
    client = client_for(user)
    for i, place in enumerate(PLACES):
        device = device_record(county, _owners(county, user)[place])
        response = client.get(f"/api/devices/{device.pk}/label.{fmt}")
        assert response.status_code == SCOPED_READ[role][i], (place, response.content[:200])


@pytest.mark.parametrize("role", ROLES)
def test_register_lists_what_the_user_may_see(county, client_for, role):
    user = county.users().get(role)
    devices = {place: device_record(county, owner) for place, owner in _owners(county, user).items()}
    response = client_for(user).get("/api/devices/register.csv")
    if user is None:
        assert response.status_code == 401
        return
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    listed = {r["出厂编号"] for r in rows}
    for i, place in enumerate(PLACES):
        assert (devices[place].serial_number in listed) == (SCOPED_READ[role][i] == 200), place

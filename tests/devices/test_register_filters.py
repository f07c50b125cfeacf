"""The register download reads its filters like the device list: a filter it cannot read is
400 naming the filter, never the whole register exported as if unfiltered."""

import pytest

from tests.conftest import error_of
from tests.devices.test_register import devices  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("query, field", [
    ({"late": "maybe"}, "late"),
    ({"kind": "ultrasonic"}, "kind"),
    ({"status": "gone"}, "status"),
    ({"holder": "abc"}, "holder"),
])
def test_register_download_refuses_a_filter_it_cannot_read(county, client_for, devices, fmt, query, field):  # noqa: F811
    response = client_for(county.inspector).get(f"/api/devices/register.{fmt}", query)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error" and field in error["details"]
    # the list answers the same
    assert client_for(county.inspector).get("/api/devices/", query).status_code == 400


@pytest.mark.parametrize("jurisdiction", ["²", "9" * 30])
def test_register_with_a_jurisdiction_that_matches_nothing_is_empty(county, client_for, devices,  # noqa: F811
                                                                    jurisdiction):
    response = client_for(county.inspector).get("/api/devices/register.csv", {"jurisdiction": jurisdiction})
    assert response.status_code == 200
    assert response.content.decode("utf-8").lstrip("\ufeff").count("\n") == 1  # the header only


@pytest.mark.parametrize("jurisdiction", ["²", "9" * 30])
def test_organisations_by_a_jurisdiction_that_matches_nothing(county, client_for, jurisdiction):
    response = client_for(county.inspector).get("/api/organisations/", {"jurisdiction": jurisdiction})
    assert response.status_code == 200 and response.json()["count"] == 0

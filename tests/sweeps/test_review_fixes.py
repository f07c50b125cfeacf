"""Fixes from a review of the sweep work: what an inspector or the office would have seen
go wrong, asserted through the API (or the service where the API cannot show it)."""

from __future__ import annotations

import pytest

from audits.sweeps.models import Tick
from tests.devices.factories import file_device
from tests.factories import OrganisationFactory
from tests.sweeps.helpers import item, open_visit

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

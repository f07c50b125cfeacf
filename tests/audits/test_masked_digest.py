"""Masked values in audit snapshots carry a keyed digest: a resident ID shows 6 + 4 of its 18
characters, so an unkeyed SHA-256 of it would give the ID back after ~10^8 guesses."""

import datetime as dt
import hashlib

import pytest

from audits.models import AuditEntry
from audits.services import snapshot
from backend.demo import resident_id
from backend.models import Person

pytestmark = pytest.mark.django_db

RESIDENT_ID = resident_id("430421", dt.date(1984, 5, 6), 1)
OTHER_ID = resident_id("430421", dt.date(1984, 5, 6), 3)


def _digest(person) -> dict:
    return snapshot(person)["resident_id"]


def test_digest_is_not_the_plain_sha256_and_equal_values_match(county):
    first = Person(name="周伟", resident_id=RESIDENT_ID, organisation=county.hospital)
    same = Person(name="周伟", resident_id=RESIDENT_ID, organisation=county.other.hospital)
    other = Person(name="周伟", resident_id=OTHER_ID, organisation=county.hospital)
    stored = _digest(first)
    plain = hashlib.sha256(RESIDENT_ID.encode()).hexdigest()
    assert RESIDENT_ID not in str(stored)
    assert plain[:16] not in str(stored) and plain not in str(stored)
    assert stored == _digest(same)  # equal values still match within the installation
    assert stored["hmac"] != _digest(other)["hmac"]


def test_digest_depends_on_the_server_secret(county, settings):
    person = Person(name="周伟", resident_id=RESIDENT_ID, organisation=county.hospital)
    here = _digest(person)["hmac"]
    settings.SECRET_KEY = "another installation's secret"
    assert _digest(person)["hmac"] != here


def test_stored_trail_holds_no_plain_digest(county, client_for):
    response = client_for(county.office_admin).post("/api/people/", {
        "name": "周伟", "resident_id": RESIDENT_ID, "organisation": county.hospital.pk, "position": "sonographer",
    }, format="json")
    assert response.status_code == 201, response.json()
    entry = AuditEntry.objects.filter(object_type="backend.person", action="create").get()
    plain = hashlib.sha256(RESIDENT_ID.encode()).hexdigest()[:16]
    stored = entry.after["resident_id"]
    assert set(stored) == {"masked", "hmac"} and plain not in str(entry.after)

"""The permission matrix: who may list, read, create, update (and call extra actions on)
each API endpoint, over three records: the user's own organisation's, another
organisation's in the same county, and one in another jurisdiction.

HOW TO ADD AN ENDPOINT
----------------------
Every prefix registered in `backend.urls.router` needs a row, or
`test_permission_matrix.py::test_every_endpoint_has_a_row` fails. Rows live in an
`ENDPOINTS` dict, here for the registry and in `tests/<app>/permission_rows.py` for other
apps (that module is found automatically; it keeps concurrent work out of this file):

    from tests.backend.permission_matrix import Endpoint, Extra, SCOPED_READ, table, ...

    ENDPOINTS = {
        "shipments": Endpoint(
            record=lambda county, owner: ShipmentFactory(sender=owner, recipient=owner),
            read=SCOPED_READ,
            create=(lambda county, owner: {...payload...}, table(office_admin=(...), ...)),
            update=(lambda record: {"note": "x"}, table(...)),   # or None: PATCH answers 405
            extra={"receive": Extra("post", lambda record: {...}, table(...))},
        ),
    }

- `record(county, owner)` makes a row that belongs to organisation `owner` (and to nothing
  outside owner's county: if a row involves two parties, use `owner` or organisations in
  its county for both).
- Places, for each role: "own" = the user's organisation (for anonymous: the hospital);
  "county" = the retail pharmacy of 衡阳县, which sits in a township (so "and below" is
  tested); "outside" = the hospital of 长沙县 (another city).
- An outcome is a status code (200 visible / done, 201 created, 404 hidden, 401, 405), or
  "403 <error code>". For lists, 200 means "the record is in the list" and 404 "it is not".
- One test per (endpoint, action) builds the county once and runs each role inside a
  savepoint that is rolled back, so builders must not keep rows in Python-level caches;
  `owner` is a fresh instance for every role.
- `create=None` / `update=None` mean the endpoint does not offer them (expect 405, 401 for
  anonymous). Each extra action (`@action` on the viewset) needs an `Extra` entry.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from audits.services import audit_record
from tests.factories import LicenceFactory, PersonFactory, make_resident_id, make_uscc

ROLES = ("office_admin", "inspector", "pharmacist", "physician", "wholesaler_clerk", "anonymous")
PLACES = ("own", "county", "outside")
Outcome = int | str


def table(**rows: tuple[Outcome, Outcome, Outcome]) -> dict[str, tuple[Outcome, Outcome, Outcome]]:
    """A role -> (own, county, outside) table; every role must have a row."""
    assert set(rows) == set(ROLES), f"roles missing from the table: {set(ROLES) - set(rows)}"
    assert all(len(row) == len(PLACES) for row in rows.values())
    return rows


def same(outcome: Outcome, anonymous: Outcome = 401) -> dict:
    """Every signed-in role gets `outcome` everywhere."""
    return table(**{role: (outcome,) * 3 for role in ROLES if role != "anonymous"}, anonymous=(anonymous,) * 3)


ADMIN_ONLY = "403 office_admin_required"
OUTSIDE = "403 outside_jurisdiction"
OWN_ONLY = "403 own_organisation_only"
LOCKED = "403 licence_fields_locked"

# Members see their own organisation's records; authorities their jurisdiction and below.
SCOPED_READ = table(
    #                  own   county outside
    office_admin=(200, 200, 404),
    inspector=(200, 200, 404),
    pharmacist=(200, 404, 404),
    physician=(200, 404, 404),
    wholesaler_clerk=(200, 404, 404),
    anonymous=(401, 401, 401),
)
# Public reference data: every signed-in user reads everything.
PUBLIC_READ = same(200)

# Only office administrators write, and only within their jurisdiction.
ADMIN_CREATES = table(
    office_admin=(201, 201, OUTSIDE),
    inspector=(ADMIN_ONLY, ADMIN_ONLY, ADMIN_ONLY),
    pharmacist=(ADMIN_ONLY, ADMIN_ONLY, ADMIN_ONLY),
    physician=(ADMIN_ONLY, ADMIN_ONLY, ADMIN_ONLY),
    wholesaler_clerk=(ADMIN_ONLY, ADMIN_ONLY, ADMIN_ONLY),
    anonymous=(401, 401, 401),
)
# Updating a scoped record: hidden records are 404 before any permission question.
ADMIN_UPDATES_SCOPED = table(
    office_admin=(200, 200, 404),
    inspector=(ADMIN_ONLY, ADMIN_ONLY, 404),
    pharmacist=(ADMIN_ONLY, 404, 404),
    physician=(ADMIN_ONLY, 404, 404),
    wholesaler_clerk=(ADMIN_ONLY, 404, 404),
    anonymous=(401, 401, 401),
)


@dataclass(frozen=True)
class Extra:
    """An extra action on a detail route: method, payload(record) and its outcome table."""

    method: str
    payload: Callable
    expect: dict
    detail: bool = True  # False: /api/<prefix>/<url_path>/ (the payload names the record)


@dataclass(frozen=True)
class Endpoint:
    record: Callable  # (county, owner organisation) -> a model instance owned by `owner`
    read: dict
    create: tuple[Callable, dict] | None = None  # ((county, owner) -> payload, outcomes)
    update: tuple[Callable, dict] | None = None  # (record -> PATCH payload, outcomes)
    extra: dict[str, Extra] = field(default_factory=dict)  # keyed by the action's url_path
    key: Callable = lambda record: record.pk  # noqa: E731 - the id in URLs and in list items


_numbers = itertools.count(1)


def _next() -> int:
    return next(_numbers)


def _county_level(jurisdiction):
    return jurisdiction if jurisdiction.level != "township" else jurisdiction.parent


def _township_payload(county, owner):
    parent = _county_level(owner.jurisdiction)
    return {"code": f"{parent.code}{500 + _next() % 400:03d}", "name": "新设镇", "level": "township",
            "parent": parent.pk}


def _organisation_payload(county, owner):
    return {"name": f"新设医院{_next()}", "kind": "hospital", "credit_code": make_uscc(500_000 + _next()),
            "jurisdiction": owner.jurisdiction.pk}


def _person_payload(county, owner):
    return {"name": "新员工", "resident_id": make_resident_id(500_000 + _next()), "organisation": owner.pk,
            "position": "nurse"}


def _licence_payload(county, owner):
    return {"holder_organisation": owner.pk, "kind": "other", "number": f"MATRIX-{_next()}",
            "issuing_authority": "衡阳县卫生健康局", "valid_from": "2025-01-01", "valid_until": "2027-12-31"}


def _audit_entry(county, owner):
    return audit_record(action="update", instance=owner, before={"address": "旧址"}, after={"address": "新址"})


ENDPOINTS: dict[str, Endpoint] = {
    "jurisdictions": Endpoint(
        record=lambda county, owner: owner.jurisdiction,
        read=PUBLIC_READ,
        create=(_township_payload, ADMIN_CREATES),
        update=(lambda record: {"name": f"{record.name}（更名）"}, table(
            office_admin=(200, 200, OUTSIDE),
            inspector=(ADMIN_ONLY, ADMIN_ONLY, ADMIN_ONLY),
            pharmacist=(ADMIN_ONLY, ADMIN_ONLY, ADMIN_ONLY),
            physician=(ADMIN_ONLY, ADMIN_ONLY, ADMIN_ONLY),
            wholesaler_clerk=(ADMIN_ONLY, ADMIN_ONLY, ADMIN_ONLY),
            anonymous=(401, 401, 401),
        )),
    ),
    "organisations": Endpoint(
        record=lambda county, owner: owner,
        read=SCOPED_READ,
        create=(_organisation_payload, ADMIN_CREATES),
        update=(lambda record: {"address": "衡阳县新城路8号"}, ADMIN_UPDATES_SCOPED),
    ),
    "people": Endpoint(
        record=lambda county, owner: PersonFactory(organisation=owner),
        read=SCOPED_READ,
        create=(_person_payload, table(
            office_admin=(201, 201, OUTSIDE),
            inspector=(ADMIN_ONLY, ADMIN_ONLY, ADMIN_ONLY),
            pharmacist=(201, OWN_ONLY, OWN_ONLY),
            physician=(201, OWN_ONLY, OWN_ONLY),
            wholesaler_clerk=(201, OWN_ONLY, OWN_ONLY),
            anonymous=(401, 401, 401),
        )),
        update=(lambda record: {"phone": "13807340000"}, table(
            office_admin=(200, 200, 404),
            inspector=(ADMIN_ONLY, ADMIN_ONLY, 404),
            pharmacist=(200, 404, 404),
            physician=(200, 404, 404),
            wholesaler_clerk=(200, 404, 404),
            anonymous=(401, 401, 401),
        )),
    ),
    "licences": Endpoint(
        record=lambda county, owner: LicenceFactory(holder_organisation=owner, kind="other"),
        read=SCOPED_READ,
        create=(_licence_payload, ADMIN_CREATES),
        # Staff may upload a scan of their own licences (tested in test_registry_api.py) but
        # not change anything else.
        update=(lambda record: {"valid_until": (record.valid_until + dt.timedelta(days=365)).isoformat()}, table(
            office_admin=(200, 200, 404),
            inspector=(ADMIN_ONLY, ADMIN_ONLY, 404),
            pharmacist=(LOCKED, 404, 404),
            physician=(LOCKED, 404, 404),
            wholesaler_clerk=(LOCKED, 404, 404),
            anonymous=(401, 401, 401),
        )),
        extra={"revoke": Extra("post", lambda record: {"reason": "超范围执业", "on": "2025-06-01"},
                               ADMIN_UPDATES_SCOPED)},
    ),
    "audit-trail": Endpoint(
        record=_audit_entry,
        read=SCOPED_READ,
        create=None,
        update=None,
    ),
}

"""Permission-matrix rows for the reconciliation and filing endpoints (see
tests/backend/permission_matrix.py). Places: "own" = the user's organisation, "county" = the
retail pharmacy of 衡阳县, "outside" = the hospital of 长沙县. Records are made directly with
the ORM so that any organisation can own one; the rules are tested in the other modules here."""

from __future__ import annotations

import itertools

from django.utils import timezone

from audits import periods
from audits.models import CountSession, SalesFiling, SignedClosing
from inventory.models import PackCode
from tests.backend.permission_matrix import SCOPED_READ, Endpoint, Extra, table
from tests.factories import UserFactory
from tests.inventory.factories import BatchFactory

NOT_ALLOWED = "403 not_allowed"
_codes = itertools.count(1)


def _last_month():
    return periods.previous_month(timezone.localdate().replace(day=1))


def _someone():
    return UserFactory(role="", organisation=None)


def _session(county, owner) -> CountSession:
    return CountSession.objects.create(holder=owner, opened_by=_someone(), opened_at=timezone.now())


def _closing(county, owner) -> SignedClosing:
    return SignedClosing.objects.create(holder=owner, month=_last_month(), signed_by=_someone(),
                                        signed_at=timezone.now())


def _filing(county, owner) -> SalesFiling:
    month = _last_month()
    return SalesFiling.objects.create(wholesaler=owner, month=month, source="json", row_count=0, total_quantity=0,
                                      due_on=periods.due_on(month, owner.jurisdiction), late=False,
                                      submitted_by=_someone(), submitted_at=timezone.now())


def _pack(record) -> dict:
    code = f"8{next(_codes):019d}"
    PackCode.objects.create(code=code, kind="traceability", batch=BatchFactory())
    return {"code": code}


def _filing_payload(county, owner) -> dict:
    batch = BatchFactory()
    return {"month": f"{_last_month():%Y-%m}", "amendment_reason": "更正", "rows": [{
        "date": _last_month().isoformat(), "customer": owner.name, "customer_credit_code": owner.credit_code,
        "drug": batch.product.generic_name, "specification": batch.product.strength, "batch": batch.lot_number,
        "quantity": "3", "invoice_number": "FP-1"}]}


# Counting: the holder's custodian, or an inspector of its jurisdiction.
COUNT_WORK = table(
    office_admin=(NOT_ALLOWED, NOT_ALLOWED, 404),
    inspector=(200, 200, 404),
    pharmacist=(200, 404, 404),
    physician=(NOT_ALLOWED, 404, 404),
    wholesaler_clerk=(200, 404, 404),
    anonymous=(401, 401, 401),
)
COUNT_OPEN = table(
    office_admin=(NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
    inspector=(201, 201, NOT_ALLOWED),
    pharmacist=(201, NOT_ALLOWED, NOT_ALLOWED),
    physician=(NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
    wholesaler_clerk=(201, NOT_ALLOWED, NOT_ALLOWED),
    anonymous=(401, 401, 401),
)
# Approval is the custodian's alone (an open count: 409 for the custodian).
COUNT_APPROVE = table(
    office_admin=(NOT_ALLOWED, NOT_ALLOWED, 404),
    inspector=(NOT_ALLOWED, NOT_ALLOWED, 404),
    pharmacist=("409 count_invalid_state", 404, 404),
    physician=(NOT_ALLOWED, 404, 404),
    wholesaler_clerk=("409 count_invalid_state", 404, 404),
    anonymous=(401, 401, 401),
)


def _immutable(code):
    return table(
        office_admin=(code, code, 404),
        inspector=(code, code, 404),
        pharmacist=(code, 404, 404),
        physician=(code, 404, 404),
        wholesaler_clerk=(code, 404, 404),
        anonymous=(401, 401, 401),
    )


PREVIEW = table(
    office_admin=(200, 200, NOT_ALLOWED),
    inspector=(200, 200, NOT_ALLOWED),
    pharmacist=(200, NOT_ALLOWED, NOT_ALLOWED),
    physician=(200, NOT_ALLOWED, NOT_ALLOWED),
    wholesaler_clerk=(200, NOT_ALLOWED, NOT_ALLOWED),
    anonymous=(401, 401, 401),
)
# The custodian signs its own month once (the payload names a month before the record's).
SIGN = table(
    office_admin=(NOT_ALLOWED,) * 3,
    inspector=(NOT_ALLOWED,) * 3,
    pharmacist=(201, "409 period_signed", "409 period_signed"),
    physician=(NOT_ALLOWED,) * 3,
    wholesaler_clerk=(201, "409 period_signed", "409 period_signed"),
    anonymous=(401, 401, 401),
)
FILE = table(
    office_admin=(NOT_ALLOWED,) * 3,
    inspector=(NOT_ALLOWED,) * 3,
    pharmacist=(NOT_ALLOWED,) * 3,
    physician=(NOT_ALLOWED,) * 3,
    wholesaler_clerk=(201, 201, 201),
    anonymous=(401, 401, 401),
)

ENDPOINTS = {
    "counts": Endpoint(
        record=_session,
        read=SCOPED_READ,
        create=(lambda county, owner: {"holder": owner.pk}, COUNT_OPEN),
        update=None,
        extra={
            "lines": Extra("post", lambda record: {"batch": BatchFactory().pk, "counted": 3}, COUNT_WORK),
            "scan": Extra("post", _pack, COUNT_WORK),
            "close": Extra("post", lambda record: {}, COUNT_WORK),
            "approve": Extra("post", lambda record: {}, COUNT_APPROVE),
        },
    ),
    "closings": Endpoint(
        record=_closing,
        read=SCOPED_READ,
        create=None,
        update=(lambda record: {"statement": "改一改"}, _immutable("409 period_signed")),
        extra={
            "preview": Extra("get", lambda record: {"month": f"{record.month:%Y-%m}", "holder": record.holder_id},
                             PREVIEW, detail=False),
            "sign": Extra("post", lambda record: {"month": f"{periods.previous_month(record.month):%Y-%m}"}, SIGN,
                          detail=False),
        },
    ),
    "filings/sales": Endpoint(
        record=_filing,
        read=SCOPED_READ,
        create=(_filing_payload, FILE),
        update=(lambda record: {"late": True}, _immutable("409 filing_submitted")),
        extra={"lines": Extra("get", lambda record: {}, SCOPED_READ)},
    ),
}

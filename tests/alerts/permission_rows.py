"""Permission-matrix rows for `/api/alerts/` (see tests/backend/permission_matrix.py).

Alerts are the office's targeting tool (audits/alerts/selectors.py says why): office
administrators and inspectors see those of their jurisdiction and below; members see none,
not even those about their own organisation (their list is empty, a detail 404); only
office administrators acknowledge and resolve.
"""

from __future__ import annotations

from audits.alerts import services
from tests.backend.permission_matrix import Endpoint, Extra, table

ADMIN_ONLY = "403 alert_office_admin_required"

AUTHORITIES_READ = table(
    #                  own   county outside
    office_admin=(200, 200, 404),
    inspector=(200, 200, 404),
    pharmacist=(404, 404, 404),
    physician=(404, 404, 404),
    wholesaler_clerk=(404, 404, 404),
    anonymous=(401, 401, 401),
)
OFFICE_ACTS = table(
    office_admin=(200, 200, 404),
    inspector=(ADMIN_ONLY, ADMIN_ONLY, 404),
    pharmacist=(404, 404, 404),
    physician=(404, 404, 404),
    wholesaler_clerk=(404, 404, 404),
    anonymous=(401, 401, 401),
)


def _alert(county, owner):
    return services.alert_raise(type="dispensing_spike", severity="medium", subject=owner, occurrence="2026-10",
                                summary="本月用药量异常")


ENDPOINTS = {
    "alerts": Endpoint(
        record=_alert,
        read=AUTHORITIES_READ,
        create=None,
        update=None,
        extra={
            "acknowledge": Extra("post", lambda record: {"note": "已安排核查"}, OFFICE_ACTS),
            "resolve": Extra("post", lambda record: {"note": "核查无异常：集中接诊"}, OFFICE_ACTS),
        },
    ),
}

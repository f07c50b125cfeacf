"""Permission-matrix rows for the scan log (see tests/backend/permission_matrix.py).

`/api/scans/` is read-only: members list their own organisation's scans, authorities their
jurisdiction's. `POST /api/scan/` is a plain path, not a router prefix: who may act through
it is the actions' services' business (tested in test_scan_endpoint.py)."""

from __future__ import annotations

from scanning.models import ScanLog
from tests.backend.permission_matrix import SCOPED_READ, Endpoint


def _scan(county, owner) -> ScanLog:
    return ScanLog.objects.create(organisation=owner, raw="QX-UNKNOWN", action="lookup", outcome="ok",
                                  status_code=200, unknown=True, flags=["code_unknown"])


ENDPOINTS = {
    "scans": Endpoint(record=_scan, read=SCOPED_READ, create=None, update=None),
}

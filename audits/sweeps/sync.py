"""`POST /api/visits/{id}/sync/`: a batch of items a phone queued offline.

    results = visit_sync(actor=user, visit=visit, items=[
        {"type": "answer", "client_id": "...", "item": "warning_signs", "answer": "no"},
        {"type": "scan", "client_id": "...", "code": "DV-00000042"},
        {"type": "finding", "client_id": "...", "rule": "device_unregistered", "severity": "high",
         "description": "...", "evidence": [{"type": "tick", "client_id": "..."}]},
        {"type": "photo", "client_id": "...", "image": "data:image/jpeg;base64,...", "finding_client_id": "..."},
    ])
    # [{"index": 0, "type": "answer", "client_id": "...", "status": "created" | "duplicate" | "error",
    #   "id": 17, "error": None | {"code", "message", "details"}}, ...]

Each item is validated and written on its own, in its own transaction (savepoint): a bad
item answers "error" with the envelope's code and leaves nothing behind, and the other items
go on. The batch may come in any order, more than once: an item whose `client_id` the visit
already holds answers "duplicate" with the stored id. Scans go through the scan pipeline
(`scanning`: the codec, the lookup, `scan_inspect`, the scan log), like `POST /api/scan/`.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.encoding import force_str
from django.utils.translation import gettext as _

from audits.sweeps import serializers as s
from audits.sweeps import services
from audits.sweeps.models import Visit
from backend.errors import DomainError, error_body

logger = logging.getLogger(__name__)

CREATED, DUPLICATE, ERROR = "created", "duplicate", "error"


def _error(code: str, message, details=None) -> dict:
    return {"code": code, "message": force_str(message), "details": details}


def _error_of(exc: Exception) -> dict:
    body = error_body(exc)  # what the API would answer, per item
    if body is not None:
        code, message, details, _status = body
        return _error(code, message, details)
    logger.exception("sync item failed")
    return _error("internal_error", _("Internal server error."))


def _scan(*, actor, visit: Visit, data: dict):
    """A queued scan through the scan pipeline; logged like a scan at /api/scan/."""
    from scanning import codec, selectors
    from scanning import services as scanning_services
    from scanning.errors import CodeUnreadable
    from scanning.models import ScanAction

    raw = data["code"]
    payload = codec.parse(raw)
    lookup, result, status_code, error_code = None, None, 200, ""
    try:
        if not payload.ok:
            raise CodeUnreadable(_("The code could not be read: %(reason)s") % {"reason": payload.message},
                                 code=payload.code, details=payload.as_dict())
        lookup = selectors.code_lookup(user=actor, payload=payload, read_run_together=False,  # a tick is a record
                                       site_id=visit.organisation_id)
        with transaction.atomic():
            result = scanning_services.scan_act(
                action=ScanAction.INSPECT, actor=actor, lookup=lookup, idempotency_key=None,
                context={"visit": visit, "client_id": data["client_id"], "scanned_at": data["scanned_at"]})
        return result.document
    except DomainError as exc:
        status_code, error_code = exc.status_code, exc.code
        raise
    except Exception:
        status_code, error_code = 500, "internal_error"
        raise
    finally:
        scanning_services.scan_record(actor=actor, action=ScanAction.INSPECT, status_code=status_code,
                                      error_code=error_code, raw=raw, payload=payload, lookup=lookup,
                                      context={"visit": visit.pk}, result=result)


def _write(kind: str, *, actor, visit: Visit, data: dict):
    if kind == "scan":  # its own transaction, and its log row outside it (scanning.services)
        return _scan(actor=actor, visit=visit, data=data)
    with transaction.atomic():  # this item, all or nothing
        if kind == "answer":
            return services.answer_record(actor=actor, visit=visit, **data)
        if kind == "finding":
            return services.finding_record(actor=actor, visit=visit, **data)
        return services.photo_record(actor=actor, visit=visit, **data)


def visit_sync(*, actor, visit: Visit, items: list) -> list[dict]:
    services.check_may_work(actor, visit)  # who may not work on the visit is refused as a whole
    results = []
    for index, raw in enumerate(items):
        raw = raw if isinstance(raw, dict) else {}
        kind = raw.get("type")
        answer = {"index": index, "type": kind if isinstance(kind, str) else None,
                  "client_id": raw.get("client_id") if isinstance(raw.get("client_id"), str) else None,
                  "status": ERROR, "id": None,
                  "error": None}
        results.append(answer)
        if not isinstance(kind, str) or kind not in s.ITEM_SERIALIZERS:
            answer["error"] = _error("sync_item_type_unknown", _("Each item has a type: answer, scan, finding or "
                                                                "photo."), {"allowed": sorted(s.ITEM_SERIALIZERS)})
            continue
        try:
            shape = s.ITEM_SERIALIZERS[kind](data={k: v for k, v in raw.items() if k != "type"})
            shape.is_valid(raise_exception=True)
            row = _write(kind, actor=actor, visit=visit, data=dict(shape.validated_data))
        except Exception as exc:  # noqa: BLE001 - per-item answer; the others go on
            answer["error"] = _error_of(exc)
            continue
        answer.update(status=CREATED if row.was_created else DUPLICATE, id=row.pk,
                      client_id=str(shape.validated_data["client_id"]))
    return results

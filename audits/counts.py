"""Count sessions (账物相符): the shelf against the books.

    session = count_session_open(actor=pharmacist)                      # own institution
    session = count_session_open(actor=inspector, holder=hospital)      # during a visit
    count_line_set(actor=..., session=session, batch=batch, counted=48)  # entered
    count_line_scan(actor=..., session=session, code="<20-digit code>")  # scanned: + one pack
    count_session_close(actor=..., session=session, reasons={batch.pk: ("breakage", "...")})
    count_session_approve(actor=pharmacist, session=session)             # adjustments posted

Close compares each line with the book balance at that moment (a held batch nobody counted
gets a line with 0 counted: a missed batch is a variance too). Approval is the custodian's:
each variance becomes an adjustment through `inventory.services.stock_count_record`, the
ledger's own service. A suspected loss or theft is flagged on the line for the alerts.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.errors import CountStateError, NotPermitted, VarianceNeedsReason
from audits.models import CountLine, CountSession
from audits.services import audit_record
from backend import visibility
from backend.errors import InvalidInput
from backend.models import Organisation, User
from inventory.models import MAX_QUANTITY

CUSTODIAN_ROLES = {User.Role.PHARMACIST, User.Role.WHOLESALER_CLERK}


def _is_custodian(actor, holder: Organisation) -> bool:
    return visibility.is_member_of(actor, holder) and actor.role in CUSTODIAN_ROLES


def _may_count(actor, holder: Organisation) -> bool:
    """The holder's own pharmacist or clerk, or field work: an inspector of its
    jurisdiction (the admin's superusers too, as for sweeps' visits)."""
    return _is_custodian(actor, holder) or visibility.is_inspector_of(actor, holder.jurisdiction)


def _lock(session: CountSession) -> CountSession:
    return CountSession.objects.select_for_update(of=("self",), no_key=True).select_related("holder__jurisdiction").get(pk=session.pk)


def _check(actor, session: CountSession, *, status: str) -> None:
    if not _may_count(actor, session.holder):
        raise NotPermitted(_("You may not work on this count."))
    if session.status != status:
        raise CountStateError(_("The count is %(status)s.") % {"status": session.get_status_display()},
                              details={"status": session.status})


@transaction.atomic
def count_session_open(*, actor, holder: Organisation | None = None, note: str = "") -> CountSession:
    if holder is None:
        if not getattr(actor, "organisation_id", None):
            raise NotPermitted(_("Name the holder to count."))
        holder = actor.organisation
    holder = Organisation.objects.select_related("jurisdiction").get(pk=holder.pk)
    if not _may_count(actor, holder):
        raise NotPermitted(_("Only the holder's pharmacist or clerk, or an inspector of its jurisdiction, "
                             "may open a count."))
    session = CountSession.objects.create(holder=holder, opened_by=actor, opened_at=timezone.now(),
                                          note=note[:300])
    audit_record(action="create", instance=session, actor=actor, subject_organisation=holder)
    return session


@transaction.atomic
def count_line_set(*, actor, session: CountSession, batch, counted: int) -> CountLine:
    """Enter the counted quantity of a batch (replaces an earlier entry while the count is open)."""
    session = _lock(session)
    _check(actor, session, status=CountSession.Status.OPEN)
    if counted < 0:
        raise InvalidInput(_("The counted quantity must not be negative."), code="quantity_negative")
    if counted > MAX_QUANTITY:
        raise InvalidInput(_("The counted quantity must not exceed %(max)s.") % {"max": f"{MAX_QUANTITY:,}"},
                           code="quantity_too_large")
    # An entered figure replaces the scans too: a recount may scan the same packs again.
    line, _created = CountLine.objects.update_or_create(session=session, batch=batch,
                                                         defaults={"counted": counted, "scanned_codes": []})
    audit_record(action="update", instance=line, actor=actor, subject_organisation=session.holder)
    return line


@transaction.atomic
def count_line_scan(*, actor, session: CountSession, code: str) -> CountLine:
    """A scanned pack code adds one pack (the product's pack size) to its batch's line; the
    same pack scanned twice is refused."""
    from inventory.models import PackCode

    session = _lock(session)
    _check(actor, session, status=CountSession.Status.OPEN)
    code = (code or "").strip()
    pack = PackCode.objects.select_related("batch__product").filter(code=code).first()
    if pack is None:
        raise InvalidInput(_("Unknown pack code %(code)s.") % {"code": code}, code="pack_code_unknown")
    line = CountLine.objects.filter(session=session, batch=pack.batch).first()
    if line is None:
        line = CountLine(session=session, batch=pack.batch, counted=0, scanned_codes=[])
    if code in line.scanned_codes:
        raise CountStateError(_("This pack was already counted."), code="pack_already_counted")
    line.scanned_codes = [*line.scanned_codes, code]
    line.counted += pack.batch.product.pack_size
    line.save()
    audit_record(action="update", instance=line, actor=actor, subject_organisation=session.holder)
    return line


@transaction.atomic
def count_session_close(*, actor, session: CountSession,
                        reasons: dict[int, tuple[str, str]] | None = None) -> CountSession:
    """Compare every line with the books now. `reasons`: batch id -> (reason, note). Refused
    (400 `variance_needs_reason`, every line listed) when a variance has no reason."""
    from inventory.models import StockPosition

    session = _lock(session)
    _check(actor, session, status=CountSession.Status.OPEN)
    reasons = reasons or {}
    books = dict(StockPosition.objects.filter(holder=session.holder, in_transit=False)
                 .values_list("batch_id", "quantity"))
    lines = {line.batch_id: line for line in session.lines.select_for_update(no_key=True)}
    for batch_id, quantity in books.items():  # held but not counted: counted 0
        if batch_id not in lines and quantity:
            lines[batch_id] = CountLine.objects.create(session=session, batch_id=batch_id, counted=0)
    missing = []
    for batch_id, line in sorted(lines.items()):
        line.book_quantity = books.get(batch_id, 0)
        line.variance = line.counted - line.book_quantity
        reason, note = reasons.get(batch_id, reasons.get(str(batch_id), (line.reason, line.reason_note)))
        if reason and reason not in CountLine.Reason.values:
            raise InvalidInput(_("Unknown reason %(reason)s.") % {"reason": reason}, code="invalid_reason",
                               details={"batch": batch_id, "allowed": list(CountLine.Reason.values)})
        if line.variance and not reason:
            missing.append({"line": line.pk, "batch": batch_id, "counted": line.counted,
                            "book_quantity": line.book_quantity, "variance": line.variance})
            continue
        line.reason, line.reason_note = (reason or "", (note or "")[:300]) if line.variance else ("", "")
        line.suspected_loss = line.reason == CountLine.Reason.SUSPECTED_LOSS
        line.save()
    if missing:
        raise VarianceNeedsReason(details={"lines": missing, "reasons": list(CountLine.Reason.values)})
    session.status = CountSession.Status.CLOSED
    session.closed_by, session.closed_at = actor, timezone.now()
    session.save(update_fields=["status", "closed_by", "closed_at"])
    audit_record(action="transition", instance=session, actor=actor, transition="close",
                 subject_organisation=session.holder,
                 after={"lines": [{"batch": b, "counted": ln.counted, "book": ln.book_quantity,
                                   "variance": ln.variance, "reason": ln.reason} for b, ln in sorted(lines.items())]})
    return session


@transaction.atomic
def count_session_approve(*, actor, session: CountSession) -> CountSession:
    """The custodian approves: each variance becomes an adjustment movement (through the
    ledger's service). Refused when the books moved since the close (count again)."""
    from inventory import services as inventory_services
    from inventory.models import StockPosition

    session = _lock(session)
    if not _is_custodian(actor, session.holder):
        raise NotPermitted(_("Only the holder's custodian (pharmacist or clerk) approves a count."))
    if session.status != CountSession.Status.CLOSED:
        raise CountStateError(_("Only a closed count can be approved."), details={"status": session.status})
    lines = list(session.lines.select_related("batch").exclude(variance=0))
    books = dict(StockPosition.objects.filter(holder=session.holder, in_transit=False,
                                              batch_id__in=[ln.batch_id for ln in lines])
                 .values_list("batch_id", "quantity"))
    stale = [ln.batch_id for ln in lines if books.get(ln.batch_id, 0) != ln.book_quantity]
    if stale:
        raise CountStateError(_("The books changed since the count was closed; count again."),
                              code="count_stale", details={"batches": stale})
    for line in lines:
        line.stock_count = inventory_services.stock_count_record(
            actor=actor, batch=line.batch, counted=line.counted, occurred_at=session.closed_at,  # the count's month
            note=f"count #{session.pk}: {line.get_reason_display()} {line.reason_note}".strip()[:300])
        line.save(update_fields=["stock_count"])
    session.status = CountSession.Status.APPROVED
    session.approved_by, session.approved_at = actor, timezone.now()
    session.save(update_fields=["status", "approved_by", "approved_at"])
    audit_record(action="transition", instance=session, actor=actor, transition="approve",
                 subject_organisation=session.holder)
    return session


def suspected_losses(user=None):
    """Count lines flagged as suspected loss or theft (for the alerts), newest first."""
    qs = CountLine.objects.filter(suspected_loss=True).select_related("session__holder", "batch__product")
    if user is not None:
        qs = visibility.scope(qs, user, "session__holder")
    return qs.order_by("-session__closed_at", "-id")

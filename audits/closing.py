"""Monthly closing per holder (institution or wholesaler) and batch.

For month M and each batch the holder touched or holds: opening, received, returned
(rejected shipments back in stock), dispatched, dispensed, disposed, seized, adjusted
(counts), corrected, prior-period entries, closing book balance, in transit, and the last
count of the month with its variance.

Cost: the opening is read from the stored closing of M-1 when that month is signed, so the
work grows with M's movements, not with history; only a holder whose previous month is
unsigned has its opening summed from the ledger. Every figure comes from a handful of
GROUP BY queries over the whole set of holders at once (never one query per holder).

A signed period never changes (append-only tables; `closing_sign` refuses a second
signature with `period_signed`). An entry dated in a signed month but recorded after the
signature lands in the next month's `prior_period` column, and the line's `references`
name the movements: the correction is visible, the signed figures stay as signed.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audits import periods
from audits.errors import NotPermitted, PeriodNotOver, PeriodSigned
from audits.models import SignedClosing, SignedClosingLine
from audits.services import audit_record
from backend import visibility
from backend.errors import InvalidInput
from backend.models import Organisation, User

COLUMNS = ("received", "returned", "dispatched", "dispensed", "disposed", "seized", "adjusted", "corrected",
           "prior_period")
PIVOT_ABOVE = 5  # holders: above this, the month's movements are pivoted by the database
COLUMN_KINDS = {
    "received": ["intake", "receipt"],
    "returned": ["rejection"],
    "dispatched": ["dispatch"],
    "dispensed": ["dispense"],
    "disposed": ["disposal"],
    "seized": ["seizure"],
    "adjusted": ["adjustment"],
    "corrected": ["correction"],
}
KIND_COLUMN = {
    "intake": "received",
    "receipt": "received",
    "rejection": "returned",
    "dispatch": "dispatched",
    "dispense": "dispensed",
    "disposal": "disposed",
    "seizure": "seized",
    "adjustment": "adjusted",
    "correction": "corrected",
}


BLANK = {"opening": 0, "in_transit_opening": 0, "in_transit": 0, "last_count_at": None, "last_counted": None,
         "last_count_variance": None, **{column: 0 for column in COLUMNS}}


def _blank(opening=0, in_transit_opening=0) -> dict:
    row = BLANK.copy()
    row["opening"], row["in_transit_opening"], row["references"] = opening, in_transit_opening, {}
    return row


def holders_in_scope(*, holder_ids=None, jurisdiction_prefix: str | None = None) -> list[int]:
    if holder_ids is not None:
        return sorted(holder_ids)
    return sorted(Organisation.objects.filter(jurisdiction__code__startswith=jurisdiction_prefix)
                  .values_list("pk", flat=True))


def closing_rows(month: dt.date, *, holder_ids=None, jurisdiction_prefix: str | None = None) -> dict:
    """{(holder_id, batch_id): row} for the month, computed from the stored closings of the
    previous month and the month's movements (see the module docstring)."""
    from inventory.models import StockCount, StockMovement

    start, end = periods.month_bounds(month)
    prev = periods.previous_month(month)
    ids = holders_in_scope(holder_ids=holder_ids, jurisdiction_prefix=jurisdiction_prefix)
    rows: dict = {}

    # 1. openings from the previous month's signed closings
    for holder_id, batch_id, closing, in_transit, lc_at, lc, lcv in SignedClosingLine.objects.filter(
            holder_id__in=ids, month=prev).values_list(
            "holder_id", "batch_id", "closing_balance", "in_transit", "last_count_at", "last_counted",
            "last_count_variance"):
        row = rows[(holder_id, batch_id)] = _blank(closing, in_transit)
        row["last_count_at"], row["last_counted"], row["last_count_variance"] = lc_at, lc, lcv
    signed = dict(SignedClosing.objects.filter(holder_id__in=ids, month=prev).annotate(
        figures_at=SignedClosing.figures_at()).values_list("holder_id", "figures_at"))

    # 2. openings summed from the ledger for holders whose previous month is not signed
    #    (only those: once every holder signs, no query reads history)
    unsigned = [holder_id for holder_id in ids if holder_id not in signed]
    if unsigned:
        for holder_id, batch_id, in_transit, q in (
                StockMovement.objects.filter(occurred_at__lt=start, holder_id__in=unsigned)
                .values("holder_id", "batch_id", "in_transit").annotate(q=Sum("quantity")).order_by()
                .values_list("holder_id", "batch_id", "in_transit", "q")):
            if q:
                row = rows.get((holder_id, batch_id)) or rows.setdefault((holder_id, batch_id), _blank())
                row["in_transit_opening" if in_transit else "opening"] += q

    # 3. the month's movements. Many holders: one row per holder and batch with a column per
    #    kind (the pivot is done by the database); a few holders: rows per kind (cheaper to
    #    build than the pivot's filtered aggregates, and only a few hundred rows).
    corrections_seen = False
    in_month = StockMovement.objects.filter(holder_id__in=ids, occurred_at__gte=start, occurred_at__lt=end)
    if len(ids) > PIVOT_ABOVE:
        on_hand = Q(in_transit=False)
        pivot = {column: Sum("quantity", filter=on_hand & Q(kind__in=kinds), default=0)
                 for column, kinds in COLUMN_KINDS.items()}
        pivot["transit"] = Sum("quantity", filter=Q(in_transit=True), default=0)
        pivot["corrections"] = Count("id", filter=Q(kind="correction"))
        names = [*COLUMN_KINDS, "transit", "corrections"]
        for holder_id, batch_id, *values in (in_month.values("holder_id", "batch_id").annotate(**pivot).order_by()
                                             .values_list("holder_id", "batch_id", *names)):
            row = rows.get((holder_id, batch_id)) or rows.setdefault((holder_id, batch_id), _blank())
            for column, value in zip(COLUMN_KINDS, values, strict=False):
                if value:
                    row[column] += value
            row["in_transit"] += values[-2]
            corrections_seen = corrections_seen or bool(values[-1])
    else:
        for holder_id, batch_id, in_transit, kind, q in (
                in_month.values("holder_id", "batch_id", "in_transit", "kind").annotate(q=Sum("quantity")).order_by()
                .values_list("holder_id", "batch_id", "in_transit", "kind", "q")):
            row = rows.get((holder_id, batch_id)) or rows.setdefault((holder_id, batch_id), _blank())
            row["in_transit" if in_transit else KIND_COLUMN[kind]] += q
            corrections_seen = corrections_seen or kind == "correction"

    # 4. entries dated before the month but recorded after the previous month was signed
    if signed:
        late = StockMovement.objects.filter(occurred_at__lt=start, holder_id__in=list(signed),
                                            recorded_at__gt=min(signed.values()))
        if len(signed) > 1:  # each holder against its own signature
            figures_at = SignedClosing.objects.filter(holder_id=OuterRef("holder_id"), month=prev).annotate(
                figures_at=SignedClosing.figures_at()).values("figures_at")[:1]
            late = late.annotate(figures_at=Subquery(figures_at)).filter(recorded_at__gt=F("figures_at"))
        late = late.values_list("id", "holder_id", "batch_id", "in_transit", "quantity")
        for movement_id, holder_id, batch_id, in_transit, quantity in late:
            row = rows.setdefault((holder_id, batch_id), _blank())
            if in_transit:
                row["in_transit"] += quantity
            else:
                row["prior_period"] += quantity
            row["references"].setdefault("prior_period_movements", []).append(movement_id)

    # 5. corrections name what they correct
    if corrections_seen:
        for movement_id, holder_id, batch_id, corrects_id in StockMovement.objects.filter(
                holder_id__in=ids, occurred_at__gte=start, occurred_at__lt=end, kind="correction").values_list(
                "id", "holder_id", "batch_id", "corrects_id"):
            rows[(holder_id, batch_id)]["references"].setdefault("corrections", []).append(
                {"movement": movement_id, "corrects": corrects_id})

    # 6. the month's last count per holder and batch
    counts = (StockCount.objects.filter(holder_id__in=ids, occurred_at__gte=start, occurred_at__lt=end)
              .order_by("holder_id", "batch_id", "occurred_at", "id")
              .values_list("holder_id", "batch_id", "occurred_at", "counted", "book_quantity"))
    for holder_id, batch_id, at, counted, book in counts:  # ascending: the last one wins
        row = rows.setdefault((holder_id, batch_id), _blank())
        row["last_count_at"], row["last_counted"], row["last_count_variance"] = at, counted, counted - book

    out = {}
    for key, row in rows.items():
        flows = (row["received"] + row["returned"] + row["dispatched"] + row["dispensed"] + row["disposed"]
                 + row["seized"] + row["adjusted"] + row["corrected"] + row["prior_period"])
        row["closing_balance"] = row["opening"] + flows
        row["in_transit"] += row.pop("in_transit_opening")
        if row["opening"] or row["closing_balance"] or row["in_transit"] or flows or any(row[c] for c in COLUMNS):
            out[key] = row
    return out


def closing_preview(*, user, holder: Organisation, month: dt.date) -> list[dict]:
    """The month's closing of one holder as it stands (stored lines when signed)."""
    if not visibility.scope(Organisation.objects.filter(pk=holder.pk), user, "").exists():
        raise NotPermitted(_("You may not see this holder's books."))
    signed = SignedClosing.objects.filter(holder=holder, month=month).first()
    if signed is not None:
        return [dict(line_dict(line), batch_id=line.batch_id) for line in signed.lines.all()]
    rows = closing_rows(month, holder_ids=[holder.pk])
    return [dict(row, batch_id=batch_id) for (_h, batch_id), row in sorted(rows.items())]


def line_dict(line: SignedClosingLine) -> dict:
    """A signed line as `closing_rows` gives a row."""
    data = {name: getattr(line, name) for name in ("opening", *COLUMNS, "closing_balance", "in_transit",
                                                    "last_count_at", "last_counted", "last_count_variance",
                                                    "references")}
    return data


def lock_holder(holder: Organisation) -> Organisation:
    """Lock the holder's row for the signature: two signatures of one holder's month wait
    for each other."""
    return Organisation.objects.select_related("jurisdiction").select_for_update(of=("self",), no_key=True).get(pk=holder.pk)


@transaction.atomic
def closing_sign(*, actor, month: dt.date, holder: Organisation | None = None, statement: str = "",
                 today: dt.date | None = None, signed_at: dt.datetime | None = None) -> SignedClosing:
    """The custodian signs the month off: the figures are computed and stored, never to
    change. Refused for a month not yet over (`period_not_over`) or already signed
    (`period_signed`). `signed_at` (default now) records when it was signed, e.g. by the
    demo seeder back-dating the signatures of past months; it may be neither in the future
    (`signed_at_in_future`) nor before the month is over (`period_not_over`)."""
    holder = holder or getattr(actor, "organisation", None)
    if holder is None or not (visibility.is_member_of(actor, holder)
                              and actor.role in {User.Role.PHARMACIST, User.Role.WHOLESALER_CLERK}):
        raise NotPermitted(_("Only the holder's custodian (pharmacist or clerk) signs its monthly closing."))
    now = timezone.now()
    if signed_at is None:
        signed_at = now
    elif timezone.is_naive(signed_at):
        signed_at = timezone.make_aware(signed_at)
    if signed_at > now:
        raise InvalidInput(_("A closing cannot be signed in the future."), code="signed_at_in_future",
                           details={"signed_at": signed_at.isoformat()})
    if not periods.is_over(month, today=timezone.localdate(signed_at)):
        raise PeriodNotOver(_("A month can be signed only after it is over."),
                            details={"month": month.strftime("%Y-%m"), "signed_at": signed_at.isoformat()})
    holder = lock_holder(holder)
    if today is not None and not periods.is_over(month, today=today):  # the demo's day, when it passes one
        raise PeriodNotOver()
    if SignedClosing.objects.filter(holder=holder, month=month).exists():
        raise PeriodSigned(details={"holder": holder.pk, "month": month.strftime("%Y-%m")})
    recorded_at = timezone.now()  # the figures are as of now, whatever `signed_at` says
    rows = closing_rows(month, holder_ids=[holder.pk])
    previous = SignedClosing.objects.filter(holder=holder, month=periods.previous_month(month)).first()
    closing = SignedClosing.objects.create(holder=holder, month=month, signed_by=actor, signed_at=signed_at,
                                           recorded_at=recorded_at, statement=statement[:300], previous=previous)
    SignedClosingLine.objects.bulk_create([
        SignedClosingLine(closing=closing, holder=holder, month=month, batch_id=batch_id,
                          **{k: v for k, v in row.items()})
        for (_h, batch_id), row in sorted(rows.items())
    ])
    audit_record(action="create", instance=closing, actor=actor, subject_organisation=holder,
                 after={"month": month.isoformat(), "lines": [
                     {"batch": batch_id, "opening": row["opening"], "closing": row["closing_balance"]}
                     for (_h, batch_id), row in sorted(rows.items())]})
    return closing


def closing_change(*, actor, closing: SignedClosing, **changes) -> None:
    """There is no way to change a signed period: this refusal is the API's answer to any
    attempt (corrections are new movements, which land in the next period)."""
    raise PeriodSigned(details={"holder": closing.holder_id, "month": closing.month.strftime("%Y-%m")})

"""Time-based alert rules, run by `manage.py run_alert_rules [--today YYYY-MM-DD]`.

Each rule is a function `rule(ctx) -> list[Alert]` returning the alerts for what it found
(`alert.was_created` tells the new ones from those already open). Each finds its cases with
a few aggregate queries over the county (GROUP BY in SQL, NOT EXISTS against the alerts
already raised), never a Python loop over history.

| rule | type | severity | finding |
| --- | --- | --- | --- |
| `dispensing_spike` | dispensing_spike | medium | an institution's month of uses (use-register entries) above mean + 3σ *and* above 2 × median of its own previous 6 months (at least 3 of them with history) |
| `dispensed_without_receipt` | dispensed_without_receipt | high | a holder dispensed more of a batch than it ever received |
| `expired_stock` | expired_stock | medium | a holder has expired stock on hand |
| `device_filed_late` | device_filed_late | medium | a device filing (or a transfer's) more than 7 days late |
| `licences` | licence_expired / licence_expiring | high / low | an institution's, or a device operator's or custodian's, licence lapsed (in the last year) or lapses within 30 days, with no renewal |
| `filings_late` | filing_late / closing_late | medium (missing) / low (filed late) | a wholesaler's sales summary, an institution's signed closing, late or missing (`audits.filings.filing_status`) |
| `reconciliation` | cross_party_mismatch | medium (low: shipped, not yet received) | each county's (and each city's or province's with organisations of its own) last months whose sales filings are due, reconciled (账账相符) and recorded, so a mismatch reaches the office without anyone opening the reconciliation |
| `sweep_*` | the event-driven types | | source rows of the last year whose after-commit alert is missing |

Raised once: a rule skips what it already raised for the same subject (and occurrence),
whatever that alert's status, so that an alert the office resolved stays resolved; the same
subject found open again returns the open alert. Running twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, DateField, Exists, F, Min, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from audits import periods
from audits.alerts import events
from audits.alerts.events import raise_from
from audits.alerts.models import Alert
from backend.models import Jurisdiction, Licence, Organisation
from inventory.selectors import end_of_day

SWEEP_DAYS = 366  # how far back the sweeps of event sources and lapsed licences look
SPIKE_BASELINE_MONTHS = 6
SPIKE_MIN_BASELINE_MONTHS = 3
SPIKE_SIGMAS = 3
SPIKE_MEDIAN_FACTOR = 2
SPIKE_MONTHS_CHECKED = 6  # the current month and the five before it
LICENCE_WARNING_DAYS = 30
FILING_MONTHS_CHECKED = 3
LICENCE_KINDS = [k for k in Licence.Kind.values if k != Licence.Kind.OTHER]


@dataclass(frozen=True)
class Context:
    today: dt.date

    @property
    def end(self) -> dt.datetime:
        """The end of `today` (rules look at nothing after it)."""
        return end_of_day(self.today)

    @property
    def since(self) -> dt.datetime:
        return self.end - dt.timedelta(days=SWEEP_DAYS + 1)


def _raised(type: str, subject_type: str) -> Exists:
    """An alert of `type` was ever raised about the row (the subject is the row itself)."""
    return Exists(Alert.objects.filter(type=type, subject_type=subject_type, subject_id=OuterRef("pk")))


def _any_raised(subject_type: str) -> Exists:
    return Exists(Alert.objects.filter(subject_type=subject_type, subject_id=OuterRef("pk")))


def _raised_occurrences(type: str, subject_type: str, subject_ids) -> set[tuple[int, str]]:
    return set(Alert.objects.filter(type=type, subject_type=subject_type, subject_id__in=list(subject_ids))
               .values_list("subject_id", "occurrence"))


def _month_label(month: dt.date) -> str:
    return month.strftime("%Y-%m")


# --- dispensing spike ------------------------------------------------------------------------


def spike_figures(baseline: list[int], current: int) -> dict | None:
    """The thresholds for `current` against `baseline` (None when it is no spike)."""
    if len(baseline) < SPIKE_MIN_BASELINE_MONTHS:
        return None
    mean = statistics.fmean(baseline)
    sigma = statistics.stdev(baseline) if len(baseline) > 1 else 0.0
    median = statistics.median(baseline)
    above_sigma, above_median = mean + SPIKE_SIGMAS * sigma, SPIKE_MEDIAN_FACTOR * median
    if current <= above_sigma or current <= above_median:
        return None
    return {"current": current, "baseline": baseline, "mean": round(mean, 2), "sigma": round(sigma, 2),
            "median": median, "mean_plus_3_sigma": round(above_sigma, 2), "twice_median": above_median}


def dispensing_spike(ctx: Context) -> list[Alert]:
    """Per institution and month (the current month to date and the five before): the uses
    registered (use-register entries) against the institution's own previous six months,
    counting only the months since its first dispense. Uses, not quantities: tablets and
    ampoules do not add up, and a dose changes the quantity, not the number of patients.
    An entry whose ledger movement was corrected away (a mistaken entry) does not count."""
    from inventory.models import Dispense, StockMovement

    current = ctx.today.replace(day=1)
    checked = [current]
    for _i in range(SPIKE_MONTHS_CHECKED - 1):
        checked.insert(0, periods.previous_month(checked[0]))
    earliest = checked[0]
    for _i in range(SPIKE_BASELINE_MONTHS):
        earliest = periods.previous_month(earliest)
    start, _end = periods.month_bounds(earliest)
    monthly: dict[int, dict[dt.date, int]] = defaultdict(dict)
    corrected = Exists(StockMovement.objects.filter(corrects__dispense_id=OuterRef("pk")))
    for inst, month, quantity in (Dispense.objects.filter(occurred_at__gte=start, occurred_at__lt=ctx.end)
                                  .exclude(corrected)
                                  .annotate(month=TruncMonth("occurred_at", output_field=DateField()))
                                  .values("institution_id", "month").annotate(q=Count("id")).order_by()
                                  .values_list("institution_id", "month", "q")):
        monthly[inst][month] = quantity
    if not monthly:
        return []
    first = {inst: timezone.localdate(at).replace(day=1) for inst, at in Dispense.objects.filter(
        institution_id__in=list(monthly)).values("institution_id").annotate(first=Min("occurred_at")).order_by()
        .values_list("institution_id", "first")}
    found = []
    for inst, months in monthly.items():
        for month in checked:
            baseline_months, m = [], month
            for _i in range(SPIKE_BASELINE_MONTHS):
                m = periods.previous_month(m)
                if m >= first[inst]:
                    baseline_months.insert(0, m)
            figures = spike_figures([months.get(b, 0) for b in baseline_months], months.get(month, 0))
            if figures is not None:
                figures["months"] = [_month_label(b) for b in baseline_months]
                found.append((inst, month, figures))
    done = _raised_occurrences("dispensing_spike", "backend.organisation", {inst for inst, _m, _f in found})
    found = [f for f in found if (f[0], _month_label(f[1])) not in done]
    orgs = Organisation.objects.select_related("jurisdiction").in_bulk({inst for inst, _m, _f in found})

    def build(item):
        inst, month, figures = item
        org = orgs[inst]
        return {"type": "dispensing_spike", "severity": "medium", "subject": org, "occurrence": _month_label(month),
                "summary": _("%(org)s registered %(q)d uses in %(month)s against a mean of %(mean)s over its "
                             "previous months") % {"org": org, "q": figures["current"], "month": _month_label(month),
                                          "mean": figures["mean"]},
                "evidence": [{"type": "backend.organisation", "id": inst}], "figures": figures}

    return raise_from(build, found)


# --- dispensed more than received --------------------------------------------------------------


def dispensed_without_receipt(ctx: Context) -> list[Alert]:
    """Per holder and batch, over the whole ledger: dispensed (net of corrections) against
    received (receipts into stock, intakes). The ledger never goes negative, so more out
    than in means stock that came from a count adjustment or a correction: drugs with no
    supplier behind them."""
    from inventory.models import StockMovement, StockPosition

    K = StockMovement.Kind
    rows = (StockMovement.objects.filter(in_transit=False, occurred_at__lt=ctx.end)
            .filter(Q(kind=K.DISPENSE) | Q(kind=K.RECEIPT, quantity__gt=0) | Q(kind=K.INTAKE)
                    | Q(kind=K.CORRECTION, corrects__kind=K.DISPENSE))
            .values("holder_id", "batch_id")
            .annotate(received=Coalesce(Sum("quantity", filter=Q(kind__in=[K.RECEIPT, K.INTAKE])), 0),
                      out=Coalesce(Sum("quantity", filter=Q(kind=K.DISPENSE)), 0),
                      back=Coalesce(Sum("quantity", filter=Q(kind=K.CORRECTION)), 0))
            .annotate(dispensed=-F("out") - F("back"))
            .filter(dispensed__gt=F("received")).order_by()
            .values_list("holder_id", "batch_id", "received", "dispensed"))
    figures = {(h, b): (r, d) for h, b, r, d in rows}
    if not figures:
        return []
    q = Q()
    for holder_id, batch_id in figures:
        q |= Q(holder_id=holder_id, batch_id=batch_id)
    positions = (StockPosition.objects.filter(q, in_transit=False)
                 .exclude(_raised("dispensed_without_receipt", "inventory.stockposition"))
                 .select_related("holder__jurisdiction", "batch"))

    def build(position):
        received, dispensed = figures[(position.holder_id, position.batch_id)]
        return {"type": "dispensed_without_receipt", "severity": "high", "subject": position,
                "organisation": position.holder,
                "summary": _("%(holder)s dispensed %(d)d of batch %(lot)s but received only %(r)d")
                % {"holder": position.holder, "d": dispensed, "lot": position.batch.lot_number, "r": received},
                "evidence": [{"type": "inventory.batch", "id": position.batch_id},
                             {"type": "inventory.stockposition", "id": position.pk}],
                "figures": {"received": received, "dispensed": dispensed, "excess": dispensed - received}}

    return raise_from(build, positions.order_by("pk"))


# --- expired stock on hand -------------------------------------------------------------------


def expired_stock(ctx: Context) -> list[Alert]:
    """On-hand stock of a batch past its expiry date (not the authorities' seized stock)."""
    from inventory.models import StockPosition

    positions = (StockPosition.objects.filter(in_transit=False, quantity__gt=0, batch__expiry_date__lt=ctx.today)
                 .exclude(holder__kind=Organisation.Kind.AUTHORITY)
                 .exclude(_raised("expired_stock", "inventory.stockposition"))
                 .select_related("holder__jurisdiction", "batch__product").order_by("pk"))

    def build(position):
        batch = position.batch
        return {"type": "expired_stock", "severity": "medium", "subject": position, "organisation": position.holder,
                "summary": _("%(holder)s holds %(q)d of %(product)s batch %(lot)s, expired on %(date)s")
                % {"holder": position.holder, "q": position.quantity, "product": batch.product,
                   "lot": batch.lot_number, "date": batch.expiry_date.isoformat()},
                "evidence": [{"type": "inventory.batch", "id": batch.pk},
                             {"type": "inventory.stockposition", "id": position.pk}],
                "figures": {"quantity": position.quantity, "expiry_date": batch.expiry_date.isoformat()}}

    return raise_from(build, positions)


# --- devices filed late ---------------------------------------------------------------------------


def device_filed_late(ctx: Context) -> list[Alert]:
    """Each filing (or a transfer's new filing) made more than 7 days after the purchase or
    transfer, in the last year, of a device not scrapped."""
    from inventory.devices.models import DeviceEvent, DeviceStatus

    rows = (DeviceEvent.objects.filter(kind__in=[DeviceEvent.Kind.FILED, DeviceEvent.Kind.TRANSFERRED],
                                       days_late__gt=0, occurred_at__gte=ctx.since, occurred_at__lt=ctx.end)
            .exclude(device__status=DeviceStatus.SCRAPPED)
            .exclude(_raised("device_filed_late", "devices.deviceevent"))
            .select_related("device", "holder__jurisdiction").order_by("pk"))

    def build(event):
        device = event.device
        return {"type": "device_filed_late", "severity": "medium", "subject": event, "organisation": event.holder,
                "summary": _("%(holder)s filed %(device)s %(days)d days late (due within 7 days of %(date)s)")
                % {"holder": event.holder, "device": device, "days": event.days_late,
                   "date": event.duty_started_on.isoformat()},
                "evidence": [{"type": "devices.device", "id": device.pk}, {"type": "devices.deviceevent", "id": event.pk}],
                "figures": {"days_late": event.days_late, "duty_started_on": event.duty_started_on.isoformat(),
                            "filed_at": event.occurred_at.isoformat()}}

    return raise_from(build, rows)


# --- licences ---------------------------------------------------------------------------------


def _licence_holder_key(lic) -> tuple[str, int]:
    return ("o", lic.holder_organisation_id) if lic.holder_organisation_id else ("p", lic.holder_person_id)


def licences(ctx: Context) -> list[Alert]:
    """Institutions' licences (every organisation but the authorities) and the licences of
    the operators and custodians of devices not scrapped: lapsed in the last year with none
    of the same kind valid today (licence_expired), or lapsing within 30 days with none of
    the same kind taking over the next day (licence_expiring). The latest licence of each
    holder and kind speaks for it."""
    from inventory.devices.models import Device, DeviceStatus

    devices = Device.objects.exclude(status=DeviceStatus.SCRAPPED)
    operators = devices.values("operators")
    custodians = devices.values("custodian_id")
    holders = (Q(holder_organisation__isnull=False) & ~Q(holder_organisation__kind=Organisation.Kind.AUTHORITY)) | Q(
        holder_person__in=operators) | Q(holder_person__in=custodians)
    window = Q(valid_until__gte=ctx.today - dt.timedelta(days=SWEEP_DAYS),
               valid_until__lte=ctx.today + dt.timedelta(days=LICENCE_WARNING_DAYS))
    candidates = list(Licence.objects.filter(window, holders, kind__in=LICENCE_KINDS, revoked_at__isnull=True)
                      .select_related("holder_organisation__jurisdiction", "holder_person__organisation__jurisdiction"))
    if not candidates:
        return []
    # Every licence of the same holders and kinds that could take over (one query).
    org_ids = {lic.holder_organisation_id for lic in candidates if lic.holder_organisation_id}
    person_ids = {lic.holder_person_id for lic in candidates if lic.holder_person_id}
    others = defaultdict(list)
    for lic in Licence.objects.filter(Q(holder_organisation_id__in=org_ids) | Q(holder_person_id__in=person_ids),
                                      kind__in={c.kind for c in candidates}).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=ctx.today - dt.timedelta(days=SWEEP_DAYS))):
        others[(_licence_holder_key(lic), lic.kind)].append(lic)
    latest = {}
    for lic in candidates:
        key = (_licence_holder_key(lic), lic.kind)
        if key not in latest or (lic.valid_until, lic.pk) > (latest[key].valid_until, latest[key].pk):
            latest[key] = lic
    found = []
    for key, lic in latest.items():
        if lic.valid_until < ctx.today:
            if not any(o.is_valid_on(ctx.today) for o in others[key]):
                found.append(("licence_expired", lic))
        else:
            day_after = lic.valid_until + dt.timedelta(days=1)
            if not any(o.pk != lic.pk and o.is_valid_on(day_after) for o in others[key]):
                found.append(("licence_expiring", lic))
    done = {(t, pk) for t, pk in Alert.objects.filter(
        type__in=["licence_expired", "licence_expiring"], subject_type="backend.licence",
        subject_id__in=[lic.pk for _t, lic in found]).values_list("type", "subject_id")}
    found = [(t, lic) for t, lic in found if (t, lic.pk) not in done]

    def build(item):
        type_, lic = item
        organisation = lic.holder_organisation or lic.holder_person.organisation
        if organisation is None:
            return None
        holder = lic.holder
        expired = type_ == "licence_expired"
        summary = (_("%(holder)s: %(licence)s expired on %(date)s and has not been renewed") if expired
                   else _("%(holder)s: %(licence)s expires on %(date)s and no renewal is on record"))
        return {"type": type_, "severity": "high" if expired else "low", "subject": lic,
                "organisation": organisation,
                "summary": summary % {"holder": holder, "licence": lic.get_kind_display(),
                                      "date": lic.valid_until.isoformat()},
                "evidence": [{"type": "backend.licence", "id": lic.pk},
                             ({"type": "backend.person", "id": lic.holder_person_id} if lic.holder_person_id
                              else {"type": "backend.organisation", "id": lic.holder_organisation_id})],
                "figures": {"kind": lic.kind, "number": lic.number, "valid_until": lic.valid_until.isoformat(),
                            "days": (lic.valid_until - ctx.today).days}}

    return raise_from(build, sorted(found, key=lambda item: item[1].pk))


# --- monthly filings and closings ----------------------------------------------------------------


class _System:
    """The rules read as the system: every jurisdiction (visibility.sees_everything)."""

    is_authenticated = True
    is_superuser = True


def filings_late(ctx: Context) -> list[Alert]:
    """The last three months whose filings are due (four months are read: the latest may
    not be due yet, and then says so): a wholesaler's sales summary
    (filing_late) and an institution's signed closing, which files its use register and drug
    summary (closing_late), late or still missing, as `audits.filings.filing_status` says."""
    from audits.filings import filing_status

    roots = list(Jurisdiction.objects.filter(parent__isnull=True))
    months, month = [], ctx.today.replace(day=1)
    for _i in range(FILING_MONTHS_CHECKED + 1):  # + 1: the latest month may not be due yet
        month = periods.previous_month(month)
        months.append(month)
    due: dict[tuple[str, int], list[tuple[dt.date, dict]]] = defaultdict(list)
    for root in roots:
        for month in months:
            for row in filing_status(user=_System(), jurisdiction=root, month=month, today=ctx.today):
                if row["status"] == "not_yet_due" or row["form"] == "drug_summary":
                    continue
                type_ = "filing_late" if row["form"] == "sales_summary" else "closing_late"
                due[(type_, row["organisation"])].append((month, row))
    found = {}
    for (type_, org_id), rows in due.items():
        # Each organisation's own last three due months (its due day is its jurisdiction's).
        for month, row in sorted(rows, key=lambda item: item[0], reverse=True)[:FILING_MONTHS_CHECKED]:
            if row["status"] in ("late", "missing"):
                found.setdefault((type_, org_id, _month_label(month)), row)
    if not found:
        return []
    done = set()
    for type_ in ("filing_late", "closing_late"):
        done |= {(type_, pk, occ) for pk, occ in _raised_occurrences(
            type_, "backend.organisation", {org for t, org, _m in found if t == type_})}
    items = sorted((key, row) for key, row in found.items() if key not in done)
    orgs = Organisation.objects.select_related("jurisdiction").in_bulk({org for (_t, org, _m), _r in items})

    def build(item):
        (type_, org_id, month), row = item
        org, missing = orgs[org_id], row["status"] == "missing"
        form = _("sales summary") if type_ == "filing_late" else _("signed monthly closing")
        summary = (_("%(org)s has not filed its %(form)s for %(month)s (due %(due)s)") if missing
                   else _("%(org)s filed its %(form)s for %(month)s late (due %(due)s)"))
        evidence = [{"type": "backend.organisation", "id": org_id}]
        if row["reference"]:
            evidence.append({"type": "audits.salesfiling" if type_ == "filing_late" else "audits.signedclosing",
                             "id": row["reference"]})
        return {"type": type_, "severity": "medium" if missing else "low", "subject": org, "occurrence": month,
                "summary": summary % {"org": org, "form": form, "month": month, "due": row["due_on"].isoformat()},
                "evidence": evidence,
                "figures": {"status": row["status"], "due_on": row["due_on"].isoformat(),
                            "filed_at": row["filed_at"].isoformat() if row["filed_at"] else None,
                            "forms": [row["form"]] if type_ == "filing_late" else ["usage_register", "drug_summary"]}}

    return raise_from(build, items)


# --- sweeps of the event sources ---------------------------------------------------------------


def _unalerted(label: str, *conditions: Q, **filters):
    """The source rows `label` (audits.alerts.events.SOURCES) matching the filters that no
    alert was ever raised about, with what their alert builder reads, in pk order."""
    from django.apps import apps

    model = apps.get_model(label)
    return (model.objects.filter(*conditions, **filters).exclude(_any_raised(label))
            .select_related(*events.SOURCES[label][1]).order_by("pk"))


def _sweep(ctx: Context, label: str, at: str, *conditions: Q, **filters) -> list[Alert]:
    """Raise the missed alerts of source `label` for rows whose `at` falls in the sweep window."""
    rows = _unalerted(label, *conditions, **{f"{at}__gte": ctx.since, f"{at}__lt": ctx.end}, **filters)
    return raise_from(events.SOURCES[label][0], rows)


def sweep_shipment_refusals(ctx: Context) -> list[Alert]:
    return _sweep(ctx, "inventory.shipmentrefusal", "attempted_at")


def sweep_shipment_discrepancies(ctx: Context) -> list[Alert]:
    return _sweep(ctx, "inventory.shipmentdiscrepancy", "recorded_at")


def sweep_count_lines(ctx: Context) -> list[Alert]:
    return _sweep(ctx, "audits.countline", "session__closed_at", ~Q(variance=0), suspected_loss=True)


def sweep_scan_anomalies(ctx: Context) -> list[Alert]:
    """A pack anomaly is covered by an alert about its pack (seen at a second holder: about
    its pack at that holder) that was open when it was seen or raised since."""
    from scanning.models import ScanAnomaly

    # An alert raised before alerts were per holder has no occurrence: it covers them all.
    covered = Exists(Alert.objects.filter(type=OuterRef("kind"), subject_type="inventory.packcode",
                                          subject_id=OuterRef("pack_code_id"))
                     .filter(Q(occurrence=OuterRef("alert_occurrence")) | Q(occurrence=""))
                     .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=OuterRef("detected_at"))))
    rows = (ScanAnomaly.objects.filter(kind__in=events.PACK_ANOMALY_KINDS, pack_code__isnull=False,
                                       holder__isnull=False, detected_at__gte=ctx.since, detected_at__lt=ctx.end)
            .annotate(alert_occurrence=events.pack_occurrence_sql()).exclude(covered)
            .select_related(*events.SOURCES["scanning.scananomaly"][1]).order_by("pk"))
    return raise_from(events.scan_anomaly_alert, rows)


def sweep_dispensed_packs(ctx: Context) -> list[Alert]:
    """A use-register entry of a pack already dispensed, however it was entered, is covered
    by an alert about its pack that was open when it was registered or raised since."""
    from inventory.models import Dispense
    from scanning.models import ScanAnomaly

    earlier = Dispense.objects.filter(pack_code_id=OuterRef("pack_code_id"), pk__lt=OuterRef("pk"))
    covered = Exists(Alert.objects.filter(type=ScanAnomaly.Kind.PACK_DISPENSED_TWICE,
                                          subject_type="inventory.packcode", subject_id=OuterRef("pack_code_id"))
                     .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=OuterRef("recorded_at"))))
    rows = (Dispense.objects.filter(pack_code__isnull=False, recorded_at__gte=ctx.since, recorded_at__lt=ctx.end)
            .filter(Exists(earlier)).exclude(covered)
            .select_related(*events.SOURCES["inventory.dispense"][1]).order_by("pk"))
    return raise_from(events.dispense_alert, rows)


def _unalerted_discrepancies(**filters):
    """Open cross-party discrepancies whose current occurrence no alert was raised about (one
    found again after it was resolved is a new occurrence)."""
    from audits.models import Discrepancy

    raised = Exists(Alert.objects.filter(subject_type="audits.discrepancy", subject_id=OuterRef("pk"),
                                         occurrence=OuterRef("alert_occurrence")))
    return (Discrepancy.objects.filter(kind__in=events.CROSS_PARTY_KINDS, resolved_at__isnull=True, **filters)
            .annotate(alert_occurrence=events.discrepancy_occurrence_sql()).exclude(raised)
            .select_related(*events.SOURCES["audits.discrepancy"][1]).order_by("pk"))


def sweep_discrepancies(ctx: Context) -> list[Alert]:
    rows = _unalerted_discrepancies(last_seen_at__gte=ctx.since, last_seen_at__lt=ctx.end)
    return raise_from(events.discrepancy_alert, rows)


def reconciliation(ctx: Context) -> list[Alert]:
    """Reconcile every county's months whose sales filings are due (the last
    FILING_MONTHS_CHECKED), record the discrepancies as the reconciliation view does for an
    authority that opens it (new ones created, ones gone resolved), and raise an alert for
    each open cross-party one never alerted on. A month whose filings are not yet due is left
    alone: shipped-not-filed is expected until then."""
    from audits import reconciliation as reconciliation_

    alerts: list[Alert] = []
    # Every county, then each city or province with organisations registered at its own
    # level (a city's wholesaler and hospital are in no county): reconciled over its whole
    # prefix, what the counties below found is only refreshed.
    # (Recorded once the month is due for it and for every county below it: a county may
    # give its wholesalers a later day than its city.)
    above = Jurisdiction.objects.filter(level__in=[Jurisdiction.Level.PROVINCE, Jurisdiction.Level.CITY]).filter(
        Exists(Organisation.objects.filter(jurisdiction=OuterRef("pk")).exclude(kind=Organisation.Kind.AUTHORITY)))
    counties = list(Jurisdiction.objects.filter(level=Jurisdiction.Level.COUNTY).order_by("code"))
    scopes = [*counties, *above.order_by("-code")]

    def due(month, scope) -> bool:
        below = [c for c in counties if c.code.startswith(scope.prefix)] if scope.level != scope.Level.COUNTY else []
        return all(periods.filings_due(month, j, today=ctx.today) for j in [scope, *below])

    for county in scopes:
        month = periods.previous_month(ctx.today.replace(day=1))
        for _i in range(FILING_MONTHS_CHECKED):
            if due(month, county):
                result = reconciliation_.reconcile(month, jurisdiction_prefix=county.prefix)
                with transaction.atomic():
                    reconciliation_.reconciliation_record(result, jurisdiction_code=county.code)
                    rows = _unalerted_discrepancies(month=month, jurisdiction_code__startswith=county.prefix)
                    alerts += raise_from(events.discrepancy_alert, rows)
            month = periods.previous_month(month)
    return alerts


RULES: dict[str, Callable[[Context], list[Alert]]] = {
    "sweep_shipment_refusals": sweep_shipment_refusals,
    "sweep_shipment_discrepancies": sweep_shipment_discrepancies,
    "sweep_count_lines": sweep_count_lines,
    "sweep_scan_anomalies": sweep_scan_anomalies,
    "sweep_dispensed_packs": sweep_dispensed_packs,
    "sweep_discrepancies": sweep_discrepancies,
    "dispensing_spike": dispensing_spike,
    "dispensed_without_receipt": dispensed_without_receipt,
    "expired_stock": expired_stock,
    "device_filed_late": device_filed_late,
    "licences": licences,
    "filings_late": filings_late,
    "reconciliation": reconciliation,
}


def run(*, today: dt.date | None = None, only: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Run the rules (all, or those named); per rule how many cases it found and how many
    alerts are new."""
    ctx = Context(today=today or timezone.localdate())
    out = {}
    for name, rule in RULES.items():
        if only and name not in only:
            continue
        alerts = rule(ctx)
        out[name] = {"found": len(alerts), "new": sum(1 for a in alerts if a.was_created)}
    return out

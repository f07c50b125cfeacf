"""Months: the period of every monthly closing, filing and reconciliation.

A month is represented by its first day (`dt.date(2026, 10, 1)`); its bounds are aware
datetimes in the project's time zone (Asia/Shanghai), so a dispense at 23:30 local time on
the 31st belongs to that month."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.errors import InvalidInput

DEFAULT_DUE_DAY = 5  # "次月5日前" (DOMAIN.md): overridable per jurisdiction


def parse_month(value: str | None) -> dt.date:
    """'2026-10' (or '2026-10-01') -> date(2026, 10, 1)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-01)?", (value or "").strip())
    # Years 0002-9998: there is no year 0000, and the month before 0001-01 or after 9999-12
    # (which reconciliations and closings need) is not a date either.
    if not m or not 1 <= int(m[2]) <= 12 or not 2 <= int(m[1]) <= 9998:
        raise InvalidInput(_("month is YYYY-MM, e.g. 2026-10."), code="invalid_month")
    return dt.date(int(m[1]), int(m[2]), 1)


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: dt.date) -> dt.date:
    return dt.date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) as aware datetimes in the current time zone."""
    start = timezone.make_aware(dt.datetime.combine(month, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(next_month(month), dt.time.min))
    return start, end


def last_day(month: dt.date) -> dt.date:
    return next_month(month) - dt.timedelta(days=1)


def due_on(month: dt.date, jurisdiction) -> dt.date:
    """Monthly filings are due by the jurisdiction's day (default the 5th) of the next month."""
    day = jurisdiction.setting("monthly_filing_due_day", DEFAULT_DUE_DAY) if jurisdiction else DEFAULT_DUE_DAY
    following = next_month(month)
    # The setting is refused outside 1..28 where it is written; clamp anyway so a day that
    # a month lacks (31 in April) means that month's last day, never a crash.
    return following.replace(day=min(max(int(day), 1), last_day(following).day))


def filings_due(month: dt.date, jurisdiction, *, today: dt.date | None = None) -> bool:
    """Is the day the month's sales filings were due past? Until then a shipment not yet
    filed is expected, not a discrepancy."""
    return due_on(month, jurisdiction) < (today or timezone.localdate())


def is_over(month: dt.date, *, today: dt.date | None = None) -> bool:
    return next_month(month) <= (today or timezone.localdate())

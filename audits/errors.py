"""Refusals of the reconciliation and filing work, each with a stable code."""

from django.utils.translation import gettext_lazy as _

from backend.errors import Conflict, Forbidden, InvalidInput


class PeriodSigned(Conflict):
    code = "period_signed"
    default_message = _("This period is signed and can no longer change; corrections land in the next period.")


class PeriodNotOver(Conflict):
    code = "period_not_over"
    default_message = _("A month can be closed only after it has ended.")


class FilingSubmitted(Conflict):
    code = "filing_submitted"
    default_message = _("A submitted filing never changes; submit an amendment with a reason.")


class FilingRowsInvalid(InvalidInput):
    code = "filing_rows_invalid"
    default_message = _("The filing has invalid rows; nothing was stored.")


class CountStateError(Conflict):
    code = "count_invalid_state"
    default_message = _("The count is not in a state that allows this.")


class VarianceNeedsReason(InvalidInput):
    code = "variance_needs_reason"
    default_message = _("Every variance needs a reason.")


class NotPermitted(Forbidden):
    code = "not_allowed"

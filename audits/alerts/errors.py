"""Refusals of the alerts work, each with a stable code (rendered by backend.errors)."""

from django.utils.translation import gettext_lazy as _

from backend.errors import Conflict, Forbidden, InvalidInput


class AlertOfficeAdminRequired(Forbidden):
    code = "alert_office_admin_required"
    default_message = _("Only the governance office's administrators acknowledge and resolve alerts.")


class AlertOutsideJurisdiction(Forbidden):
    code = "alert_outside_jurisdiction"
    default_message = _("This alert is outside your jurisdiction.")


class AlertNotOpen(Conflict):
    code = "alert_not_open"
    default_message = _("Only an open alert can be acknowledged.")


class AlertAlreadyResolved(Conflict):
    code = "alert_already_resolved"
    default_message = _("This alert is already resolved.")


class AlertNoteRequired(InvalidInput):
    code = "alert_resolution_note_required"
    default_message = _("Resolving an alert needs a note saying what was done.")


class AlertInvalid(InvalidInput):
    code = "alert_invalid"
    default_message = _("The alert is not valid.")

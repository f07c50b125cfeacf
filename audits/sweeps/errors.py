"""Refusals of the sweep work, each with a stable code (rendered by backend.errors)."""

from django.utils.translation import gettext_lazy as _

from backend.errors import Conflict, DomainError, Forbidden, InvalidInput


class SweepForbidden(Forbidden):
    code = "sweep_forbidden"


class OfficeAdminRequired(SweepForbidden):
    code = "sweep_office_admin_required"
    default_message = _("Only the governance office's administrators of this jurisdiction plan sweeps.")


class InspectorRequired(SweepForbidden):
    code = "sweep_inspector_required"
    default_message = _("Only inspectors of the site's jurisdiction work on visits.")


class SweepInvalid(InvalidInput):
    code = "sweep_invalid"


class TeamDepartments(DomainError):
    code = "team_needs_two_departments"
    default_message = _("A joint inspection team has inspectors from at least two departments.")


class SweepFinished(Conflict):
    code = "sweep_finished"
    default_message = _("The sweep is finished.")


class VisitClosed(Conflict):
    code = "visit_closed"
    default_message = _("The visit is closed; nothing more can be recorded on it.")


class VisitExists(Conflict):
    code = "visit_exists"
    default_message = _("This target already has a visit.")


class ClientIdConflict(Conflict):
    code = "client_id_conflict"
    default_message = _("This client id is already used by another kind of item on this visit.")


class ClientIdReused(DomainError):
    code = "client_id_reused"
    default_message = _("This client id was already used for an item with other content.")


class ItemInvalid(InvalidInput):
    code = "visit_item_invalid"


class ActionInvalid(DomainError):
    code = "finding_action_invalid"


class RectificationVerified(Conflict):
    code = "rectification_already_verified"
    default_message = _("This rectification order was already verified.")


class CaseExists(Conflict):
    code = "case_exists"
    default_message = _("A case is already open for this finding.")


class CaseInvalid(InvalidInput):
    code = "case_invalid"


class CaseClosed(Conflict):
    code = "case_closed"
    default_message = _("The case is closed.")

"""Refusals of the drug chain, each with a stable code (rendered by backend.errors)."""

from django.utils.translation import gettext_lazy as _

from backend.errors import Conflict, DomainError, Forbidden, PolicyRefused


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_message = _("Not enough stock.")


class BatchExpired(DomainError):
    code = "batch_expired"
    default_message = _("The batch has expired.")


class RecipientNotAuthorized(PolicyRefused):
    code = "recipient_not_authorized"


class SupplierNotAuthorized(PolicyRefused):
    code = "supplier_not_authorized"


class InstitutionNotAuthorized(PolicyRefused):
    code = "institution_not_authorized"


class PhysicianNotLicensed(PolicyRefused):
    code = "physician_not_licensed"


class MidtermCertificateRequired(DomainError):
    code = "midterm_certificate_required"
    default_message = _("A pregnancy of 14 weeks or more needs the mid-term termination certificate "
                        "(人工终止中期以上妊娠证明) number and issuing office.")


class EmergencyNeedsThreePhysicians(DomainError):
    code = "emergency_needs_three_physicians"
    default_message = _("An emergency needs three physicians' signatures.")


class InvalidState(Conflict):
    code = "invalid_state"


class NotAllowed(Forbidden):
    code = "not_allowed"

"""Refusals of the scan endpoint, each with a stable code (rendered by backend.errors).

The refusals of the actions themselves (batch_expired, not_allowed, insufficient_stock...)
are the services' own: a scan answers with the very same codes as the REST endpoints."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from backend.errors import Conflict, DomainError, InvalidInput


class CodeUnreadable(InvalidInput):
    """The codec could not make sense of the scan; `code` is the codec's (`codec.ERROR_CODES`)."""

    code = "code_unreadable"
    default_message = _("The scanned code could not be read.")

    @classmethod
    def of(cls, payload) -> CodeUnreadable:
        """The refusal of a payload the codec could not read (`payload.ok` false)."""
        return cls(_("The code could not be read: %(reason)s") % {"reason": payload.message},
                   code=payload.code, details=payload.as_dict())


class ActionNotAvailable(DomainError):
    code = "action_not_available"
    default_message = _("This scan action is not available yet.")


class ImageCodeCount(DomainError):
    code = "image_code_count"
    default_message = _("An action needs a photo with exactly one code.")


class CodeNamesNoBatch(DomainError):
    code = "code_names_no_batch"
    default_message = _("The scanned code does not name a batch known to the system.")


class BatchNotInShipment(DomainError):
    code = "batch_not_in_shipment"
    default_message = _("The scanned batch is not part of this shipment.")


class PackCodeRequired(DomainError):
    code = "pack_code_required"
    default_message = _("Counting by scan needs a pack code (a traceability code or a GS1 serial).")


class LabelNotPrintable(DomainError):
    """A label whose text no barcode we print could carry so that it reads back the same
    (a lot with Chinese characters, say): refused rather than printed wrong."""

    code = "label_not_printable"
    default_message = _("This label cannot be printed as a barcode that reads back the same.")


class DeviceSerialAmbiguous(Conflict):
    """A typed factory serial that several registered devices carry, none (or several) of
    them at the site inspected: ticking one would be a guess."""

    code = "device_serial_ambiguous"
    default_message = _("Several registered devices carry this factory serial: scan or type the asset tag.")

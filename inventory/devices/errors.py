"""Refusals of the device registry, each with a stable code (rendered by backend.errors).

Codes inspectors can search for: device_duplicate_filing (a second filing of a known
brand + model + serial), device_holder_not_allowed, device_operator_not_licensed.
"""

from django.utils.translation import gettext_lazy as _

from backend.errors import Conflict, DomainError, Forbidden, InvalidInput, PolicyRefused


class DuplicateFiling(Conflict):
    code = "device_duplicate_filing"
    default_message = _("A device with this brand, model and factory serial number is already filed.")


class HolderNotAllowed(PolicyRefused):
    code = "device_holder_not_allowed"


class OperatorNotLicensed(PolicyRefused):
    code = "device_operator_not_licensed"


class CustodianNotLicensed(PolicyRefused):
    code = "device_custodian_not_licensed"


class PersonNotAtHolder(DomainError):
    code = "device_person_not_at_holder"
    default_message = _("Custodian and operators must work at the holding institution.")


class OperatorsRequired(InvalidInput):
    code = "device_operators_required"
    default_message = _("A device needs at least one registered operator.")


class PhotoRequired(InvalidInput):
    code = "device_photo_required"
    default_message = _("A filing needs at least one photo of the device.")


class SealImageRequired(InvalidInput):
    code = "device_seal_image_required"
    default_message = _("A filing needs an image of the institution's seal (公章).")


class BadDates(InvalidInput):
    code = "device_dates_invalid"


class DeviceSealed(Conflict):
    code = "device_sealed"
    default_message = _("The device is sealed (查封).")


class DeviceScrapped(Conflict):
    code = "device_scrapped"
    default_message = _("The device has been scrapped.")


class DeviceNotSealed(Conflict):
    code = "device_not_sealed"
    default_message = _("The device is not sealed.")


class LastOperator(Conflict):
    code = "device_last_operator"
    default_message = _("A device keeps at least one operator; add another before removing this one.")


class OperatorAlreadyRegistered(Conflict):
    code = "device_operator_already_registered"
    default_message = _("This person is already an operator of the device.")


class SameHolder(Conflict):
    code = "device_transfer_same_holder"
    default_message = _("The device already belongs to this institution.")


class ExamOperatorNotLicensed(PolicyRefused):
    code = "exam_operator_not_licensed"


class ExamOperatorNotRegistered(DomainError):
    code = "exam_operator_not_registered"
    default_message = _("The operator is not registered on this device.")


class ExamSecondOperatorRequired(DomainError):
    code = "exam_second_operator_required"
    default_message = _("This jurisdiction requires two operators to sign each ultrasound exam (双人执机签字).")


class ExamInvalid(InvalidInput):
    code = "exam_invalid"


class ExamBeforeFiling(ExamInvalid):
    code = "exam_before_filing"
    default_message = _("The device was not yet filed at the time of the exam.")


class ExamMentionsSex(InvalidInput):
    code = "exam_mentions_fetal_sex"
    default_message = _("The exam register has no place for the fetal sex; remove it from the summary.")


class ExamNotUltrasound(DomainError):
    code = "exam_device_not_ultrasound"
    default_message = _("The exam register records ultrasound exams; this device is not an ultrasound device.")


class DeviceForbidden(Forbidden):
    code = "device_forbidden"

"""Who may act on devices. Services call these with the acting user (None = the system,
e.g. the demo seeder), so the REST and scan endpoints enforce the same rules.

| act | who |
| --- | --- |
| file a device, transfer, scrap, add/remove operators | the holder's own staff; office administrators of the holder's jurisdiction |
| seal, unseal | inspectors of the holder's jurisdiction |
| record an exam | the holder's own staff |
| see patient name and resident ID in full | the holder's own staff; inspectors of the jurisdiction (each read audited) |
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from backend import visibility
from backend.models import Organisation, User
from inventory.devices.errors import DeviceForbidden

MEMBER_ROLES = frozenset({User.Role.PHARMACIST, User.Role.PHYSICIAN, User.Role.WHOLESALER_CLERK})


def is_holder_staff(user, holder: Organisation) -> bool:
    return bool(user is not None and user.is_authenticated and user.role in MEMBER_ROLES
                and visibility.is_member_of(user, holder))


def is_jurisdiction_office_admin(user, holder: Organisation) -> bool:
    return visibility.is_office_admin_of(user, holder.jurisdiction)


def is_jurisdiction_inspector(user, holder: Organisation) -> bool:
    return visibility.is_inspector_of(user, holder.jurisdiction)


def check_may_manage(user, holder: Organisation) -> None:
    """File, transfer, scrap, change operators."""
    if user is None or is_holder_staff(user, holder) or is_jurisdiction_office_admin(user, holder):
        return
    raise DeviceForbidden(
        _("Only %(holder)s's own staff or the governance office of its jurisdiction may do this.")
        % {"holder": holder.name},
        code="device_holder_staff_or_office_required",
    )


def check_may_seal(user, holder: Organisation) -> None:
    if user is None or is_jurisdiction_inspector(user, holder):
        return
    raise DeviceForbidden(_("Only inspectors of the device's jurisdiction may seal or unseal it."),
                          code="device_inspector_required")


def check_may_record_exam(user, holder: Organisation) -> None:
    if user is None or is_holder_staff(user, holder):
        return
    raise DeviceForbidden(_("Only the institution's own staff record exams in its register."),
                          code="exam_holder_staff_required")


def sees_patient(user, holder: Organisation) -> bool:
    return is_holder_staff(user, holder) or is_jurisdiction_inspector(user, holder)

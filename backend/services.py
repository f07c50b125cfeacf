"""Writes to the who-registry. Each is one transaction and leaves one audit entry."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.services import audit_record, snapshot
from backend.errors import Conflict
from backend.models import Jurisdiction, Licence, Organisation, Person, normalise_resident_id, normalise_uscc
from backend.uploads import PreparedImage

IMAGE_FIELDS = ("photo", "scan")  # Person.photo, Licence.scan: paths of backend.uploads, each with a thumbnail


def _take_images(fields: dict) -> dict[str, PreparedImage]:
    """Pop the uploaded images (checked by backend.uploads, not yet stored) out of `fields`."""
    return {name: fields.pop(name) for name in IMAGE_FIELDS if fields.get(name) is not None}


def _save(instance, *, actor, before: dict | None = None, action: str | None = None, transition: str = "",
          images: dict[str, PreparedImage] | None = None):
    """Validate, save and audit one registry row (inside the caller's transaction). `images`
    (field -> PreparedImage) are stored by content hash once the row is valid; the row keeps
    their paths and their thumbnails' paths."""
    for name, prepared in (images or {}).items():
        prepared.attach(instance, name)
    instance.full_clean()
    for prepared in (images or {}).values():
        prepared.store()
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:  # a concurrent writer got there first
        raise Conflict(_("The record conflicts with an existing one."), code="duplicate",
                       details={"reason": str(exc).splitlines()[0]}) from exc
    audit_record(
        action=action or ("update" if before is not None else "create"),
        instance=instance, before=before, actor=actor, transition=transition,
    )
    return instance


def _apply(instance, fields: dict) -> dict:
    before = snapshot(instance)
    for name, value in fields.items():
        setattr(instance, name, value)
    return before


@transaction.atomic
def jurisdiction_create(*, actor, **fields) -> Jurisdiction:
    return _save(Jurisdiction(**fields), actor=actor)


@transaction.atomic
def jurisdiction_update(*, actor, jurisdiction: Jurisdiction, **fields) -> Jurisdiction:
    before = _apply(jurisdiction, fields)
    return _save(jurisdiction, actor=actor, before=before)


def _normalise_org(fields: dict) -> dict:
    if fields.get("credit_code"):
        fields["credit_code"] = normalise_uscc(fields["credit_code"])
    return fields


@transaction.atomic
def organisation_create(*, actor, **fields) -> Organisation:
    return _save(Organisation(**_normalise_org(fields)), actor=actor)


@transaction.atomic
def organisation_update(*, actor, organisation: Organisation, **fields) -> Organisation:
    before = _apply(organisation, _normalise_org(fields))
    return _save(organisation, actor=actor, before=before)


def _normalise_person(fields: dict) -> dict:
    if fields.get("resident_id"):
        fields["resident_id"] = normalise_resident_id(fields["resident_id"])
    return fields


@transaction.atomic
def person_create(*, actor, **fields) -> Person:
    images = _take_images(fields)
    return _save(Person(**_normalise_person(fields)), actor=actor, images=images)


@transaction.atomic
def person_update(*, actor, person: Person, **fields) -> Person:
    images = _take_images(fields)
    before = _apply(person, _normalise_person(fields))
    return _save(person, actor=actor, before=before, images=images)


def person_sensitive_read(*, actor, person: Person) -> None:
    """Record that `actor` saw the person's full resident ID."""
    with transaction.atomic():
        audit_record(action="sensitive_read", instance=person, actor=actor, transition="resident_id")


@transaction.atomic
def licence_create(*, actor, **fields) -> Licence:
    images = _take_images(fields)
    return _save(Licence(**fields), actor=actor, images=images)


@transaction.atomic
def licence_update(*, actor, licence: Licence, **fields) -> Licence:
    images = _take_images(fields)
    before = _apply(licence, fields)
    return _save(licence, actor=actor, before=before, images=images)


@transaction.atomic
def licence_revoke(*, actor, licence: Licence, on: dt.date, reason: str) -> Licence:
    """Revoke from `on`. A revocation still to take effect (a deadline given) may be brought
    forward by a new one dated earlier (both are on the audit trail); one in force is final."""
    if licence.revoked_at is not None:
        if licence.revoked_at <= timezone.localdate():
            raise Conflict(_("The licence was already revoked on %(date)s.") % {"date": licence.revoked_at},
                           code="licence_already_revoked")
        if on >= licence.revoked_at:
            raise Conflict(_("The licence's revocation takes effect on %(date)s; a new revocation can only bring "
                             "it forward.") % {"date": licence.revoked_at}, code="licence_already_revoked",
                           details={"revoked_at": licence.revoked_at.isoformat()})
    if not reason.strip():
        raise ValidationError({"reason": _("a revocation needs a reason")})
    before = _apply(licence, {"revoked_at": on, "revoked_reason": reason.strip()})
    return _save(licence, actor=actor, before=before, action="transition", transition="revoke")

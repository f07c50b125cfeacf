"""Writing to the audit trail. Every service that changes data calls `audit_record` inside
its transaction; the entry commits or rolls back with the change it describes."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import ipaddress
import json
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audits.chain import canonical_body, entry_hash
from audits.context import client_ip, current_request
from audits.models import AuditEntry
from audits.selectors import chain_head
from backend import fastsql

# Fields never copied into the trail, and fields stored only masked (with a digest so that a
# change is still visible): sensitive personal data must not leak through the audit log.
NEVER_AUDITED = {"password", "last_login"}


MASKED_DIGEST_PURPOSE = "audits.snapshot.masked-value"


def masked(name: str, value: str) -> dict:
    """The masked form and a keyed digest: equal values give equal digests within one
    installation (a change stays visible), but without the server's SECRET_KEY the digest
    cannot be brute-forced back from the few digits the mask hides. Entries written before
    carry an unkeyed `sha256` instead."""
    digest = salted_hmac(MASKED_DIGEST_PURPOSE, value, algorithm="sha256").hexdigest()[:16]
    return {"masked": masked_text(name, value), "hmac": digest}


def masked_text(name: str, value: str) -> str:
    """A resident ID keeps its region and last four (as lists show it); any other field (a
    name, an address, a pregnancy status) only its length."""
    from backend.models import mask_resident_id

    return mask_resident_id(value) if name.endswith("resident_id") else "*" * len(value)


_ENCODER = DjangoJSONEncoder()
_PLAIN = (str, int, float, bool, type(None))


def _jsonable(value):
    """`value` as it reads back from JSON (what a json.dumps/json.loads round trip with
    DjangoJSONEncoder gives), without the round trip for the common plain values."""
    if isinstance(value, _PLAIN):
        return value.value if isinstance(value, enum.Enum) else value  # TextChoices members are str
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta | decimal.Decimal | uuid.UUID):
        return _ENCODER.default(value)
    if hasattr(value, "name") and hasattr(value, "storage"):  # FieldFile
        return value.name or ""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))  # lists, dicts (JSON fields), lazy strings


def snapshot(instance: models.Model) -> dict:
    """The instance's concrete field values as plain JSON (FKs by id; sensitive fields masked)."""
    to_mask = set(getattr(instance, "AUDIT_MASKED_FIELDS", ()))
    data = {}
    for field in instance._meta.concrete_fields:
        if field.name in NEVER_AUDITED:
            continue
        value = getattr(instance, field.attname)
        if field.name in to_mask and value not in (None, ""):  # 0 children is masked too
            data[field.attname] = masked(field.name, str(value))
        else:
            data[field.attname] = _jsonable(value)
    return data


def _actor_and_org(actor):
    request = current_request()
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    if actor is None:
        return None, "", None
    return actor.pk, actor.get_username(), getattr(actor, "organisation_id", None)


def _subject_organisation(instance):
    """The organisation a record belongs to, if the model says (AUDIT_ORGANISATION_FIELD)."""
    from backend.models import Organisation

    if isinstance(instance, Organisation):
        return instance
    path = getattr(instance, "audit_organisation", None)
    if callable(path):
        return path()
    return None


def audit_record(
    *,
    action: str,
    instance: models.Model | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    transition: str = "",
    actor=None,
    subject_organisation=None,
) -> AuditEntry:
    """Append one entry to the chain. Call inside the transaction that makes the change;
    keep it the last step so the chain lock is held briefly."""
    if instance is not None:
        object_type = object_type or instance._meta.label_lower
        object_id = object_id or str(instance.pk)
        if subject_organisation is None:
            subject_organisation = _subject_organisation(instance)
        if after is None and action in ("create", "update", "transition"):
            after = snapshot(instance)
    actor_id, actor_username, organisation_id = _actor_and_org(actor)
    jurisdiction_code = ""
    if instance is not None and instance._meta.label_lower == "backend.jurisdiction":
        jurisdiction_code = instance.code
    elif instance is not None and callable(getattr(instance, "audit_jurisdiction_code", None)):
        # A record scoped by a jurisdiction of its own (an alert raised for the county that
        # runs the check, about a party registered elsewhere): the entry goes where it is seen.
        jurisdiction_code = instance.audit_jurisdiction_code()
    elif subject_organisation is not None:
        jurisdiction_code = subject_organisation.jurisdiction.code
    elif actor is not None and getattr(actor, "organisation", None) is not None:
        jurisdiction_code = actor.organisation.jurisdiction.code
    ip = client_ip(current_request())
    if ip:
        try:
            ip = ipaddress.ip_address(ip).compressed
        except ValueError:
            ip = None

    header = {
        "created_at": timezone.now(),
        "actor_id": actor_id,
        "actor_username": actor_username,
        "organisation_id": organisation_id,
        "subject_organisation_id": subject_organisation.pk if subject_organisation is not None else None,
        "jurisdiction_code": jurisdiction_code,
        "ip": ip or "",
        "action": action,
        "transition": transition,
        "object_type": object_type or "",
        "object_id": str(object_id or ""),
    }
    body = canonical_body(before, after)
    if connection.vendor == "postgresql":
        return _append_postgresql(header, body)
    # No savepoint inside the caller's transaction (two round trips saved): if the insert
    # fails, the caller's whole transaction fails with it, as it must.
    with transaction.atomic(savepoint=False):
        # SQLite: the IMMEDIATE transaction already holds the only write lock, so no
        # appender can come between this read and the insert.
        seq, prev_hash = chain_head()
        header.update(seq=seq + 1, prev_hash=prev_hash)
        return fastsql.insert(AuditEntry(body=body, hash=entry_hash(header, body), **header))


def _append_postgresql(header: dict, body: str) -> AuditEntry:
    """The chain lock, the head, the hash and the insert in one round trip (the function of
    migration audits 0006, the formula of audits.chain), so the lock is held for one
    statement and the commit rather than three round trips."""
    with fastsql.cursor(connection) as cursor:
        cursor.execute("SELECT entry_id, entry_seq, entry_prev_hash, entry_hash "
                       "FROM audits_append(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                       [header["created_at"], header["actor_id"], header["actor_username"], header["organisation_id"],
                        header["subject_organisation_id"], header["jurisdiction_code"], header["ip"],
                        header["action"], header["transition"], header["object_type"], header["object_id"], body])
        pk, seq, prev_hash, digest = cursor.fetchone()
    return fastsql.mark_inserted(AuditEntry(id=pk, seq=seq, prev_hash=prev_hash, hash=digest, body=body, **header),
                                 connection.alias)

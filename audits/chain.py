"""Canonical form and hashing of audit entries (no database access here).

hash = SHA-256( header + "\\n" + body ), where
- header is built from the entry's columns, each value length-prefixed ("5:hello;", "-;" for
  NULL) in HEADER_FIELDS order, the time as UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ";
- body is the canonical JSON (sorted keys, no whitespace, UTF-8) of {"before", "after"},
  stored as it was hashed.
Because the header is rebuilt from the columns, editing any column breaks the hash; on
PostgreSQL the same formula runs in SQL (see audits.selectors) so a million entries verify
in seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder

HEADER_FIELDS = (
    "seq", "created_at", "actor_id", "actor_username", "organisation_id", "subject_organisation_id",
    "jurisdiction_code", "ip", "action", "transition", "object_type", "object_id", "prev_hash",
)


def canonical_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def header_string(fields: dict) -> str:
    parts = []
    for name in HEADER_FIELDS:
        value = fields[name]
        if value is None:
            parts.append("-;")
            continue
        if isinstance(value, dt.datetime):
            value = canonical_time(value)
        value = str(value)
        parts.append(f"{len(value)}:{value};")
    return "".join(parts)


def canonical_body(before, after) -> str:
    return json.dumps({"after": after, "before": before}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, cls=DjangoJSONEncoder)


def entry_hash(fields: dict, body: str) -> str:
    return hashlib.sha256((header_string(fields) + "\n" + body).encode()).hexdigest()

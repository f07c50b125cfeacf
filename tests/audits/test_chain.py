"""`manage.py verify_audit_trail` passes on an intact chain and, for every kind of tampering
(edit, delete, insert, reorder, rewrite), exits non-zero naming the first bad entry.

Tampering is done the way a person with database access would: raw SQL. On PostgreSQL the
append-only trigger refuses UPDATE and DELETE, so the tamperer first turns triggers off for
the session (`SET LOCAL session_replication_role = replica`, needs a superuser: a DBA
bypassing the application), as on SQLite where there is no trigger at all.
"""

from __future__ import annotations

import io
import re
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audits.models import AuditEntry
from audits.selectors import audit_chain_verify
from audits.services import audit_record
from backend import services
from tests.factories import make_resident_id

pytestmark = pytest.mark.django_db

TABLE = AuditEntry._meta.db_table


@contextmanager
def tamper():
    """A cursor with the append-only trigger out of the way (PostgreSQL) for this transaction."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        yield cursor
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


@pytest.fixture
def chain(county):
    """Six entries written by the registry services, as the application writes them."""
    admin = county.office_admin
    services.organisation_update(actor=admin, organisation=county.pharmacy, address="西渡镇解放路3号")
    services.organisation_update(actor=admin, organisation=county.clinic, contact_name="刘洋")
    services.person_create(actor=admin, name="黄丽", resident_id=make_resident_id(990_100),
                           organisation=county.hospital, position="nurse")
    services.organisation_update(actor=admin, organisation=county.wholesaler, contact_phone="0734-1234567")
    services.licence_revoke(actor=admin, licence=county.pharmacy.licences.get(), on=county.pharmacy.created_at.date(),
                            reason="超范围经营")
    services.organisation_update(actor=admin, organisation=county.hospital, address="衡阳县人民路9号")
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == [1, 2, 3, 4, 5, 6]
    return AuditEntry.objects.order_by("seq")


def verify(*args) -> str:
    out = io.StringIO()
    call_command("verify_audit_trail", *args, stdout=out)
    return out.getvalue()


def broken_at(*args) -> tuple[int, str]:
    """Run the verifier expecting failure; return the seq it names and the message."""
    with pytest.raises(CommandError) as excinfo:
        verify(*args)
    message = str(excinfo.value)
    match = re.search(r"entry #(\d+)", message)
    assert match, message
    return int(match.group(1)), message


def test_intact_chain_passes(chain):
    out = verify()
    head = chain.last()
    assert "intact" in out
    assert "6 entries" in out
    assert f"{head.seq}:{head.hash}" in out


def test_empty_trail_passes(db):
    assert "0 entries" in verify()


def test_each_entry_links_to_the_previous(chain):
    entries = list(chain)
    assert entries[0].prev_hash == "0" * 64
    for previous, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == previous.hash
    assert len({e.hash for e in entries}) == 6


@pytest.mark.parametrize(("column", "value"), [
    ("actor_username", "mallory"),
    ("object_id", "999"),
    ("action", "delete"),
    ("jurisdiction_code", "430121"),
], ids=["actor", "object", "action", "jurisdiction"])
def test_edited_entry_is_named(chain, column, value):
    with tamper() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET {column} = %s WHERE seq = 3", [value])  # noqa: S608
    seq, message = broken_at()
    assert seq == 3
    assert "edited" in message


def test_edited_time_is_named(chain):
    with tamper() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET created_at = %s WHERE seq = 4",  # noqa: S608
                       ["2020-01-01 00:00:00" if connection.vendor == "sqlite" else "2020-01-01T00:00:00Z"])
    assert broken_at()[0] == 4


def test_edited_before_and_after_values_are_named(chain):
    """The before/after values are hashed too: rewriting what a change said is detected."""
    text_columns = [f.column for f in AuditEntry._meta.concrete_fields
                    if f.get_internal_type() in ("TextField", "JSONField")]
    assert text_columns, "no column holds the before/after values"
    entry = chain.get(seq=2)
    assert entry.after["contact_name"] == "刘洋"
    with tamper() as cursor:
        for column in text_columns:
            cursor.execute(f"UPDATE {TABLE} SET {column} = REPLACE({column}, %s, %s) WHERE seq = 2",  # noqa: S608
                           ["刘洋", "张三"])
    assert AuditEntry.objects.get(seq=2).after["contact_name"] == "张三"
    assert broken_at()[0] == 2


def test_edit_with_recomputed_hash_is_caught_at_the_next_entry(chain):
    """A tamperer who also rewrites the entry's own hash breaks the next entry's link."""
    with tamper() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET actor_username = 'mallory', hash = %s WHERE seq = 3",  # noqa: S608
                       ["f" * 64])
    assert broken_at()[0] == 3  # its content no longer matches the stored hash
    # ...and had the hash been right, entry 4's prev_hash would still point at the old one
    assert AuditEntry.objects.get(seq=4).prev_hash != "f" * 64


def test_deleted_entry_is_named(chain):
    with tamper() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = 3")  # noqa: S608
    seq, message = broken_at()
    assert seq == 4
    assert "deleted" in message


def test_deleted_first_entry_is_named(chain):
    with tamper() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = 1")  # noqa: S608
    assert broken_at()[0] == 2


def test_deleted_then_renumbered_entries_are_named(chain):
    """Closing the gap after a deletion (renumbering) still breaks the hash links."""
    with tamper() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = 3")  # noqa: S608
        for seq in (4, 5, 6):
            cursor.execute(f"UPDATE {TABLE} SET seq = %s WHERE seq = %s", [seq - 1, seq])  # noqa: S608
    assert broken_at()[0] == 3


def test_forged_entry_appended_is_named(chain):
    head = chain.last()
    forged = AuditEntry.objects.get(seq=2)
    forged.pk = None
    forged.seq = head.seq + 1
    forged.prev_hash = head.hash
    forged.actor_username = "mallory"
    forged.hash = "e" * 64
    forged.save(force_insert=True)
    seq, message = broken_at()
    assert seq == 7
    assert "edited" in message or "hash" in message


def test_forged_entry_inserted_in_the_middle_is_named(chain):
    """Make room by shifting the later entries up, then slip a copy in at seq 4."""
    with tamper() as cursor:
        for seq in (6, 5, 4):
            cursor.execute(f"UPDATE {TABLE} SET seq = %s WHERE seq = %s", [seq + 1, seq])  # noqa: S608
    forged = AuditEntry.objects.get(seq=3)
    forged.pk = None
    forged.seq = 4
    forged.prev_hash = "d" * 64  # prev_hash is unique: a forger cannot reuse entry 3's link
    forged.hash = "c" * 64
    forged.save(force_insert=True)
    assert broken_at()[0] == 4


def test_swapped_entries_are_named(chain):
    with tamper() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET seq = 1000 WHERE seq = 2")  # noqa: S608
        cursor.execute(f"UPDATE {TABLE} SET seq = 2 WHERE seq = 3")  # noqa: S608
        cursor.execute(f"UPDATE {TABLE} SET seq = 3 WHERE seq = 1000")  # noqa: S608
    seq, message = broken_at()
    assert seq == 2


def test_first_of_several_problems_is_named(chain):
    with tamper() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET actor_username = 'x' WHERE seq IN (2, 5)")  # noqa: S608
    assert broken_at()[0] == 2


# --- against a printed head ------------------------------------------------------------


def test_against_a_printed_head_passes_when_appended_to(chain):
    head = chain.last()
    audit_record(action="update", object_type="test.thing", object_id="1", after={"n": 1})
    out = verify("--against", f"{head.seq}:{head.hash}")
    assert "7 entries" in out


def test_against_detects_a_rewritten_chain(chain, county):
    """Someone deletes the whole trail and writes a plausible new one: the new chain is
    internally consistent, but the head printed earlier (e.g. on a monthly form) is gone."""
    head = chain.last()
    printed = f"{head.seq}:{head.hash}"
    with tamper() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608
    for n in range(8):
        audit_record(action="update", instance=county.hospital, before={"n": n}, after={"n": n + 1})
    assert "8 entries" in verify()  # the rewritten chain is self-consistent...
    seq, message = broken_at("--against", printed)  # ...but not the chain that was printed
    assert seq == head.seq
    assert "rewritten" in message


def test_against_detects_truncated_tail(chain):
    head = chain.last()
    with tamper() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq >= 5")  # noqa: S608
    assert "4 entries" in verify()  # a shorter chain is still a chain...
    seq, message = broken_at("--against", f"{head.seq}:{head.hash}")  # ...but the printed head is gone
    assert seq == 6
    assert "no longer" in message


def test_against_with_a_malformed_head(chain):
    with pytest.raises(CommandError) as excinfo:
        verify("--against", "not-a-head")
    assert "seq:hash" in str(excinfo.value)


def test_report_for_tampered_chain(chain):
    with tamper() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET actor_username = 'x' WHERE seq = 5")  # noqa: S608
    report = audit_chain_verify()
    assert not report.ok
    assert report.problem.seq == 5
    assert report.problem.entry_id == chain.get(seq=5).pk
    assert report.head_seq == 4  # the last good entry

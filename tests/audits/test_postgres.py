"""PostgreSQL only: the append-only trigger, and concurrent appenders.

Run with DATABASE_URL=postgres://... ; on SQLite these are skipped (there is no trigger, and
SQLite serialises writers itself)."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction

from audits.models import AuditEntry
from audits.selectors import audit_chain_verify
from audits.services import audit_record

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: the append-only trigger and real concurrent writers exist only there "
           "(set DATABASE_URL=postgres://...)",
)
pytestmark = [requires_postgres, pytest.mark.postgres]

TABLE = AuditEntry._meta.db_table


@pytest.fixture
def entries(db):
    for n in range(3):
        audit_record(action="update", object_type="test.thing", object_id=str(n), before={"n": n}, after={"n": n + 1})
    return list(AuditEntry.objects.order_by("seq"))


@pytest.mark.django_db
def test_raw_update_is_refused(entries):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET actor_username = 'mallory' WHERE seq = 2")  # noqa: S608
    assert AuditEntry.objects.get(seq=2).actor_username == ""


@pytest.mark.django_db
def test_raw_delete_is_refused(entries):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = 2")  # noqa: S608
    assert AuditEntry.objects.count() == 3


@pytest.mark.django_db
def test_orm_update_and_delete_are_refused(entries):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=1).update(object_id="x")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=1).delete()
    assert "intact" in _verify()


@pytest.mark.django_db
def test_tampering_needs_the_trigger_disabled(entries):
    """Only by disabling the trigger (a table owner's deliberate act) can rows be changed, and
    the verifier then names the entry."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")  # noqa: S608
        cursor.execute(f"UPDATE {TABLE} SET object_id = 'forged' WHERE seq = 2")  # noqa: S608
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")  # noqa: S608
    report = audit_chain_verify()
    assert report.problem is not None and report.problem.seq == 2


def _verify() -> str:
    import io

    out = io.StringIO()
    call_command("verify_audit_trail", stdout=out)
    return out.getvalue()


THREADS = 8
PER_THREAD = 25


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_appenders_leave_one_valid_chain():
    """8 writers appending at once (25 entries each, one transaction per entry) must not fork
    the chain or leave gaps: seq 1..200, each entry linked to the one before."""
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(PER_THREAD):
                with transaction.atomic():
                    audit_record(action="create", object_type="test.thing", object_id=f"{n}-{i}",
                                 after={"writer": n, "i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    assert not errors, errors

    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, THREADS * PER_THREAD + 1))
    assert AuditEntry.objects.values("object_id").distinct().count() == THREADS * PER_THREAD
    entries = list(AuditEntry.objects.order_by("seq").values_list("prev_hash", "hash"))
    for (_, previous_hash), (prev_hash, _) in zip(entries, entries[1:], strict=False):
        assert prev_hash == previous_hash
    out = _verify()
    assert f"{THREADS * PER_THREAD} entries" in out


def test_the_sql_append_hashes_as_python_does(county):
    """audits_append() (one round trip on PostgreSQL) and audits.chain.entry_hash agree on
    every kind of header value: NULL and real ids, empty and CJK text, an IPv4 and an IPv6
    address from the request."""
    from django.test import RequestFactory

    from audits.chain import HEADER_FIELDS, entry_hash
    from audits.context import request_context
    from audits.models import GENESIS_HASH

    written = [
        audit_record(action="create", object_type="test.thing", object_id="1", after={"名称": "衡阳县", "n": 1}),
        audit_record(action="sensitive_read", object_type="test.thing", object_id="二", transition="patient",
                     before={"x": None}),
    ]
    for address in ("203.0.113.7", "2001:db8::1"):
        with request_context(RequestFactory().get("/", REMOTE_ADDR=address)):
            written.append(audit_record(action="update", instance=county.hospital, actor=county.inspector,
                                        before={"name": "旧名"}, after={"name": county.hospital.name}))
    stored = {row.pk: row for row in AuditEntry.objects.filter(pk__in=[e.pk for e in written])}
    assert {stored[written[-1].pk].ip, stored[written[-2].pk].ip} == {"203.0.113.7", "2001:db8::1"}
    assert stored[written[-1].pk].actor_id == county.inspector.pk
    for returned in written:
        row = stored[returned.pk]
        header = {name: getattr(row, name) for name in HEADER_FIELDS}
        assert entry_hash(header, row.body) == row.hash == returned.hash
        assert (returned.seq, returned.prev_hash) == (row.seq, row.prev_hash)
    assert AuditEntry.objects.order_by("seq").first().prev_hash == GENESIS_HASH
    assert audit_chain_verify().ok
    assert audit_chain_verify(independent=True).ok  # Python recomputes every hash the SQL wrote

"""Audit trail: verify_audit_trail over N entries, next to a baseline that reads the same rows
without hashing, both in this run. Also the cost of appending through audit_record.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_audit .venv/bin/python bench/audit_trail.py [N]

Creates (and drops) its own database when DATABASE_URL is unset: bench_audit on the local
PostgreSQL. Target (issue 7): verify 1,000,000 entries in <= 10 s.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OWN_DB = "DATABASE_URL" not in os.environ
DB_NAME = "bench_audit"
if OWN_DB:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"], check=True)


def main(n: int) -> None:
    if OWN_DB:
        psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
        psql(f"CREATE DATABASE {DB_NAME}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from audits.chain import canonical_body, entry_hash
    from audits.models import GENESIS_HASH, AuditEntry
    from audits.selectors import audit_chain_verify
    from audits.services import audit_record

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; entries: {n:,}")

    # Build the chain in bulk (the same canonical form audit_record writes).
    t0 = time.perf_counter()
    prev, start = GENESIS_HASH, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    batch = []
    for seq in range(1, n + 1):
        fields = {
            "seq": seq, "created_at": start + dt.timedelta(seconds=seq), "actor_id": seq % 50 + 1,
            "actor_username": f"user{seq % 50}", "organisation_id": seq % 500 + 1,
            "subject_organisation_id": seq % 500 + 1, "jurisdiction_code": "430421", "ip": "10.0.0.1",
            "action": "create", "transition": "", "object_type": "inventory.stockmovement",
            "object_id": str(seq), "prev_hash": prev,
        }
        body = canonical_body(None, {
            "id": seq, "quantity": -(seq % 7) - 1, "batch_id": seq % 2000, "holder_id": seq % 500,
            "created_at": "2026-01-01T00:00:00Z", "kind": "dispense", "idempotency_key": f"k{seq}"})
        prev = entry_hash(fields, body)
        batch.append(AuditEntry(body=body, hash=prev, **fields))
        if len(batch) == 10_000:
            AuditEntry.objects.bulk_create(batch)
            batch.clear()
    AuditEntry.objects.bulk_create(batch)
    print(f"built {n:,} entries in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    count = sum(1 for _ in AuditEntry.objects.order_by("seq").values_list("seq", "hash").iterator(chunk_size=5000))
    baseline = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = sum(1 for _ in AuditEntry.objects.order_by("seq").values_list(
        "id", "seq", "created_at", "actor_id", "actor_username", "organisation_id", "subject_organisation_id",
        "jurisdiction_code", "ip", "action", "transition", "object_type", "object_id", "body", "prev_hash",
        "hash").iterator(chunk_size=10000))
    read_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = audit_chain_verify()
    verify = time.perf_counter() - t0
    assert report.ok and report.entries == n == count == rows, report
    t0 = time.perf_counter()
    report = audit_chain_verify(independent=True)
    independent = time.perf_counter() - t0
    assert report.ok, report
    print(f"baseline: read (seq, hash) of {count:,} rows      {baseline:6.2f} s")
    print(f"baseline: read the columns verify reads         {read_all:6.2f} s")
    print(f"verify_audit_trail (in the database)            {verify:6.2f} s  "
          f"({verify / read_all:.2f}x reading the rows into Python; target <= 10 s)")
    print(f"verify_audit_trail --independent (in Python)    {independent:6.2f} s  "
          f"({independent / read_all:.2f}x reading the rows)")

    # Appending through the service (lock + read head + hash + insert), one transaction each.
    k = 2000
    t0 = time.perf_counter()
    for i in range(k):
        with transaction.atomic():
            audit_record(action="create", object_type="bench.thing", object_id=str(i), after={"i": i})
    append = time.perf_counter() - t0
    with connection.cursor() as cursor:
        # A real (WAL-logged) table: a TEMP table would skip the commit's WAL flush.
        cursor.execute("DROP TABLE IF EXISTS bench_plain")
        cursor.execute("CREATE TABLE bench_plain (id bigserial primary key, body text)"
                       if connection.vendor == "postgresql" else
                       "CREATE TABLE bench_plain (id integer primary key, body text)")
    t0 = time.perf_counter()
    for i in range(k):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_plain (body) VALUES (%s)", [f"row {i}"])
    floor = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_plain")
    print(f"audit_record: {k / append:,.0f} appends/s ({append / k * 1e3:.2f} ms each) vs one-row insert "
          f"transactions {k / floor:,.0f}/s ({append / floor:.2f}x the time)")
    connection.close()
    if OWN_DB and not os.environ.get("KEEP_BENCH_DB"):
        psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)

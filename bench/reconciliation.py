"""Reconciliation of a county-month, and a 100,000-row CSV sales filing (issue 6).

    .venv/bin/python bench/reconciliation.py            # creates and drops bench_reconciliation

PostgreSQL only. The fixture is written straight into the tables with INSERT ... SELECT over
generate_series (not through the services, which would take hours for a million movements
and would write a million audit entries): one county, 20 wholesalers and 480 institutions
(500 holders), 2,000 batches, the previous month signed (stored closing lines for every
holder and batch, with the history movements behind them), and in the month:
12,000 supply shipments with 48,000 lines (4 movements each: dispatch out of stock and into
transit, receipt out of transit and into the clinic), 768,000 dispenses (register rows and
their movements) and 40,000 count adjustments: 1,000,000 movements. Every wholesaler files
its month (48,000 filing lines), with 1 % of the lines planted 1 higher than shipped.

Timed, next to each other on the same data:
- `audits.reconciliation.reconcile` for the county (target <= 5 s) and for one institution
  (target <= 50 ms);
- a naive per-holder Python loop that streams each holder's movements and sums them;
- the upload of a 100,000-row CSV filing through `sales_filing_submit(rows_from_csv(...))`
  in a child process, for its wall time (target <= 20 s) and peak RSS (target <= 300 MB).
Figures are printed and appended to bench/RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "bench_reconciliation"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

WHOLESALERS, INSTITUTIONS, BATCHES = 20, 480, 2000
LINES_PER_INSTITUTION, BATCHES_PER_INSTITUTION = 100, 40
DISPENSES_PER_INSTITUTION, ADJUSTMENTS = 1600, 40_000
UPLOAD_ROWS = 100_000


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"], check=True)


def build(month: dt.date) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from audits import periods
    from backend.demo import credit_code
    from backend.models import Jurisdiction, Organisation, Person, User
    from inventory.models import Batch, DrugProduct, StockCount

    province = Jurisdiction.objects.create(code="430000", name="湖南省", level="province")
    city = Jurisdiction.objects.create(code="430400", name="衡阳市", level="city", parent=province)
    county = Jurisdiction.objects.create(code="430421", name="衡阳县", level="county", parent=city)
    office = Organisation.objects.create(name="综合治理办公室", kind="authority", jurisdiction=county,
                                         credit_code=credit_code("11", "430421", 1))
    orgs = Organisation.objects.bulk_create(
        [Organisation(name=f"医药公司{i}", kind="wholesaler", jurisdiction=county,
                      credit_code=credit_code("91", "430421", 1000 + i)) for i in range(WHOLESALERS)]
        + [Organisation(name=f"卫生院{i}", kind="township_health_centre", jurisdiction=county,
                        credit_code=credit_code("12", "430421", 5000 + i)) for i in range(INSTITUTIONS)])
    wholesalers, institutions = orgs[:WHOLESALERS], orgs[WHOLESALERS:]
    product = DrugProduct.objects.get_or_create(generic_name="米非司酮片", strength="25 mg", form="tablet",
                                                manufacturer="华润紫竹药业有限公司",
                                                defaults={"counting_unit": "片", "pack_size": 6})[0]
    expiry = month + dt.timedelta(days=700)
    batches = Batch.objects.bulk_create([Batch(product=product, lot_number=f"B{n:05d}", expiry_printed="x",
                                               expiry_date=expiry) for n in range(BATCHES)])
    password = make_password("bench")
    inspector = User.objects.create(username="inspector", role="inspector", department="health",
                                    organisation=office, password=password)
    clerk = User.objects.create(username="clerk", role="wholesaler_clerk", organisation=wholesalers[0],
                                password=password)
    pharmacist = User.objects.create(username="pharmacist", role="pharmacist", organisation=institutions[0],
                                     password=password)
    physician = Person.objects.create(name="李医生", resident_id="430421198501010011", organisation=institutions[0],
                                      position="physician")
    start, end = periods.month_bounds(month)
    prev_start, _ = periods.month_bounds(periods.previous_month(month))
    doc = StockCount.objects.create(holder=wholesalers[0], batch=batches[0], counted=0, book_quantity=0,
                                    occurred_at=prev_start, recorded_by=clerk)
    w_ids = [o.pk for o in wholesalers]
    i_ids = [o.pk for o in institutions]
    b_ids = [b.pk for b in batches]
    p = {"w": w_ids, "i": i_ids, "b": b_ids, "nw": WHOLESALERS, "ni": INSTITUTIONS, "nb": BATCHES,
         "bpi": BATCHES_PER_INSTITUTION, "start": start, "prev": prev_start, "doc": doc.pk, "clerk": clerk.pk,
         "pharmacist": pharmacist.pk, "physician": physician.pk, "month": month,
         "prev_month": periods.previous_month(month), "nd": DISPENSES_PER_INSTITUTION, "na": ADJUSTMENTS}
    # institution i (1-based) holds batches inst_batch(i, k) = b[((i-1)*bpi + k) % nb + 1], k = 0..bpi-1
    sql = [
        # history: the previous month's intakes (wholesalers) and stock (institutions)
        """INSERT INTO inventory_stockmovement (holder_id, batch_id, in_transit, quantity, kind, occurred_at,
               recorded_at, note, stock_count_id)
           SELECT (%(w)s::bigint[])[w], (%(b)s::bigint[])[b], false, 10000, 'intake', %(prev)s, now(), '', %(doc)s
           FROM generate_series(1, %(nw)s) w, generate_series(1, %(nb)s) b""",
        """INSERT INTO inventory_stockmovement (holder_id, batch_id, in_transit, quantity, kind, occurred_at,
               recorded_at, note, stock_count_id)
           SELECT (%(i)s::bigint[])[i], (%(b)s::bigint[])[((i - 1) * %(bpi)s + k) %% %(nb)s + 1], false, 500,
                  'adjustment', %(prev)s, now(), '', %(doc)s
           FROM generate_series(1, %(ni)s) i, generate_series(0, %(bpi)s - 1) k""",
        "ANALYZE",
        # the previous month, signed
        """INSERT INTO audits_signedclosing (holder_id, month, signed_by_id, signed_at, statement)
           SELECT id, %(prev_month)s, %(clerk)s, now() + interval '1 second', '' FROM backend_organisation
           WHERE kind <> 'authority'""",
        """INSERT INTO audits_signedclosingline (closing_id, holder_id, month, batch_id, opening, received, returned,
               dispatched, dispensed, disposed, seized, adjusted, corrected, prior_period, closing_balance, in_transit,
               "references")
           SELECT c.id, m.holder_id, %(prev_month)s, m.batch_id, 0, CASE WHEN m.kind = 'intake' THEN m.q ELSE 0 END,
                  0, 0, 0, 0, 0, CASE WHEN m.kind = 'adjustment' THEN m.q ELSE 0 END, 0, 0, m.q, 0, '{}'
           FROM (SELECT holder_id, batch_id, kind, sum(quantity) q FROM inventory_stockmovement
                 GROUP BY holder_id, batch_id, kind) m
           JOIN audits_signedclosing c ON c.holder_id = m.holder_id AND c.month = %(prev_month)s""",
        "ANALYZE",
        # the month: shipments of 4 lines, institution i gets 25 shipments from wholesaler ((i-1) %% nw) + 1
        """INSERT INTO inventory_shipment (kind, status, sender_id, recipient_id, reference, created_by_id, created_at,
               dispatched_at, dispatched_by_id, closed_at, closed_by_id, rejection_reason)
           SELECT 'supply', 'received', (%(w)s::bigint[])[(i - 1) %% %(nw)s + 1], (%(i)s::bigint[])[i],
                  'DN-' || i || '-' || s, %(clerk)s, %(start)s, %(start)s + (s || ' hours')::interval, %(clerk)s,
                  %(start)s + (s + 20 || ' hours')::interval, %(pharmacist)s, ''
           FROM generate_series(1, %(ni)s) i, generate_series(0, 24) s""",
        "ANALYZE",
        """INSERT INTO inventory_shipmentline (shipment_id, batch_id, quantity, received_quantity, received_at)
           SELECT sh.id, (%(b)s::bigint[])[((sh.i - 1) * %(bpi)s + (sh.s * 4 + l) %% %(bpi)s) %% %(nb)s + 1], 20, 20,
                  sh.closed_at
           FROM (SELECT id, closed_at, array_position(%(i)s::bigint[], recipient_id) i,
                        split_part(reference, '-', 3)::int s FROM inventory_shipment) sh,
                generate_series(0, 3) l""",
        "ANALYZE",
        """INSERT INTO inventory_stockmovement (holder_id, batch_id, in_transit, quantity, kind, occurred_at,
               recorded_at, note, shipment_line_id)
           SELECT CASE WHEN leg = 4 THEN sh.recipient_id ELSE sh.sender_id END, sl.batch_id, leg IN (2, 3),
                  CASE WHEN leg IN (1, 3) THEN -sl.quantity ELSE sl.quantity END,
                  CASE WHEN leg <= 2 THEN 'dispatch' ELSE 'receipt' END,
                  CASE WHEN leg <= 2 THEN sh.dispatched_at ELSE sh.closed_at END, now(), '', sl.id
           FROM inventory_shipmentline sl JOIN inventory_shipment sh ON sh.id = sl.shipment_id,
                generate_series(1, 4) leg""",
        # dispenses: register rows, then their movements
        """INSERT INTO inventory_dispense (institution_id, occurred_at, patient_name, patient_age, patient_address,
               patient_resident_id, birth_permit, children_count, pregnancy_status, gestational_weeks, batch_id,
               quantity, dose, prescription_number, physician_id, pharmacist_id, midterm_certificate_number,
               midterm_certificate_office, emergency, recorded_at)
           SELECT (%(i)s::bigint[])[i], %(start)s + interval '2 days' + (n * 37 || ' minutes')::interval, '王某', 28,
                  '衡阳县', '', 'holds', 1, '宫内早孕', 7,
                  (%(b)s::bigint[])[((i - 1) * %(bpi)s + n %% %(bpi)s) %% %(nb)s + 1], 1, '25 mg', 'RX-' || n,
                  %(physician)s, %(pharmacist)s, '', '', false, now()
           FROM generate_series(1, %(ni)s) i, generate_series(1, %(nd)s) n""",
        "ANALYZE",
        """INSERT INTO inventory_stockmovement (holder_id, batch_id, in_transit, quantity, kind, occurred_at,
               recorded_at, note, dispense_id)
           SELECT institution_id, batch_id, false, -quantity, 'dispense', occurred_at, now(), '', id
           FROM inventory_dispense""",
        # count adjustments (one shared count document: the fixture needs the FK, not the row)
        """INSERT INTO inventory_stockmovement (holder_id, batch_id, in_transit, quantity, kind, occurred_at,
               recorded_at, note, stock_count_id)
           SELECT (%(w)s::bigint[])[n %% %(nw)s + 1], (%(b)s::bigint[])[n %% %(nb)s + 1], false, -1, 'adjustment',
                  %(start)s + interval '25 days', now(), '', %(doc)s
           FROM generate_series(1, %(na)s) n""",
        # every wholesaler files its month; 1 % of the lines planted 1 higher than shipped
        """INSERT INTO audits_salesfiling (wholesaler_id, month, version, amendment_reason, source, file_sha256,
               row_count, total_quantity, due_on, late, submitted_by_id, submitted_at)
           SELECT id, %(month)s, 1, '', 'json', '', 0, 0, %(month)s + interval '1 month 4 days', false, %(clerk)s,
                  now() FROM backend_organisation WHERE kind = 'wholesaler'""",
        """INSERT INTO audits_salesfilingline (filing_id, line_number, sold_on, customer_id, batch_id, quantity,
               invoice_number)
           SELECT f.id, row_number() OVER (PARTITION BY f.id ORDER BY sl.id) + 1, sh.dispatched_at::date,
                  sh.recipient_id, sl.batch_id, sl.quantity + CASE WHEN sl.id %% 100 = 0 THEN 1 ELSE 0 END,
                  sh.reference
           FROM inventory_shipmentline sl JOIN inventory_shipment sh ON sh.id = sl.shipment_id
           JOIN audits_salesfiling f ON f.wholesaler_id = sh.sender_id""",
        "ANALYZE",
    ]
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement, p)
        cursor.execute("SELECT count(*) FROM inventory_stockmovement WHERE occurred_at >= %s", [start])
        in_month = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM inventory_stockmovement")
        total = cursor.fetchone()[0]
    return {"inspector": inspector, "clerk": clerk, "pharmacist": pharmacist, "county": county,
            "institution": institutions[0], "institutions": institutions, "batches": batches,
            "in_month": in_month, "total": total}


def fixture(month: dt.date) -> dict:
    """The handles `build` returns, read back from a kept database."""
    from django.db import connection

    from audits import periods
    from backend.models import Organisation, User
    from inventory.models import Batch

    start, _end = periods.month_bounds(month)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM inventory_stockmovement WHERE occurred_at >= %s", [start])
        in_month = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM inventory_stockmovement")
        total = cursor.fetchone()[0]
    institutions = list(Organisation.objects.filter(kind="township_health_centre").order_by("pk"))
    return {"inspector": User.objects.get(username="inspector"), "clerk": User.objects.get(username="clerk"),
            "institution": institutions[0], "institutions": institutions,
            "batches": list(Batch.objects.order_by("pk")), "in_month": in_month, "total": total}


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def write_csv(path: Path, month: dt.date, institutions, batches) -> None:
    import csv

    from audits.filings import HEADERS

    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        for n in range(UPLOAD_ROWS):
            org = institutions[n % len(institutions)]
            batch = batches[n % len(batches)]
            writer.writerow([month.replace(day=n % 28 + 1).isoformat(), org.name, org.credit_code, "米非司酮片",
                             "25 mg", batch.lot_number, n % 50 + 1, f"FP{n:07d}"])


def upload_child(path: str, month: str) -> None:
    """In a fresh process: submit the CSV, print wall time and peak RSS."""
    import django

    django.setup()
    from audits import filings, periods
    from backend.models import User

    clerk = User.objects.get(username="clerk")
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        filing = filings.sales_filing_submit(actor=clerk, month=periods.parse_month(month),
                                             rows=filings.rows_from_csv(f), source="csv",
                                             amendment_reason="bench: 100,000-row upload")
    elapsed = time.perf_counter() - t0
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across exec).
    status = Path("/proc/self/status").read_text()
    peak = int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1]) / 1024
    print(f"RESULT {elapsed:.2f} {peak:.1f} {filing.row_count}")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()[1].split()[1]
    return f"{os.cpu_count()} cores (nproc), {mem} RAM (free -h), {cpu}"


def main() -> None:
    """`--keep` leaves the database for `--reuse` (time again without rebuilding)."""
    reuse, keep = "--reuse" in sys.argv, "--keep" in sys.argv
    if not reuse:
        psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
        psql(f"CREATE DATABASE {DB_NAME}")
    try:
        run(reuse=reuse)
    finally:
        from django.db import connections

        connections.close_all()
        if not keep:
            psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


def run(*, reuse: bool = False) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from audits import periods, reconciliation

    call_command("migrate", verbosity=0)
    month = periods.previous_month(timezone.localdate().replace(day=1))
    t0 = time.perf_counter()
    f = fixture(month) if reuse else build(month)
    print(f"fixture: {f['in_month']:,} movements in {month:%Y-%m} ({f['total']:,} in all), "
          f"{WHOLESALERS + INSTITUTIONS} holders, {BATCHES:,} batches; built in {time.perf_counter() - t0:.1f} s")

    # One institution first: a request for one clinic does not run in a process that holds a
    # county's result (whose million objects would make the garbage collector's passes slow).
    gc.collect()
    inst_s, inst = timed(lambda: reconciliation.reconcile(month, organisation_id=f["institution"].pk), repeat=5)
    gc.collect()
    county_s, result = timed(lambda: reconciliation.reconcile(month, jurisdiction_prefix="430421"))
    naive_s, naive = timed(lambda: reconciliation.naive_reconcile(month, jurisdiction_prefix="430421"), repeat=1)
    naive_one_s, _ = timed(lambda: naive_one(month, f["institution"].pk), repeat=3)
    # The two agree on every closing balance.
    for row in result["holders"]:
        assert naive[row["holder"]][row["batch"]]["closing"] == row["closing_balance"], row
    planted = sum(1 for r in result["cross_party"] if r["status"] == "quantity_mismatch")
    print(f"county reconciliation: {county_s * 1000:,.0f} ms (target 5,000) — {len(result['cross_party']):,} "
          f"wholesaler x customer x batch rows, {len(result['holders']):,} holder x batch rows, "
          f"{len(result['discrepancies']):,} discrepancies ({planted} planted quantity mismatches)")
    print(f"one institution: {inst_s * 1000:,.1f} ms (target 50) — {len(inst['holders'])} holder rows")
    print(f"naive per-holder Python loop, county: {naive_s * 1000:,.0f} ms  ({naive_s / county_s:.1f}x the SQL)")
    print(f"naive loop, one institution: {naive_one_s * 1000:,.1f} ms ({naive_one_s / inst_s:.1f}x)")

    # The upload files the month before (so the reconciled month stays as built, and a kept
    # database can be timed again).
    path = Path("/tmp") / f"bench-filing-{os.getpid()}.csv"
    upload_month = periods.previous_month(month)
    write_csv(path, upload_month, f["institutions"], f["batches"])
    size_mb = path.stat().st_size / 1e6
    out = subprocess.run([sys.executable, __file__, "--upload-child", str(path), upload_month.strftime("%Y-%m")],
                         capture_output=True, text=True, env=os.environ.copy())
    path.unlink()
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        print(out.stdout, out.stderr)
        raise SystemExit("upload child failed")
    _, upload_s, peak_mb, rows = line.split()
    print(f"upload of a {int(rows):,}-row CSV ({size_mb:.1f} MB): {float(upload_s):.1f} s (target 20), "
          f"peak RSS {float(peak_mb):.0f} MB (target 300)")

    section = f"""
## Reconciliation and monthly filings (bench/reconciliation.py)

{dt.date.today().isoformat()}, PostgreSQL, one run; machine: {machine()}.
Fixture written directly with bulk SQL over generate_series (see the docstring): {f['in_month']:,} movements in the
month ({f['total']:,} in all), {WHOLESALERS + INSTITUTIONS} holders, {BATCHES:,} batches, previous month signed.

| what | measured | target |
| --- | --- | --- |
| reconciliation, whole county | {county_s * 1000:,.0f} ms | 5,000 ms |
| reconciliation, one institution | {inst_s * 1000:,.1f} ms | 50 ms |
| naive per-holder Python loop, county | {naive_s * 1000:,.0f} ms ({naive_s / county_s:.1f}x) | (baseline) |
| naive loop, one institution | {naive_one_s * 1000:,.1f} ms ({naive_one_s / inst_s:.1f}x) | (baseline) |
| 100,000-row CSV filing upload ({size_mb:.1f} MB) | {float(upload_s):.1f} s, peak RSS {float(peak_mb):.0f} MB | 20 s, 300 MB |

The county result: {len(result['cross_party']):,} wholesaler x customer x batch rows, {len(result['holders']):,}
holder x batch rows, {len(result['discrepancies']):,} discrepancies (the {planted} planted quantity mismatches).
Peak RSS is the whole child process (Python, Django, the database driver): its VmHWM from
/proc/self/status after the upload (ru_maxrss would report the parent's peak, inherited across exec).
"""
    results = ROOT / "bench" / "RESULTS.md"
    existing = results.read_text() if results.exists() else "# Benchmark results\n"
    results.write_text(existing.rstrip("\n") + "\n" + section)
    print(f"appended to {results.relative_to(ROOT)}")


def naive_one(month: dt.date, holder_id: int) -> dict:
    from audits import periods
    from inventory.models import StockMovement

    start, end = periods.month_bounds(month)
    balances: dict = {}
    for batch_id, quantity, occurred_at, in_transit in StockMovement.objects.filter(
            holder_id=holder_id, occurred_at__lt=end).values_list("batch_id", "quantity", "occurred_at", "in_transit"):
        if not in_transit:
            row = balances.setdefault(batch_id, {"opening": 0, "closing": 0})
            row["opening" if occurred_at < start else "closing"] += quantity
    return balances


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--upload-child":
        upload_child(sys.argv[2], sys.argv[3])
    else:
        main()

"""Drug-chain figures through HTTP under gunicorn (2 sync workers) on PostgreSQL:

- POST /api/dispenses/ (one unit from one position) at concurrency 1 and 8;
- GET /api/stock/balances/?holder=H for a holder with 100,000 movements (cached positions),
  and the same `as_of` today (summed from the ledger);
- the floor, measured in the same run: a bare authenticated DRF endpoint reading one row by
  primary key (bench/floor.py, mounted only with BENCH_FLOOR=1).

The load client runs in its own process (bench/load.py). Results are printed with their
ratios to the floor and appended to bench/RESULTS.md with the machine and the date.

    .venv/bin/python bench/dispense.py [--seconds 5] [--rounds 3] [--no-record]

Needs PostgreSQL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/liangfei_bench);
the database named there is dropped and recreated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/liangfei_bench"
MOVEMENTS = 100_000


def env() -> dict:
    e = dict(os.environ)
    e.setdefault("DATABASE_URL", DEFAULT_URL)
    e.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop")
    e.update({"DEBUG": "0", "SECURE_SSL_REDIRECT": "0", "BENCH_FLOOR": "1", "ALLOWED_HOSTS": "127.0.0.1,localhost",
              "DJANGO_SETTINGS_MODULE": "backend.settings", "LOG_LEVEL": "ERROR"})
    return e


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare(demo=None) -> dict:
    """Demo registry (made here unless given), a dispensing position with plenty of stock, a
    holder with 100k movements."""
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from backend.demo import seed_registry
    from inventory import services
    from inventory.demo import _products
    from inventory.models import Intake, StockMovement, StockPosition

    demo = demo or seed_registry()
    products = _products()
    clerk = demo.wholesaler_users[demo.wholesalers[0].pk][0]
    pharmacist = demo.pharmacist_users[demo.approved[0].pk][0]
    physician = demo.physicians[demo.approved[0].pk][0]
    today = timezone.localdate()
    batch = services.batch_get_or_create(product=products["mife25"], lot_number="BENCH-1",
                                         expiry_printed=(today + dt.timedelta(days=700)).strftime("%y%m00"))
    services.intake_record(actor=clerk, batch=batch, quantity=1_000_000, invoice_number="BENCH",
                           supplier_name="bench")
    shipment = services.shipment_create(actor=clerk, recipient=demo.approved[0],
                                        lines=[{"batch": batch, "quantity": 1_000_000}])
    services.shipment_dispatch(actor=clerk, shipment=shipment)
    services.shipment_receive(actor=pharmacist, shipment=shipment)

    # The second wholesaler: 100,000 movements over 50 batches (bulk: set-up only).
    heavy = demo.wholesalers[1]
    heavy_clerk = demo.wholesaler_users[heavy.pk][0]
    batches = [services.batch_get_or_create(product=products["miso"], lot_number=f"BENCH-H{i:02d}",
                                            expiry_printed=(today + dt.timedelta(days=400 + i)).strftime("%y%m%d"))
               for i in range(50)]
    now = timezone.now()
    with transaction.atomic():
        rows, totals = [], {}
        for b in batches:
            intake = Intake.objects.create(wholesaler=heavy, supplier_name="bench", batch=b, quantity=1,
                                           invoice_number="BENCH-H", received_at=now, recorded_by=heavy_clerk)
            for j in range(MOVEMENTS // len(batches)):
                q = 3 if j % 2 == 0 else -1
                rows.append(StockMovement(holder=heavy, batch=b, quantity=q, kind="intake",
                                          occurred_at=now - dt.timedelta(minutes=MOVEMENTS - len(rows)),
                                          actor=heavy_clerk, intake=intake))
                totals[b.pk] = totals.get(b.pk, 0) + q
        StockMovement.objects.bulk_create(rows, batch_size=5000)
        StockPosition.objects.bulk_create([StockPosition(holder=heavy, batch_id=pk, quantity=q)
                                           for pk, q in totals.items()])
    body = {"patient_name": "陈小红", "patient_age": 28, "patient_address": "衡阳县西渡镇", "birth_permit": "holds",
            "children_count": 1, "pregnancy_status": "宫内早孕", "gestational_weeks": 7, "batch": batch.pk,
            "quantity": 1, "dose": "25 mg", "prescription_number": "RX-BENCH", "physician": physician.pk}
    return {
        "pharmacist": Token.objects.get_or_create(user=pharmacist)[0].key,
        "heavy_clerk": Token.objects.get_or_create(user=heavy_clerk)[0].key,
        "floor_pk": demo.approved[0].pk,
        "heavy": heavy.pk,
        "dispense_body": body,
        "movements": StockMovement.objects.filter(holder=heavy).count(),
    }


def vacuum_analyze(url: str) -> None:
    """VACUUM ANALYZE the fresh database before measuring: otherwise autovacuum wakes up on
    the set-up's bulk inserts in the middle of a case and takes a CPU from it."""
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def prepared_statements() -> str:
    """The server's prepared-statement setting, as backend/settings.py reads it."""
    from django.db import connection

    from backend import fastsql

    return "1" if fastsql.prepares(connection) else "0"


def fresh_database(e: dict) -> None:
    """The database DATABASE_URL names, dropped, created and migrated."""
    recreate_database(e["DATABASE_URL"])
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=e, check=True)


def start_gunicorn(e: dict) -> tuple[subprocess.Popen, str]:
    """gunicorn with 2 sync workers on a free port: (the process, its base URL)."""
    port = free_port()
    server = subprocess.Popen([str(Path(PY).parent / "gunicorn"), "backend.wsgi", "-w", "2", "-b",
                               f"127.0.0.1:{port}", "--log-level", "warning"], cwd=ROOT, env=e)
    return server, f"http://127.0.0.1:{port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, token: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            req = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url}")


def load(url, token, concurrency, seconds, method="GET", body=None) -> dict:
    cmd = [PY, str(ROOT / "bench" / "load.py"), url, "--token", token, "--concurrency", str(concurrency),
           "--seconds", str(seconds), "--method", method]
    if body is not None:
        cmd += ["--body", json.dumps(body)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def load_rounds(case_runs: list[tuple], concurrency: int, seconds: float, rounds: int) -> dict:
    """Each case `rounds` times, interleaved (floor, case A, case B, floor, ...), so that a
    slow spell of the shared machine hits every case alike; per case the median round
    (by req/s) is kept, with the statuses of all rounds. `case_runs`: (name, url, token,
    method, body)."""
    runs: dict = {name: [] for name, *_ in case_runs}
    for _ in range(rounds):
        for name, url, token, method, body in case_runs:
            runs[name].append(load(url, token, concurrency, seconds, method, body))
    results = {}
    for name, rs in runs.items():
        rs = sorted(rs, key=lambda r: r["rps"])
        median = dict(rs[len(rs) // 2])
        statuses: dict = {}
        for r in rs:
            for k, v in r["statuses"].items():
                statuses[k] = statuses.get(k, 0) + v
        median["statuses"] = statuses
        median["rounds_rps"] = [round(r["rps"], 1) for r in runs[name]]
        results[name] = median
    return results


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} × {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="per case and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case; the median is kept")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    e = env()
    if not e["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        print("bench/dispense.py needs PostgreSQL (DATABASE_URL=postgres://...); skipped.")
        return
    os.environ.update(e)
    fresh_database(e)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    data = prepare()
    print(f"set-up: demo registry, 1,000,000 units at the dispensing position, {data['movements']:,} movements "
          f"for the heavy holder ({time.perf_counter() - t0:.1f} s)")
    from django.db import connection

    pg_version = connection.cursor().connection.info.server_version
    connection.close()
    vacuum_analyze(e["DATABASE_URL"])

    server, base = start_gunicorn(e)
    try:
        floor_url = f"{base}/api/bench/floor/{data['floor_pk']}/"
        wait_for(floor_url, data["pharmacist"])
        today = dt.date.today().isoformat()
        cases = [
            ("floor", floor_url, data["pharmacist"], "GET", None),
            ("dispense", f"{base}/api/dispenses/", data["pharmacist"], "POST", data["dispense_body"]),
            ("balances", f"{base}/api/stock/balances/?holder={data['heavy']}", data["heavy_clerk"], "GET", None),
            ("balances as_of (ledger sum)", f"{base}/api/stock/balances/?holder={data['heavy']}&as_of={today}",
             data["heavy_clerk"], "GET", None),
        ]
        for _name, url, token, method, body in cases:  # warm up
            load(url, token, 2, 1.0, method, body)
        results = {}
        for concurrency in (1, 8):
            for name, r in load_rounds(cases, concurrency, args.seconds, args.rounds).items():
                results[(name, concurrency)] = r
                print(f"  {name:<28} c={concurrency}: {r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                      f"p99 {r['p99_ms']:7.1f} ms  statuses {r['statuses']}  rounds {r['rounds_rps']}", flush=True)
    finally:
        server.terminate()
        server.wait(10)

    lines = []
    for concurrency in (1, 8):
        floor = results[("floor", concurrency)]
        for name, _url, _t, _m, _b in cases:
            r = results[(name, concurrency)]
            lines.append(f"| {name} | {concurrency} | {r['rps']:.1f} | {r['rps'] / floor['rps']:.2f}× | "
                         f"{r['p50_ms']:.1f} | {r['p50_ms'] / floor['p50_ms']:.2f}× | {r['p99_ms']:.1f} | "
                         f"{', '.join(f'{k}: {v}' for k, v in sorted(r['statuses'].items()))} |")
    d8, f8 = results[("dispense", 8)], results[("floor", 8)]
    b1, f1 = results[("balances", 1)], results[("floor", 1)]
    errors = sum(v for k, v in d8["statuses"].items() if k != "201")
    verdict = [
        f"- dispense at concurrency 8: {d8['rps'] / f8['rps']:.2f}× the floor's req/s (target ≥ 0.5×), "
        f"{errors} non-201 answers (target 0): {'met' if d8['rps'] >= 0.5 * f8['rps'] and not errors else 'NOT met'}",
        f"- balances p50 at concurrency 1: {b1['p50_ms'] / f1['p50_ms']:.2f}× the floor's (target ≤ 2×): "
        f"{'met' if b1['p50_ms'] <= 2 * f1['p50_ms'] else 'NOT met'}",
    ]
    table = "\n".join([
        "| endpoint | concurrency | req/s | vs floor | p50 ms | vs floor | p99 ms | statuses |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |", *lines])
    print()
    print(table)
    print("\n".join(verdict))
    if not args.no_record:
        section = "\n".join([
            f"## Drug chain (bench/dispense.py), {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
            "",
            f"Machine: {machine()}; PostgreSQL {pg_version // 10000}.{pg_version % 100}; gunicorn, 2 sync "
            f"workers; load client bench/load.py in its own process, {args.rounds} interleaved rounds of "
            f"{args.seconds:.0f} s per case (the median round is shown), a new connection per request; "
            f"VACUUM ANALYZE after the set-up; DB_PREPARED_STATEMENTS={prepared_statements()}. Heavy holder: {data['movements']:,} movements over 50 batches. "
            f"Load average before the run: {load_before[0]:.1f} (other processes share the CPUs; absolute "
            f"figures drift with it, ratios less so).",
            "",
            table,
            "",
            *verdict,
            "",
        ])
        path = ROOT / "bench" / "RESULTS.md"
        existing = path.read_text() if path.exists() else "# Benchmark results\n\n"
        path.write_text(existing.rstrip() + "\n\n" + section)
        print(f"recorded in {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

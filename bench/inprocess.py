"""Where a request's time goes, without HTTP: the floor, a dispense, a scan lookup and the
balances list through `django.test.Client` in this process, on PostgreSQL.

For each: the SQL statements Django sends per request (BEGIN and COMMIT included; the
connection health check, which bypasses Django's cursor, not), the wall time and this
process's CPU time per request (best and median of 7 chunks, the endpoints' chunks
interleaved), and the ratio of each to the floor's. The HTTP figures the targets name come from bench/dispense.py and bench/scan.py;
these say which part of a request costs what (Python or database round trips).

    .venv/bin/python bench/inprocess.py [--requests 1400]

Needs PostgreSQL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/liangfei_bench_inprocess);
the database named there is dropped and recreated. Prints only (nothing is recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/liangfei_bench_inprocess")

from bench import dispense, scan  # noqa: E402

CHUNKS = 7


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1400, help="per endpoint, in 7 chunks")
    parser.add_argument("--profile", choices=["floor", "dispense", "scan lookup", "balances"],
                        help="instead of timing: cProfile this endpoint over --requests requests and print "
                             "the functions with the most own time and the most cumulative time")
    parser.add_argument("--statements", choices=["floor", "dispense", "scan lookup", "balances"],
                        help="instead of timing: each SQL statement of this endpoint with its median time "
                             "over --requests requests")
    parser.add_argument("--prepared-ab", action="store_true",
                        help="instead of timing: floor, dispense and scan lookup with backend.fastsql's "
                             "statements prepared and not, interleaved in one process (9 chunks of 150 each)")
    args = parser.parse_args()
    e = dispense.env()
    if not e["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        print("bench/inprocess.py needs PostgreSQL (DATABASE_URL=postgres://...); skipped.")
        return
    e["ALLOWED_HOSTS"] = "testserver"
    os.environ.update(e)
    dispense.fresh_database(e)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from backend.demo import seed_registry

    demo = seed_registry()
    data = dispense.prepare(demo)
    scan_data = scan.prepare(demo)
    connection.close()
    dispense.vacuum_analyze(e["DATABASE_URL"])

    client = Client()
    body = json.dumps(data["dispense_body"])
    code = json.dumps({"code": scan_data["code"]})
    cases = {
        "floor": lambda: client.get(f"/api/bench/floor/{data['floor_pk']}/",
                                    HTTP_AUTHORIZATION=f"Token {data['pharmacist']}"),
        "dispense": lambda: client.post("/api/dispenses/", body, content_type="application/json",
                                        HTTP_AUTHORIZATION=f"Token {data['pharmacist']}"),
        "scan lookup": lambda: client.post("/api/scan/", code, content_type="application/json",
                                           HTTP_AUTHORIZATION=f"Token {scan_data['pharmacist']}"),
        "balances": lambda: client.get(f"/api/stock/balances/?holder={data['heavy']}",
                                       HTTP_AUTHORIZATION=f"Token {data['heavy_clerk']}"),
    }
    expected = {"floor": 200, "dispense": 201, "scan lookup": 200, "balances": 200}
    if args.profile:
        profile(cases[args.profile], expected[args.profile], args.requests)
        return
    if args.statements:
        statement_times(cases[args.statements], args.requests)
        return
    if args.prepared_ab:
        prepared_ab(connection, cases)
        return
    per_chunk = max(1, args.requests // CHUNKS)
    statements, chunks = {}, {name: [] for name in cases}
    for name, request in cases.items():
        for _ in range(20):  # warm up
            response = request()
        if response.status_code != expected[name]:
            raise SystemExit(f"{name}: HTTP {response.status_code} {response.content[:300]!r}")
        connection.queries_log.clear()  # the request clears it too (request_started): count from empty
        with CaptureQueriesContext(connection) as queries:
            request()
        statements[name] = len(queries)  # now: the log is a window that later requests clear
    for _ in range(CHUNKS):  # interleaved, so that a slow spell of the machine hits every endpoint
        for name, request in cases.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(per_chunk):
                request()
            chunks[name].append(((time.perf_counter() - wall) / per_chunk * 1e3,
                                 (time.process_time() - cpu) / per_chunk * 1e3))
    results = {}
    for name, runs in chunks.items():
        runs.sort()
        results[name] = {"statements": statements[name], "best_ms": runs[0][0], "median_ms": runs[CHUNKS // 2][0],
                         "cpu_ms": min(r[1] for r in runs)}
    floor = results["floor"]
    print(f"\n{per_chunk * CHUNKS} requests per endpoint, {CHUNKS} chunks; {dispense.machine()}")
    print("| endpoint | SQL statements | wall ms (best) | vs floor | wall ms (median) | Python CPU ms | vs floor |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['statements']} | {r['best_ms']:.2f} | {r['best_ms'] / floor['best_ms']:.2f}× | "
              f"{r['median_ms']:.2f} | {r['cpu_ms']:.2f} | {r['cpu_ms'] / floor['cpu_ms']:.2f}× |")


def prepared_ab(connection, cases) -> None:
    """DB_PREPARED_STATEMENTS on and off in one process, chunks interleaved so that a slow
    spell of the machine hits both alike: fastsql.cursor() reads the setting on every call."""
    from backend import fastsql

    if not fastsql.prepares(connection):
        raise SystemExit("--prepared-ab needs PostgreSQL with DB_PREPARED_STATEMENTS=1")
    options = connection.settings_dict["OPTIONS"]
    threshold = options["prepare_threshold"]
    print("endpoint | prepared | wall ms (median, best) | Python CPU ms (median, best)")
    for name in ("floor", "dispense", "scan lookup"):
        request = cases[name]
        for _ in range(30):  # warm up
            request()
        runs: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
        for _ in range(9):
            for mode in runs:
                if mode == "off":
                    options.pop("prepare_threshold", None)
                else:
                    options["prepare_threshold"] = threshold
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(150):
                    request()
                runs[mode].append(((time.perf_counter() - wall) / 150 * 1e3, (time.process_time() - cpu) / 150 * 1e3))
        for mode, rs in runs.items():
            walls, cpus = sorted(r[0] for r in rs), sorted(r[1] for r in rs)
            print(f"{name} | {mode} | {walls[4]:.2f}, {walls[0]:.2f} | {cpus[4]:.2f}, {cpus[0]:.2f}", flush=True)


def statement_times(request, requests: int) -> None:
    from statistics import median

    from django.db import connection

    captured: list[tuple[str, float]] = []

    def timed(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            captured.append((sql, (time.perf_counter() - t0) * 1e3))

    for _ in range(20):  # warm up
        request()
    times: dict[int, list[float]] = {}
    sqls: dict[int, str] = {}
    with connection.execute_wrapper(timed):
        for _ in range(requests):
            captured.clear()
            request()
            for i, (sql, ms) in enumerate(captured):
                times.setdefault(i, []).append(ms)
                sqls[i] = sql
    for i in sorted(times):
        print(f"{median(times[i]):7.3f} ms  {' '.join(sqls[i].split())[:150]}")
    print(f"{sum(median(t) for t in times.values()):7.3f} ms in all (medians; BEGIN and COMMIT are not "
          "statements Django's cursor sends, so they are not here)")


def profile(request, expected: int, requests: int) -> None:
    import cProfile
    import pstats

    for _ in range(20):  # warm up
        response = request()
    if response.status_code != expected:
        raise SystemExit(f"HTTP {response.status_code} {response.content[:300]!r}")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        request()
    profiler.disable()
    if os.environ.get("PROFILE_OUT"):
        profiler.dump_stats(os.environ["PROFILE_OUT"])
    stats = pstats.Stats(profiler).strip_dirs()
    print(f"\n{requests} requests; own time:")
    stats.sort_stats("tottime").print_stats(30)
    print("cumulative time:")
    stats.sort_stats("cumulative").print_stats(60)


if __name__ == "__main__":
    main()

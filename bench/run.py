"""Run the benchmarks in bench/, one after another, each in its own process, on PostgreSQL.

    .venv/bin/python bench/run.py                      # all of them, in the order below
    .venv/bin/python bench/run.py scan dispense        # some, by name
    make bench BENCH="scan dispense"                   # the same through make
    .venv/bin/python bench/run.py dispense audit_trail --arg dispense='--seconds 5' --arg audit_trail=100000
    .venv/bin/python bench/run.py --list

| name | script | database | arguments (see each script's docstring) |
| --- | --- | --- | --- |
| dispense | bench/dispense.py | liangfei_bench (dropped, recreated) | --seconds N, --rounds N, --no-record |
| scan | bench/scan.py | liangfei_bench_scan (dropped, recreated) | --seconds N, --rounds N, --repeat N, --no-record |
| inprocess | bench/inprocess.py | liangfei_bench_inprocess (dropped, recreated) | --requests N, --statements NAME, --profile NAME, --prepared-ab |
| cpushare | bench/cpushare.py | liangfei_bench_cpu (dropped, recreated) | --seconds N, --rounds N |
| decode | bench/decode.py | none | --repeat N, --corpus DIR, -v |
| devices | bench/devices.py | bench_devices (dropped, recreated here) | N devices (default 1000) |
| reconciliation | bench/reconciliation.py | bench_reconciliation (its own) | --reuse, --keep |
| audit_trail | bench/audit_trail.py | bench_audit (its own) | N entries (default 1,000,000) |

Each script prints its own figures; dispense and scan also append them to bench/RESULTS.md
unless told --no-record, and reconciliation always does. Every script gets its own database on the
PostgreSQL server named by BENCH_PG (default postgres://postgres@127.0.0.1:5432); a
DATABASE_URL in the environment is not passed on, so no two benchmarks share a database
and none touches a development one. Exit status: 0 if every selected benchmark exited 0.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")

# name -> (script, database URL to pass as DATABASE_URL, or None to let the script choose)
BENCHES: dict[str, tuple[str, str | None]] = {
    "dispense": ("dispense.py", f"{PG}/liangfei_bench"),
    "scan": ("scan.py", f"{PG}/liangfei_bench_scan"),
    "inprocess": ("inprocess.py", f"{PG}/liangfei_bench_inprocess"),
    "cpushare": ("cpushare.py", f"{PG}/liangfei_bench_cpu"),
    "decode": ("decode.py", None),
    "devices": ("devices.py", f"{PG}/bench_devices"),
    "reconciliation": ("reconciliation.py", None),  # always its own bench_reconciliation
    "audit_trail": ("audit_trail.py", None),  # creates and drops bench_audit when DATABASE_URL is unset
}
RECREATE = {"devices"}  # databases this runner drops and creates (the others do it themselves)


def recreate(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres".replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(BENCHES)}")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=ARGS",
                        help="arguments for one benchmark, e.g. dispense='--seconds 5' (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args()
    if args.list:
        for name, (script, url) in BENCHES.items():
            where = "(no database)" if name == "decode" else url or "(its own database)"
            print(f"{name:<16} bench/{script:<20} {where}")
        return 0
    names = [n for chunk in args.names for n in chunk.replace(",", " ").split()] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    extra: dict[str, list[str]] = {}
    for item in args.arg:
        name, _sep, value = item.partition("=")
        if name not in BENCHES:
            parser.error(f"--arg {item!r}: unknown benchmark {name!r}")
        extra.setdefault(name, []).extend(shlex.split(value))

    failed = []
    for name in names:
        script, url = BENCHES[name]
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        if url is not None:
            env["DATABASE_URL"] = url
            if name in RECREATE:
                recreate(url)
        cmd = [PY, str(ROOT / "bench" / script), *extra.get(name, [])]
        print(f"\n=== {name}: {' '.join(shlex.quote(c) for c in cmd[1:])}"
              f"{f' (DATABASE_URL={url})' if url else ''}", flush=True)
        started = time.perf_counter()
        code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        print(f"=== {name}: exit {code}, {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where the machine's CPU goes per request, through HTTP under gunicorn (2 sync workers) on
PostgreSQL: the floor and a dispense at concurrency 8, each process group's CPU time (the
gunicorn workers, the PostgreSQL backends, the load client, anything else) per request, read
from /proc before and after each run (the load client's from this process's reaped children).

The targets compare req/s with the floor's; on a CPU-bound machine req/s is the inverse of
the CPU a request costs all processes together, so this says which process a missing
fraction has to come from. Prints only (nothing recorded); Linux only.

    .venv/bin/python bench/cpushare.py [--seconds 6] [--rounds 2]

Needs PostgreSQL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/liangfei_bench_cpu);
the database named there is dropped and recreated.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/liangfei_bench_cpu")

from bench import dispense  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_group() -> dict[str, float]:
    """CPU seconds (user + system) of every live process, summed by group."""
    groups: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / TICKS
        group = "gunicorn" if "gunicorn" in cmdline else "postgres" if name.startswith("postgres") else "other"
        groups[group] = groups.get(group, 0.0) + seconds
    return groups


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    e = dispense.env()
    if not e["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        print("bench/cpushare.py needs PostgreSQL (DATABASE_URL=postgres://...); skipped.")
        return
    os.environ.update(e)
    dispense.fresh_database(e)
    data = dispense.prepare()
    from django.db import connection

    connection.close()
    dispense.vacuum_analyze(e["DATABASE_URL"])
    server, base = dispense.start_gunicorn(e)
    try:
        floor_url = f"{base}/api/bench/floor/{data['floor_pk']}/"
        dispense.wait_for(floor_url, data["pharmacist"])
        cases = [("floor", floor_url, "GET", None),
                 ("dispense", f"{base}/api/dispenses/", "POST", data["dispense_body"])]
        for _name, url, method, body in cases:  # warm up
            dispense.load(url, data["pharmacist"], 2, 1.0, method, body)
        print(f"{dispense.machine()}; DB_PREPARED_STATEMENTS={dispense.prepared_statements()}; concurrency 8, "
              f"{args.seconds:.0f} s per run; CPU ms per request by process group")
        for _ in range(args.rounds):
            for name, url, method, body in cases:
                before, children = cpu_by_group(), os.times()
                r = dispense.load(url, data["pharmacist"], 8, args.seconds, method, body)
                after, children_after = cpu_by_group(), os.times()
                n = r["requests"]
                share = {g: (after.get(g, 0.0) - before.get(g, 0.0)) / n * 1e3 for g in after}
                # The load client has exited by now: its time is this process's reaped children's.
                share["load client"] = ((children_after.children_user + children_after.children_system)
                                        - (children.children_user + children.children_system)) / n * 1e3
                total = sum(share.values())
                parts = "  ".join(f"{g} {share.get(g, 0.0):5.2f}" for g in ("gunicorn", "postgres", "load client", "other"))
                print(f"  {name:<9} {r['rps']:7.1f} req/s  {parts}  all {total:5.2f} ms; "
                      f"2 cores / req/s = {2000 / r['rps']:5.2f} ms  statuses {r['statuses']}", flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()

"""A small HTTP load client, run in its own process by bench/dispense.py so that it does not
share a GIL with anything it measures.

    python bench/load.py URL --token T [--method POST --body JSON] --concurrency 8 --seconds 10

Prints one JSON line: requests, statuses, elapsed, req/s, p50/p99 latency (ms)."""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--token", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default=None)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    parts = urlsplit(args.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    body = args.body.encode() if args.body else None
    headers = {"Authorization": f"Token {args.token}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def worker():
        local_lat, local_status = [], Counter()
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                conn.request(args.method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
            except OSError as exc:
                status = f"error {type(exc).__name__}"
            local_lat.append(time.perf_counter() - t0)
            local_status[status] += 1
        with lock:
            latencies.extend(local_lat)
            statuses.update(local_status)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e3 if latencies else None

    print(json.dumps({"requests": len(latencies), "statuses": {str(k): v for k, v in statuses.items()},
                      "elapsed": elapsed, "rps": len(latencies) / elapsed, "p50_ms": pct(50), "p99_ms": pct(99)}))


if __name__ == "__main__":
    main()

"""Scan endpoint figures through HTTP under gunicorn (2 sync workers) on PostgreSQL:

- POST /api/scan/ lookup of a GS1 batch code (the pharmacist's own stock: product, batch,
  balance, flags, and the scan log row it writes) at concurrency 1 and 8, next to the floor
  measured in the same run (bench/floor.py: a bare authenticated DRF endpoint reading one
  row by primary key, mounted only with BENCH_FLOOR=1);
- photo decode: per corpus image, ms through POST /api/scan/ (multipart upload: the shared
  upload pipeline, decoding, lookups, the log) vs `pyzbar.decode` called directly on the same
  image already opened; medians of --repeat runs, then the mean over the images.

The harness is bench/dispense.py's (database, gunicorn, the load client bench/load.py in its
own process). Figures are printed with their ratios and appended to bench/RESULTS.md.

    .venv/bin/python bench/scan.py [--seconds 5] [--rounds 3] [--repeat 3] [--no-record]

Needs PostgreSQL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/liangfei_bench_scan);
the database named there is dropped and recreated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/liangfei_bench_scan")

from bench.dispense import (  # noqa: E402
    env,
    fresh_database,
    load,
    load_rounds,
    machine,
    prepared_statements,
    start_gunicorn,
    vacuum_analyze,
    wait_for,
)

CORPUS = Path(os.environ.get("SHARED_CORPUS") or ROOT.parent / "shared" / "corpus" / "barcodes")


def prepare(demo=None) -> dict:
    """Demo registry (or the one given: bench/inprocess.py shares bench/dispense.py's); a
    product with a GTIN, a batch held by an approved hospital."""
    import django

    django.setup()
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from backend.demo import seed_registry
    from inventory import services
    from inventory.models import DrugProduct
    from scanning import codec

    demo = demo or seed_registry()
    hospital = demo.approved[0]
    clerk = demo.wholesaler_users[demo.wholesalers[0].pk][0]
    pharmacist = demo.pharmacist_users[hospital.pk][0]
    body = "0690123456789"
    gtin = body + str(codec.gtin_check_digit(body))
    product = DrugProduct.objects.create(generic_name="米非司酮片", strength="25 mg (bench)", form="tablet",
                                         pack_size=6, counting_unit="片", manufacturer="bench", gtins=[gtin])
    expiry = (timezone.localdate() + dt.timedelta(days=700)).strftime("%y%m00")
    batch = services.batch_get_or_create(product=product, lot_number="BENCH-S1", expiry_printed=expiry)
    services.intake_record(actor=clerk, batch=batch, quantity=1000, invoice_number="BENCH", supplier_name="bench")
    shipment = services.shipment_create(actor=clerk, recipient=hospital, lines=[{"batch": batch, "quantity": 1000}])
    services.shipment_dispatch(actor=clerk, shipment=shipment)
    services.shipment_receive(actor=pharmacist, shipment=shipment)
    return {
        "pharmacist": Token.objects.get_or_create(user=pharmacist)[0].key,
        "inspector": Token.objects.get_or_create(user=demo.inspector_user)[0].key,
        "floor_pk": hospital.pk,
        "code": "]C1" + codec.render_gs1(gtin, expiry, "BENCH-S1") + "\r\n",
    }


def multipart(path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    kind = {"png": "image/png", "webp": "image/webp"}.get(path.suffix.lstrip("."), "image/jpeg")
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nlookup\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: {kind}\r\n\r\n").encode()
    return head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def endpoint_ms(port: int, token: str, path: Path, repeat: int) -> tuple[float, int, int]:
    body, content_type = multipart(path)
    times, status, found = [], 0, 0
    for _ in range(repeat):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.perf_counter()
        conn.request("POST", "/api/scan/", body=body, headers={
            "Authorization": f"Token {token}", "Content-Type": content_type, "Accept": "application/json"})
        response = conn.getresponse()
        data = response.read()
        times.append((time.perf_counter() - t0) * 1000)
        conn.close()
        status = response.status
        if status == 200:
            found = len(json.loads(data)["codes"])
    return statistics.median(times), status, found


def pyzbar_ms(path: Path, repeat: int) -> tuple[float, int]:
    from PIL import Image
    from pyzbar import pyzbar

    with Image.open(path) as image:
        image.load()
        pyzbar.decode(image)  # warm up
        times, found = [], 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            found = len(pyzbar.decode(image))
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), found


def pyzbar_file_ms(path: Path, repeat: int) -> float:
    """pyzbar as a caller holding the uploaded file would use it: open the bytes, decode
    the pixels, `pyzbar.decode` (what the endpoint must do at least, before HTTP)."""
    import io

    from PIL import Image
    from pyzbar import pyzbar

    data = path.read_bytes()
    times = []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            pyzbar.decode(image)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[1:])


def in_process_ms(path: Path, repeat: int) -> tuple[float, float]:
    """The endpoint's two big steps without HTTP, as scanning.api runs them: the shared
    upload pipeline's checks (backend.uploads.check_image: type by the bytes, size, pixels,
    full decode, EXIF turn; a scan photo is not re-encoded nor stored) and decode_image on
    the image those checks decoded."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from backend.uploads import check_image
    from scanning.api import PHOTO_MAX_SIDE
    from scanning.decode import decode_image

    data = path.read_bytes()
    prep, dec = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        checked = check_image(SimpleUploadedFile(path.name, data))
        t1 = time.perf_counter()
        decode_image(checked.image, max_side=PHOTO_MAX_SIDE)
        t2 = time.perf_counter()
        prep.append((t1 - t0) * 1000)
        dec.append((t2 - t1) * 1000)
    return statistics.median(prep), statistics.median(dec)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="per case and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case; the median is kept")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    e = env()
    if not e["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        print("bench/scan.py needs PostgreSQL (DATABASE_URL=postgres://...); skipped.")
        return
    os.environ.update(e)
    fresh_database(e)
    data = prepare()
    from django.db import connection

    pg_version = connection.cursor().connection.info.server_version
    connection.close()
    vacuum_analyze(e["DATABASE_URL"])
    images = sorted(p for p in CORPUS.glob("*/*") if p.suffix in (".png", ".webp", ".jpg", ".jpeg"))

    server, base = start_gunicorn(e)
    port = int(base.rsplit(":", 1)[1])
    results, photos = {}, []
    try:
        floor_url = f"{base}/api/bench/floor/{data['floor_pk']}/"
        wait_for(floor_url, data["pharmacist"])
        cases = [
            ("floor", floor_url, "GET", None),
            ("scan lookup", f"{base}/api/scan/", "POST", {"code": data["code"], "action": "lookup"}),
        ]
        for _name, url, method, body in cases:  # warm up
            load(url, data["pharmacist"], 2, 1.0, method, body)
        for concurrency in (1, 8):
            runs = [(name, url, data["pharmacist"], method, body) for name, url, method, body in cases]
            for name, r in load_rounds(runs, concurrency, args.seconds, args.rounds).items():
                results[(name, concurrency)] = r
                print(f"  {name:<12} c={concurrency}: {r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                      f"p99 {r['p99_ms']:7.1f} ms  statuses {r['statuses']}  rounds {r['rounds_rps']}", flush=True)
        for path in images:
            endpoint_ms(port, data["inspector"], path, 1)  # warm up this worker's decoders
            ms, status, found = endpoint_ms(port, data["inspector"], path, args.repeat)
            direct, direct_found = pyzbar_ms(path, args.repeat)
            prep, dec = in_process_ms(path, args.repeat)
            photos.append({"pipeline_ms": prep, "decode_ms": dec, "image": str(path.relative_to(CORPUS)),
                           "endpoint_ms": ms, "status": status, "found": found, "pyzbar_ms": direct,
                           "pyzbar_file_ms": pyzbar_file_ms(path, args.repeat), "pyzbar_found": direct_found,
                           "bytes": path.stat().st_size})
    finally:
        server.terminate()
        server.wait(10)

    lines = []
    for concurrency in (1, 8):
        floor = results[("floor", concurrency)]
        for name, _url, _m, _b in cases:
            r = results[(name, concurrency)]
            lines.append(f"| {name} | {concurrency} | {r['rps']:.1f} | {r['rps'] / floor['rps']:.2f}× | "
                         f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['p99_ms'] / floor['p99_ms']:.2f}× | "
                         f"{', '.join(f'{k}: {v}' for k, v in sorted(r['statuses'].items()))} |")
    s8, f8 = results[("scan lookup", 8)], results[("floor", 8)]
    mean_endpoint = statistics.fmean(p["endpoint_ms"] for p in photos)
    mean_direct = statistics.fmean(p["pyzbar_ms"] for p in photos)
    mean_file = statistics.fmean(p["pyzbar_file_ms"] for p in photos)
    both = [p for p in photos if p["pyzbar_found"]]
    mean_endpoint_read = statistics.fmean(p["endpoint_ms"] for p in both) if both else float("nan")
    mean_direct_read = statistics.fmean(p["pyzbar_ms"] for p in both) if both else float("nan")
    statuses = sorted({p["status"] for p in photos})
    verdict = [
        f"- scan lookup at concurrency 8: {s8['rps'] / f8['rps']:.2f}× the floor's req/s (target ≥ 0.7×): "
        f"{'met' if s8['rps'] >= 0.7 * f8['rps'] else 'NOT met'}; p99 {s8['p99_ms'] / f8['p99_ms']:.2f}× the "
        f"floor's (target ≤ 2×): {'met' if s8['p99_ms'] <= 2 * f8['p99_ms'] else 'NOT met'}",
        f"- photo decode, {len(photos)} corpus images (statuses {statuses}): {mean_endpoint:.1f} ms per image "
        f"through the endpoint vs {mean_direct:.1f} ms for pyzbar directly: overhead "
        f"{(mean_endpoint / mean_direct - 1) * 100:+.0f}% (target ≤ +15%): "
        f"{'met' if mean_endpoint <= 1.15 * mean_direct else 'NOT met'}",
        f"- the same against pyzbar from the file's bytes (open, decode the pixels, pyzbar.decode: "
        f"{mean_file:.1f} ms): overhead {(mean_endpoint / mean_file - 1) * 100:+.0f}%; the floor's own p50 at "
        f"concurrency 1 (HTTP + auth, no image) is {results[('floor', 1)]['p50_ms']:.1f} ms",
        f"- the {len(both)} images pyzbar reads by itself: {mean_endpoint_read:.1f} ms through the endpoint vs "
        f"{mean_direct_read:.1f} ms pyzbar directly ({(mean_endpoint_read / mean_direct_read - 1) * 100:+.0f}%)",
        f"- where the endpoint's time goes (in process, no HTTP): upload pipeline "
        f"{statistics.fmean(p['pipeline_ms'] for p in photos):.1f} ms, decode_image "
        f"{statistics.fmean(p['decode_ms'] for p in photos):.1f} ms per image; the rest (HTTP, auth, lookups, "
        f"log rows) {mean_endpoint - statistics.fmean(p['pipeline_ms'] + p['decode_ms'] for p in photos):.1f} ms",
        f"- codes found: endpoint {sum(p['found'] for p in photos)}, pyzbar directly "
        f"{sum(p['pyzbar_found'] for p in photos)}",
    ]
    table = "\n".join([
        "| endpoint | concurrency | req/s | vs floor | p50 ms | p99 ms | p99 vs floor | statuses |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |", *lines])
    print()
    print(table)
    print("\n".join(verdict))
    slowest = sorted(photos, key=lambda p: p["endpoint_ms"] - p["pyzbar_ms"], reverse=True)[:5]
    print("largest endpoint - pyzbar gaps: " + "; ".join(
        f"{p['image']} {p['endpoint_ms']:.0f} vs {p['pyzbar_ms']:.0f} ms" for p in slowest))
    if not args.no_record:
        section = "\n".join([
            f"## Scan endpoint (bench/scan.py), {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
            "",
            f"Machine: {machine()}; PostgreSQL {pg_version // 10000}.{pg_version % 100}; gunicorn, 2 sync "
            f"workers; load client bench/load.py in its own process, {args.rounds} interleaved rounds of "
            f"{args.seconds:.0f} s per case (the median round is shown), a new connection per request; "
            f"VACUUM ANALYZE after the set-up; DB_PREPARED_STATEMENTS={prepared_statements()}. Lookup: a GS1-128 batch code (]C1, CR/LF) of the pharmacist's own stock; "
            f"every request writes its scan log row. Photos: the {len(photos)} images of the shared corpus, "
            f"median of {args.repeat} requests each, one at a time; pyzbar on the same image already opened "
            f"(and, second figure, from the file's bytes).",
            "",
            table,
            "",
            *verdict,
            "",
        ])
        path = ROOT / "bench" / "RESULTS.md"
        existing = path.read_text() if path.exists() else "# Benchmark results\n\n"
        path.write_text(existing.rstrip() + "\n\n" + section + "\n")
        print(f"recorded in {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Device registry figures: the upload pipeline (refusals and a 12 MP photo), asset labels
(render, decode, smallest scale that still decodes) and the unified register export.

    .venv/bin/python bench/devices.py [N devices for the register, default 1000]

Uses its own SQLite database in a temporary directory unless DATABASE_URL is set.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench_devices_"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP / 'db.sqlite3'}")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ["MEDIA_ROOT"] = str(TMP / "media")


def timed(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def main(n: int) -> None:
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from PIL import Image
    from pyzbar import pyzbar

    from backend.uploads import UploadRefused, prepare_image

    # --- uploads --------------------------------------------------------------------------
    photo = Image.effect_noise((4000, 3000), 40).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (26.0, 53.0, 2.0)}
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=85, exif=exif.tobytes())
    jpeg = buf.getvalue()
    cases = {
        "truncated JPEG (12 MP, half the bytes)": jpeg[: len(jpeg) // 2],
        "PNG claiming 30000x30000": png_claiming(30000, 30000),
        "PDF renamed .jpg": b"%PDF-1.7\n" + b"0" * 100_000,
        "50 MB body": b"\xff\xd8\xff\xe0" + b"\x00" * (50 * 1024 * 1024),
    }
    print("upload pipeline (best of 5, in process):")
    for name, data in cases.items():
        def refuse(data=data):
            try:
                prepare_image(SimpleUploadedFile("x.jpg", data))
            except UploadRefused as exc:
                return exc.code
            raise AssertionError("accepted")
        code = refuse()
        print(f"  refuse {name:<40} {timed(refuse) * 1e3:8.1f} ms  -> {code}")
    ok = timed(lambda: prepare_image(SimpleUploadedFile("x.jpg", jpeg)), repeat=3)
    print(f"  accept 12 MP JPEG ({len(jpeg) / 1e6:.1f} MB): decode, rotate, strip GPS, re-encode, thumb "
          f"{ok * 1e3:8.1f} ms")

    # --- database for labels and register ---------------------------------------------------
    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from inventory.devices import labels, register
    from inventory.devices.models import Device
    from tests.devices.permission_rows import device_record
    from tests.factories import OrganisationFactory, PersonLicenceFactory

    hospital = OrganisationFactory(kind="hospital", licensed=True, name="衡阳县妇幼保健计划生育服务中心")
    t0 = time.perf_counter()
    for _ in range(n):
        device_record(None, hospital)
    for person in hospital.people.all()[:50]:
        PersonLicenceFactory(holder_person=person, kind="physician")
    print(f"\n{n} devices created in {time.perf_counter() - t0:.1f} s")
    device = Device.objects.select_related("holder").first()

    png = labels.render_png(device)
    print("asset label:")
    print(f"  render PNG (200 dpi)   {timed(lambda: labels.render_png(device)) * 1e3:7.1f} ms, {len(png):,} bytes")
    print(f"  render SVG             {timed(lambda: labels.render_svg(device)) * 1e3:7.1f} ms")
    image = Image.open(io.BytesIO(png))
    print(f"  label size             {image.width}x{image.height} px = "
          f"{image.width * 25.4 / 200:.1f}x{image.height * 25.4 / 200:.1f} mm at 200 dpi; "
          f"module {labels.MODULE_PX} px = {labels.MODULE_PX * 25.4 / 200:.3f} mm")
    print(f"  pyzbar decode          {timed(lambda: pyzbar.decode(image)) * 1e3:7.1f} ms "
          f"-> {[d.data.decode() for d in pyzbar.decode(image)]}")
    for scale in (1.0, 0.8, 0.7, 0.6, 0.5, 0.4):
        small = image.resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.LANCZOS)
        ok = [d.data.decode() for d in pyzbar.decode(small)] == [device.asset_tag]
        print(f"  scaled to {scale:.0%} ({labels.MODULE_PX * scale:.1f} px/module): {'decodes' if ok else 'FAILS'}")

    devices = Device.objects.all()
    t_xlsx = timed(lambda: register.to_xlsx(devices), repeat=2)
    t_csv = timed(lambda: register.to_csv(devices), repeat=2)
    print(f"register ({devices.count()} devices): XLSX {t_xlsx:.2f} s ({len(register.to_xlsx(devices)):,} bytes), "
          f"CSV {t_csv:.2f} s")
    print(f"(now {timezone.now():%Y-%m-%d %H:%M}; scratch dir {TMP})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)

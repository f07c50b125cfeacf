"""Helpers for the scan endpoint tests: products with a GTIN, batches with registered pack
codes at the hospital, scanning through HTTP."""

from __future__ import annotations

import io
import itertools

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from inventory import services
from scanning import codec
from scanning.labels import render_png
from tests.inventory.factories import BatchFactory, DrugProductFactory, ship

URL = "/api/scan/"
_gtins = itertools.count(1)


def new_gtin() -> str:
    body = f"0690{next(_gtins) + 12345:09d}"
    return body + str(codec.gtin_check_digit(body))


def gs1_product(**kwargs):
    return DrugProductFactory(gtins=[new_gtin()], **kwargs)


def gs1_batch(**kwargs):
    return BatchFactory(product=kwargs.pop("product", None) or gs1_product(), **kwargs)


def expire(batch):
    """Expired yesterday (expired batches cannot be shipped: stock first, then expire)."""
    import datetime as dt

    from django.utils import timezone

    batch.expiry_date = timezone.localdate() - dt.timedelta(days=1)
    batch.expiry_printed = batch.expiry_date.strftime("%y%m%d")
    batch.save(update_fields=["expiry_date", "expiry_printed"])
    return batch


def gs1_text(batch, serial: str | None = None) -> str:
    """The element string a scanner sends once the leading FNC1 is dropped."""
    return codec.render_gs1(batch.product.gtins[0], batch.expiry_printed, batch.lot_number, serial)


def trace_codes(batch, n: int, start: int = 0) -> list[str]:
    return [f"{batch.product.traceability_product_code}{i:013d}" for i in range(start, start + n)]


def stock_with_packs(county, batch, quantity: int, packs: list[str], *, recipient=None, receive=True):
    """Intake of `quantity` with `packs` registered, then shipped to the hospital (received)."""
    services.intake_record(actor=county.clerk, batch=batch, quantity=quantity, invoice_number="INV-P",
                           supplier_name="测试制药有限公司", pack_codes=packs)
    return ship(county, batch, quantity, recipient=recipient, receive=receive)


def scan(client, code: str | None = None, action: str = "lookup", key: str | None = None, **context):
    body = {"action": action, **context}
    if code is not None:
        body["code"] = code
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(URL, body, format="json", **extra)


def png_of(*texts: str, gs1: tuple[bool, ...] = ()) -> bytes:
    """One PNG with a label per text, stacked."""
    images = []
    for i, text in enumerate(texts):
        with Image.open(io.BytesIO(render_png(text, gs1=gs1[i] if i < len(gs1) else False))) as im:
            images.append(im.convert("L"))
    width = max(im.width for im in images) + 80
    height = sum(im.height for im in images) + 80 * len(images)
    sheet = Image.new("L", (width, height), 255)
    y = 40
    for im in images:
        sheet.paste(im, (40, y))
        y += im.height + 80
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue()


def photo(data: bytes, name: str = "photo.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)

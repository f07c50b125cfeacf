"""Label printing endpoints (issue 5 §3), drawn by the one renderer, `scanning.labels`.

- `GET /api/batches/{id}/label.svg|png`: a batch label. GS1-128 of (01) GTIN (17) expiry
  (10) lot when the product has a GTIN (and the lot fits GS1), else Code 128 of our own
  batch label `BT-<product id>-<lot>`; product, lot and expiry printed under it.
- `GET /api/labels/sheet.html|pdf?batch=<id>&copies=N`: an A4 sheet of N copies of that
  batch's label; `?devices=<id>,<id>,...`: the asset labels of those devices. The HTML is
  print-ready (sizes in mm, `@page A4`); the PDF is the same sheet.

Who may print: whoever may see the stock or the device. A batch's label, the holders of its
stock (present or past: `inventory.selectors.batches_visible`), which includes wholesalers
who took it in, and inspectors and the office of their jurisdiction; a device's label, the
device registry's own visibility (`inventory.devices.selectors.device_list`). Anything else
is 404, the same as a batch or device that does not exist.
"""

from __future__ import annotations

import re

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.views import APIView

from backend.errors import InvalidInput
from inventory import selectors as inventory_selectors
from inventory.devices import labels as device_labels
from inventory.devices import selectors as device_selectors
from inventory.models import Batch
from scanning import codec, labels
from scanning.errors import LabelNotPrintable

MAX_COPIES = 100
MAX_DEVICES = 100
CONTENT_TYPES = {"svg": "image/svg+xml", "png": "image/png", "html": "text/html; charset=utf-8",
                 "pdf": "application/pdf"}


def batch_label_for(batch: Batch) -> labels.Label:
    """The label of `batch`: GS1-128 with the product's first valid GTIN, else our own."""
    product = batch.product
    gtin = next((str(g) for g in product.gtins or [] if codec.gtin_is_valid(str(g))), None)
    # The expiry as printed on the pack when it is GS1's YYMMDD (day 00 stays 00), else the date.
    printed = batch.expiry_printed or ""
    expiry = printed if re.fullmatch(r"\d{6}", printed) else batch.expiry_date
    captions = [f"{product.generic_name} {product.strength}",
                f"批号 {batch.lot_number}  有效期至 {batch.expiry_date:%Y-%m-%d}", product.manufacturer]
    try:
        return labels.batch_label(product_id=product.pk, lot=batch.lot_number, expiry=expiry, gtin=gtin,
                                  caption_lines=[line for line in captions if line])
    except ValueError as exc:
        raise _not_printable(batch.lot_number, exc) from None


def _not_printable(text: str, exc: Exception) -> LabelNotPrintable:
    return LabelNotPrintable(
        _("%(text)s cannot be printed as a barcode that reads back the same: use letters, digits and "
          "punctuation only.") % {"text": text}, details={"reason": str(exc)})


def _render(label: labels.Label, fmt: str) -> bytes:
    render = labels.render_svg if fmt == "svg" else labels.render_png
    try:
        return render(label.text, gs1=label.gs1, caption_lines=label.caption_lines)
    except ValueError as exc:
        raise _not_printable(label.text, exc) from None


def _response(content: bytes | str, fmt: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'inline; filename="{filename}.{fmt}"'
    return response


class BatchLabelView(APIView):
    """`GET /api/batches/{id}/label.svg|png`: the batch label, for those who may see its stock."""

    @extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.STR, (200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request, pk: int, fmt: str):
        batch = get_object_or_404(inventory_selectors.batches_visible(request.user), pk=pk)
        return _response(_render(batch_label_for(batch), fmt), fmt, f"batch-{batch.pk}")


def _positive_int(value: str, param: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise InvalidInput(_("%(p)s is a positive whole number.") % {"p": param}, code="invalid_filter",
                           details={"param": param})
    return int(value)


class LabelSheetView(APIView):
    """`GET /api/labels/sheet.html|pdf`: an A4 sheet of labels, for a batch
    (`batch=<id>&copies=N`, N from 1 to 100, default 1) or for devices (`devices=<id>,<id>`,
    up to 100). Every batch or device named must be one the caller may see (else 404)."""

    @extend_schema(
        parameters=[OpenApiParameter("batch", OpenApiTypes.INT), OpenApiParameter("copies", OpenApiTypes.INT),
                    OpenApiParameter("devices", OpenApiTypes.STR, description="device ids, comma-separated")],
        responses={(200, "text/html"): OpenApiTypes.STR, (200, "application/pdf"): OpenApiTypes.BINARY},
    )
    def get(self, request, fmt: str):
        params = request.query_params
        batch_id, devices = params.get("batch", "").strip(), params.get("devices", "").strip()
        if bool(batch_id) == bool(devices):
            raise InvalidInput(_("Name either a batch (batch=<id>) or devices (devices=<id>,<id>...)."),
                               code="label_sheet_needs_one_source")
        if batch_id:
            batch = get_object_or_404(inventory_selectors.batches_visible(request.user),
                                      pk=_positive_int(batch_id, "batch"))
            copies = _positive_int(params.get("copies", "1").strip() or "1", "copies")
            if copies > MAX_COPIES:
                raise InvalidInput(_("At most %(n)d copies per sheet.") % {"n": MAX_COPIES},
                                   code="too_many_labels", details={"param": "copies", "limit": MAX_COPIES})
            sheet = [batch_label_for(batch)] * copies
            title = f"批次标签 {batch.product.generic_name} {batch.product.strength} 批号 {batch.lot_number}"
            filename = f"batch-{batch.pk}-labels"
        else:
            ids = list(dict.fromkeys(_positive_int(part.strip(), "devices") for part in devices.split(",")))
            if len(ids) > MAX_DEVICES:
                raise InvalidInput(_("At most %(n)d labels per sheet.") % {"n": MAX_DEVICES},
                                   code="too_many_labels", details={"param": "devices", "limit": MAX_DEVICES})
            found = {d.pk: d for d in device_selectors.device_list(user=request.user).filter(pk__in=ids)}
            if len(found) != len(ids):  # not visible and not existing look the same
                raise Http404
            sheet = [device_labels.device_label(found[pk]) for pk in ids]
            title = "设备资产标签"
            filename = "device-labels"
        try:
            content = labels.label_sheet_pdf(sheet, title=title) if fmt == "pdf" else labels.label_sheet_html(
                sheet, title=title)
        except ValueError as exc:
            raise _not_printable(title, exc) from None
        return _response(content, fmt, filename)

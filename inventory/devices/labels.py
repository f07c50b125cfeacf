"""What is device-specific on an asset label: the asset tag and the caption lines. The
barcode itself (Code 128, module width, quiet zone, PNG and SVG) is drawn by the one label
renderer, `scanning.labels`, as for batch labels and A4 sheets.

Asset tag format
----------------
    DV-00000042        "DV-" + the device id, zero-padded to 8 digits

made by `scanning.codec.device_tag_text` and recognised by `scanning.codec.parse` as our own
device label (`OwnLabelPayload.device_tag` / `.device_id`). The prefix cannot collide with
the other codes we scan: GS1 element strings start with a numeric AI (or `(`, or an AIM
identifier); the China drug traceability code and EAN/UPC are all digits.
"""

from __future__ import annotations

import re

from inventory.devices.models import Device
from scanning import codec
from scanning import labels as label_renderer

ASSET_TAG_PREFIX = codec.DEVICE_TAG_PREFIX
ASSET_TAG_RE = re.compile(rf"^{re.escape(ASSET_TAG_PREFIX)}\d{{{codec.DEVICE_ID_DIGITS},}}$")

DPI = label_renderer.DEFAULT_DPI
MODULE_PX = label_renderer.module_px(DPI)

KIND_LABELS = {"ultrasound": "超声诊断仪（B超）", "chromosome_testing": "染色体检测设备"}


def is_asset_tag(text: str) -> bool:
    return bool(ASSET_TAG_RE.match(text or ""))


def label_lines(device: Device) -> list[str]:
    """The caption printed under the barcode (the tag itself is the first line, as printed)."""
    return [
        f"设备资产标签 · {KIND_LABELS.get(device.kind, device.kind)}",
        f"品牌/型号: {device.brand} {device.model}",
        f"出厂编号: {device.serial_number}",
        f"持有单位: {device.holder.name}",
    ]


def device_label(device: Device) -> label_renderer.Label:
    return label_renderer.Label(device.asset_tag or codec.device_tag_text(device.pk),
                                caption_lines=tuple(label_lines(device)))


def render_png(device: Device) -> bytes:
    label = device_label(device)
    return label_renderer.render_png(label.text, caption_lines=label.caption_lines, dpi=DPI)


def render_svg(device: Device) -> bytes:
    label = device_label(device)
    return label_renderer.render_svg(label.text, caption_lines=label.caption_lines, dpi=DPI)

"""The unified register (统一登记造册): one row per device with every filing field, its
operators and their licences, the late flag and the status. XLSX headers in Chinese; the CSV
carries the same columns (UTF-8 with a BOM so that Excel opens it in Chinese)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from django.core.files.storage import default_storage
from django.db.models import Prefetch
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from backend.models import Licence, Person
from inventory.devices.labels import KIND_LABELS
from inventory.devices.models import FILING_DEADLINE_DAYS, Capability, Device, DeviceStatus

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

STATUS_LABELS = {DeviceStatus.ACTIVE: "在用", DeviceStatus.SEALED: "已查封", DeviceStatus.SCRAPPED: "已报废"}
CAPABILITY_LABELS = {
    "b_mode": "黑白B超", "colour_doppler": "彩色多普勒", "3d": "三维", "4d": "四维", "portable": "便携式",
    "transvaginal": "阴道探头", "karyotyping": "染色体核型分析", "nipt": "无创产前检测", "pcr": "PCR",
    "sequencing": "基因测序", "other": "其他",
}

LICENCE_LABELS = {
    "maternal_infant": "母婴保健技术考核合格证书", "physician": "医师执业证书", "pharmacist": "药师资格",
    "medical_practice": "医疗机构执业许可证", "family_planning_service": "计划生育技术服务执业许可证",
    "other": "其他",
}

# (header, key) in order; `row_for` fills the keys.
COLUMNS = [
    ("资产标签", "asset_tag"),
    ("设备类别", "kind"),
    ("品牌", "brand"),
    ("型号", "model"),
    ("功能", "capabilities"),
    ("产地", "place_of_origin"),
    ("生产日期", "manufactured_on"),
    ("购置日期", "purchased_on"),
    ("出厂编号", "serial_number"),
    ("使用单位", "holder"),
    ("统一社会信用代码", "holder_credit_code"),
    ("所在辖区", "jurisdiction"),
    ("辖区代码", "jurisdiction_code"),
    ("主要用途", "main_use"),
    ("保管人", "custodian"),
    ("操作人员", "operators"),
    ("操作人员资质证书", "operator_licences"),
    ("设备照片数", "photo_count"),
    ("单位公章图片", "seal_image"),
    ("备案期限起算日", "duty_started_on"),
    ("备案截止日", "filing_due_by"),
    ("备案时间", "filed_at"),
    ("备案人", "filed_by"),
    ("是否逾期备案", "late"),
    ("逾期天数", "days_late"),
    ("状态", "status"),
]
HEADERS = [h for h, _ in COLUMNS]


def _licence_text(licence: Licence, today: dt.date | None = None) -> str:
    until = licence.valid_until.isoformat() if licence.valid_until else "长期"
    revoked = f"，{licence.revoked_at.isoformat()}吊销" if licence.revoked_at else ""
    today = today or timezone.localdate()
    state = "有效" if licence.is_valid_on(today) else "无效"
    return f"{licence.number}（{LICENCE_LABELS.get(licence.kind, licence.kind)}，{licence.valid_from.isoformat()}至{until}{revoked}，{state}）"


def devices_for_register(devices) -> Iterable[Device]:
    people = Person.objects.prefetch_related("licences")
    return devices.prefetch_related(None).select_related("holder__jurisdiction", "custodian", "filed_by").prefetch_related(
        Prefetch("operators", queryset=people), "images",
    )


def row_for(device: Device) -> dict:
    operators = sorted(device.operators.all(), key=lambda p: p.pk)
    filed_at = timezone.localtime(device.filed_at)
    return {
        "asset_tag": device.asset_tag or "",
        "kind": KIND_LABELS.get(device.kind, device.kind),
        "brand": device.brand,
        "model": device.model,
        "capabilities": "、".join(CAPABILITY_LABELS.get(c, Capability(c).label if c in Capability.values else c)
                                 for c in device.capabilities or []),
        "place_of_origin": device.place_of_origin,
        "manufactured_on": device.manufactured_on,
        "purchased_on": device.purchased_on,
        "serial_number": device.serial_number,
        "holder": device.holder.name,
        "holder_credit_code": device.holder.credit_code,
        "jurisdiction": device.holder.jurisdiction.name,
        "jurisdiction_code": device.holder.jurisdiction.code,
        "main_use": device.main_use,
        "custodian": device.custodian.name,
        "operators": "、".join(p.name for p in operators),
        "operator_licences": "；".join(
            f"{p.name}: " + ("、".join(_licence_text(lic) for lic in p.licences.all()) or "无证书")
            for p in operators
        ),
        "photo_count": sum(1 for img in device.images.all() if img.role == "device"),
        "seal_image": default_storage.url(device.seal_image) if device.seal_image else "",
        "duty_started_on": device.duty_started_on,
        "filing_due_by": device.duty_started_on + dt.timedelta(days=FILING_DEADLINE_DAYS),
        "filed_at": filed_at.replace(tzinfo=None, microsecond=0),
        "filed_by": device.filed_by.username if device.filed_by_id else "",
        "late": "是" if device.days_late > 0 else "否",
        "days_late": device.days_late,
        "status": STATUS_LABELS.get(device.status, device.status),
    }


def to_xlsx(devices) -> bytes:
    """Written in openpyxl's write-only mode (streams rows; styles only where needed)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("设备统一登记册")
    for i, (header, key) in enumerate(COLUMNS, start=1):
        width = 40 if key in ("operator_licences", "seal_image") else max(10, min(30, len(header) * 2 + 4))
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}1"
    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    late_fill = PatternFill("solid", fgColor="FCE4D6")

    def header_cell(text):
        cell = WriteOnlyCell(ws, value=text)
        cell.font, cell.fill, cell.alignment = bold, head_fill, centre
        return cell

    ws.append([header_cell(h) for h in HEADERS])
    for device in devices_for_register(devices):
        row = row_for(device)
        cells = []
        for _, key in COLUMNS:
            value = row[key]
            cell = WriteOnlyCell(ws, value=value)
            if cell.data_type == "f":  # text that starts with "=" stays text, never a formula
                cell.data_type = "s"
            if isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            if key == "late" and device.days_late > 0:
                cell.fill = late_fill
            cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def to_csv(devices) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for device in devices_for_register(devices):
        row = row_for(device)
        writer.writerow([_csv_value(row[key]) for _, key in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_value(value):
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # Spreadsheet formula injection: a cell must not start with = + - @ (names, models...).
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text

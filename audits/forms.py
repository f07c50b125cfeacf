"""The statutory monthly forms, generated from the ledger (never re-typed):

- 使用终止妊娠药品情况登记表 (use register): one row per dispense of the month;
- 终止妊娠药品情况汇总表 (drug summary): per drug, opening, in, used, disposed, other, closing
  (from the signed closing when the month is signed, else computed the same way);
- 企业终止妊娠药品销售情况汇总表 (wholesaler's sales summary): one row per supply shipment line
  dispatched in the month.

Each form is a `Form` (title, organisation, month, headers, rows, footer) rendered as XLSX
(openpyxl) or PDF (reportlab). The PDF embeds a subset of a TrueType CJK font (WenQuanYi
Micro Hei from Debian's fonts-wqy-microhei, installed by `make install`), so the Chinese
text shows on any viewer; reportlab cannot embed the CFF-outline Noto CJK fonts, and its
built-in STSong-Light CID font is not embedded at all (the viewer must supply it), which is
used only as a last resort when no TrueType CJK font is installed.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache

from django.utils import timezone
from django.utils.translation import gettext as _

from audits import periods
from audits.closing import COLUMNS, closing_rows
from audits.errors import NotPermitted
from audits.models import SignedClosing
from audits.selectors import audit_chain_head, chain_check_text
from backend import visibility
from backend.models import Organisation, User
from backend.spreadsheets import never_formulas

logger = logging.getLogger(__name__)

FONT_CANDIDATES = [
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
]
FONT_NAME = "FormsCJK"

KINDS = {
    "usage-register": "使用终止妊娠药品情况登记表",
    "drug-summary": "终止妊娠药品情况汇总表",
    "sales-summary": "企业终止妊娠药品销售情况汇总表",
}

BIRTH_PERMIT = {"holds": "持证", "none": "未持证", "not_required": "无需", "unknown": "不详"}


@dataclass
class Form:
    kind: str
    title: str
    organisation: Organisation
    month: dt.date
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    footer: str = ""
    widths: list[float] | None = None
    chain_head: str = ""
    chain_head_at: dt.datetime | None = None

    @property
    def proof(self) -> str:
        """The audit-trail head line printed under the form (issue 7, monthly proof)."""
        if not self.chain_head:
            return ""
        at = timezone.localtime(self.chain_head_at)
        return f"审计链校验值（截至 {at:%Y-%m-%d %H:%M}）：{self.chain_head}    {chain_check_text(self.chain_head)}"

    @property
    def subtitle(self) -> str:
        return f"填报单位：{self.organisation.name}    填报月份：{self.month.year}年{self.month.month}月"

    @property
    def filename(self) -> str:
        return f"{self.kind}-{self.organisation.pk}-{self.month:%Y-%m}"


def _may_see(user, organisation: Organisation) -> bool:
    return visibility.scope(Organisation.objects.filter(pk=organisation.pk), user, "").exists()


def usage_register(*, user, institution: Organisation, month: dt.date) -> Form:
    from inventory import services as inventory_services
    from inventory.models import Dispense
    from inventory.selectors import may_see_patient

    if not _may_see(user, institution) or getattr(user, "role", "") == User.Role.WHOLESALER_CLERK:
        raise NotPermitted(_("You may not see this institution's use register."))
    start, end = periods.month_bounds(month)
    dispenses = (Dispense.objects.filter(institution=institution, occurred_at__gte=start, occurred_at__lt=end)
                 .select_related("batch__product", "physician", "pharmacist__person", "institution__jurisdiction")
                 .order_by("occurred_at", "id"))
    form = Form("usage-register", KINDS["usage-register"], institution, month,
                ["序号", "用药时间", "姓名", "年龄", "工作单位或住址", "持生育证情况", "现有孩次", "孕情",
                 "药品名称", "批号", "剂量", "主治医师", "药剂师"],
                widths=[22, 62, 38, 24, 110, 40, 30, 60, 70, 50, 50, 40, 40])
    shown_in_full = []
    for n, d in enumerate(dispenses, start=1):
        full = may_see_patient(user, d)
        if full:
            shown_in_full.append(d)
        pharmacist = d.pharmacist.person.name if d.pharmacist.person_id else d.pharmacist.get_username()
        form.rows.append([
            n, timezone.localtime(d.occurred_at).strftime("%Y-%m-%d %H:%M"),
            # What the dispense detail shows only in full is masked here for the same readers.
            d.patient_name if full else d.patient_name_masked, d.patient_age if full else "**",
            d.patient_address if full else "***",
            BIRTH_PERMIT.get(d.birth_permit, d.birth_permit) if full else "***",
            d.children_count if full else "*", d.pregnancy_status if full else "***",
            f"{d.batch.product.generic_name} {d.batch.product.strength}",
            d.batch.lot_number, d.dose, d.physician.name, pharmacist,
        ])
    form.footer = f"共 {len(form.rows)} 例    药剂师（保管人）签字：__________    负责人签字：__________"
    # Every full read of patient identifiers is in the trail: one entry for the download.
    inventory_services.dispense_sensitive_read(actor=user, dispenses=shown_in_full, document=form.kind,
                                               month=month)
    return form


def drug_summary(*, user, holder: Organisation, month: dt.date) -> Form:
    from inventory.models import Batch

    if not _may_see(user, holder):
        raise NotPermitted(_("You may not see this holder's books."))
    signed = SignedClosing.objects.filter(holder=holder, month=month).first()
    if signed is not None:
        lines = [(line.batch_id, {c: getattr(line, c) for c in ("opening", *COLUMNS, "closing_balance")})
                 for line in signed.lines.all()]
    else:
        lines = [(batch_id, row) for (_h, batch_id), row in closing_rows(month, holder_ids=[holder.pk]).items()]
    products = {b.pk: b.product for b in Batch.objects.select_related("product").filter(
        pk__in=[b for b, _r in lines])}
    per_product: dict = {}
    for batch_id, row in lines:
        p = products[batch_id]
        acc = per_product.setdefault(p.pk, {"product": p, "opening": 0, "in": 0, "used": 0, "disposed": 0,
                                            "other": 0, "closing": 0})
        acc["opening"] += row["opening"]
        acc["in"] += row["received"] + row["returned"]
        acc["used"] += -row["dispensed"]
        acc["disposed"] += -row["disposed"]
        acc["other"] += row["dispatched"] + row["seized"] + row["adjusted"] + row["corrected"] + row["prior_period"]
        acc["closing"] += row["closing_balance"]
    form = Form("drug-summary", KINDS["drug-summary"], holder, month,
                ["药品名称", "规格", "单位", "上月结存", "本月购进", "本月使用", "本月报损", "其他增减", "本月结存"],
                widths=[120, 70, 40, 60, 60, 60, 60, 60, 60])
    for acc in sorted(per_product.values(), key=lambda a: (a["product"].generic_name, a["product"].strength)):
        p = acc["product"]
        form.rows.append([p.generic_name, p.strength, p.counting_unit, acc["opening"], acc["in"], acc["used"],
                          acc["disposed"], acc["other"], acc["closing"]])
    signed_text = (f"已于 {timezone.localtime(signed.signed_at):%Y-%m-%d %H:%M} 由保管人签字确认" if signed
                   else "本月尚未签字确认")
    form.footer = f"{signed_text}    保管人签字：__________    负责人签字：__________"
    return form


def sales_summary(*, user, wholesaler: Organisation, month: dt.date) -> Form:
    from inventory.models import Shipment, ShipmentLine

    if not _may_see(user, wholesaler):
        raise NotPermitted(_("You may not see this wholesaler's sales."))
    start, end = periods.month_bounds(month)
    lines = (ShipmentLine.objects.filter(shipment__sender=wholesaler, shipment__kind=Shipment.Kind.SUPPLY,
                                         shipment__dispatched_at__gte=start, shipment__dispatched_at__lt=end)
             .exclude(shipment__status__in=[Shipment.Status.DRAFT, Shipment.Status.REJECTED])
             .select_related("shipment__recipient", "batch__product").order_by("shipment__dispatched_at", "id"))
    form = Form("sales-summary", KINDS["sales-summary"], wholesaler, month,
                ["日期", "客户", "客户统一社会信用代码", "药品", "规格", "批号", "数量", "发票号"],
                widths=[60, 150, 110, 80, 50, 60, 40, 70])
    total = 0
    for line in lines:
        s = line.shipment
        form.rows.append([timezone.localtime(s.dispatched_at).strftime("%Y-%m-%d"), s.recipient.name,
                          s.recipient.credit_code, line.batch.product.generic_name, line.batch.product.strength,
                          line.batch.lot_number, line.quantity, s.reference])
        total += line.quantity
    form.footer = f"合计数量：{total}    填表人：__________    企业负责人：__________"
    return form


def build(kind: str, *, user, organisation: Organisation, month: dt.date) -> Form:
    if kind == "usage-register":
        form = usage_register(user=user, institution=organisation, month=month)
    elif kind == "drug-summary":
        form = drug_summary(user=user, holder=organisation, month=month)
    else:
        form = sales_summary(user=user, wholesaler=organisation, month=month)
    # The head when the form is generated: it covers every entry behind the form's figures,
    # late entries about the month included.
    form.chain_head_at = timezone.now()
    form.chain_head = audit_chain_head()
    return form


# --- rendering ---------------------------------------------------------------------------


def render_xlsx(form: Form) -> bytes:
    """Row 1 title, row 2 organisation and month, row 3 headers, data from row 4, then the
    footer one row below the data."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = form.title[:31]
    ncols = len(form.headers)
    ws.append([form.title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([form.subtitle])
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncols)
    ws.append(form.headers)
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for row in form.rows:
        ws.append(row)
    ws.append([])
    ws.append([form.footer])
    if form.proof:
        ws.append([form.proof])
    xlsx_widths(ws, form.widths)
    never_formulas(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def xlsx_widths(ws, widths) -> None:
    """Column widths (in the forms' PDF units), one per column from A."""
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(widths or [], start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(8, width / 5)


def pdf_table(headers, rows, widths, *, empty: str, style, available: float):
    """A ruled reportlab Table with a grey header row repeated on each page, its column
    widths scaled to `available`; `empty` stands in the first cell when there are no rows."""
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    if widths:
        scale = available / sum(widths)
        widths = [w * scale for w in widths]
    data = [[Paragraph(str(h), style) for h in headers]]
    data += [[Paragraph("" if v is None else str(v), style) for v in row] for row in rows]
    if not rows:
        data.append([Paragraph(empty, style)] + [""] * (len(headers) - 1))
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


@lru_cache(maxsize=1)
def cjk_font() -> tuple[str, bool]:
    """Register the CJK font with reportlab: (font name, embedded?)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    candidates = list(FONT_CANDIDATES)
    if os.environ.get("FORMS_CJK_FONT"):
        candidates.insert(0, (os.environ["FORMS_CJK_FONT"], 0))
    for path, index in candidates:
        if os.path.exists(path):
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=index))
            return FONT_NAME, True
    logger.warning("No TrueType CJK font found (install fonts-wqy-microhei); the PDF forms fall back to the "
                   "non-embedded STSong-Light")
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light", False


def render_pdf(form: Form) -> bytes:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    font, _embedded = cjk_font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1)
    normal = ParagraphStyle("normal", fontName=font, fontSize=9, leading=12)
    cell = ParagraphStyle("cell", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=form.title,
                            author=form.organisation.name)
    table = pdf_table(form.headers, form.rows, form.widths, empty="（本月无记录）", style=cell,
                      available=landscape(A4)[0] - 24 * mm)
    story = [Paragraph(form.title, title), Spacer(1, 4 * mm), Paragraph(form.subtitle, normal), Spacer(1, 3 * mm),
             table, Spacer(1, 5 * mm), Paragraph(form.footer, normal),
             *([Paragraph(form.proof, normal)] if form.proof else []),
             Paragraph(f"生成时间：{timezone.localtime():%Y-%m-%d %H:%M}（由台账自动生成）", normal)]
    doc.build(story)
    return out.getvalue()

"""The visit report (检查记录) and the sweep summary (专项行动汇总表), as PDF and XLSX.

A `Report` is a title, a subtitle, sections (each a table with Chinese headers) and footer
lines. Both reports print the audit trail's chain head (`seq:hash` when the report was
generated): `manage.py verify_audit_trail --against <head>` later proves that nothing
recorded before the report was printed has been rewritten since.

PDF through reportlab with the embedded CJK font of the monthly forms
(`audits.forms.cjk_font`), XLSX through openpyxl (one sheet per section).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from django.utils import timezone

from audits.forms import cjk_font, pdf_table, xlsx_widths
from audits.selectors import audit_chain_head, chain_check_text
from audits.sweeps import checklist, selectors
from audits.sweeps.models import Case, ChecklistAnswer, Finding, FindingAction, Sweep, Target, Tick, Visit
from backend.spreadsheets import never_formulas

DEPARTMENTS = {"health": "卫生健康", "family_planning": "计划生育", "drug_administration": "药品监管",
               "police": "公安"}
SEVERITY = {"low": "轻微", "medium": "一般", "high": "严重", "critical": "特别严重"}
ANSWER = {ChecklistAnswer.Answer.YES: "符合", ChecklistAnswer.Answer.NO: "不符合",
          ChecklistAnswer.Answer.NOT_APPLICABLE: "不适用", None: "未检查"}
TICK = {Tick.Kind.DEVICE_FOUND: "设备在册", Tick.Kind.DEVICE_WRONG_HOLDER: "设备不在登记单位",
        Tick.Kind.DEVICE_UNREGISTERED: "未登记设备", Tick.Kind.DEVICE_MISSING: "登记设备未见实物",
        Tick.Kind.STOCK_ON_BOOKS: "药品在账", Tick.Kind.STOCK_OFF_BOOKS: "药品账外"}
FLAGS = {"sealed": "已查封", "scrapped": "已报废", "prohibited_holder": "该单位不得持有终止妊娠药品",
         "batch_unknown": "批号未登记", "expired": "已过期"}
SOURCES = {Target.Source.DEVICE_HOLDER: "设备持有单位", Target.Source.APPROVED_INSTITUTION: "批准开展终止妊娠手术机构",
           Target.Source.MEDICAL_INSTITUTION: "其他医疗机构",
           Target.Source.WHOLESALER: "药品批发企业", Target.Source.RETAIL_PHARMACY: "药品零售企业",
           Target.Source.INDIVIDUAL_CLINIC: "个体诊所", Target.Source.AD_HOC: "临时增加"}
SWEEP_STATUS = {"planned": "计划中", "active": "进行中", "finished": "已结束"}
VISIT_STATUS = {"open": "检查中", "closed": "已结束"}
CASE_STATUS = {"open": "已立案", "investigating": "调查中", "penalised": "已作出处罚", "transferred": "已移送公安",
               "closed": "已结案"}


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    widths: list[float] | None = None
    empty: str = "（无）"


@dataclass
class Report:
    kind: str
    title: str
    subtitle: str
    author: str
    chain_head: str
    sections: list[Section] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)

    @property
    def chain_line(self) -> str:
        return f"审计链头（生成时）：{self.chain_head}    {chain_check_text(self.chain_head)}"


def _t(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _actions_text(finding: Finding) -> str:
    parts = []
    for a in finding.actions.all():
        if a.kind == FindingAction.Kind.SEAL_DEVICE:
            parts.append(f"查封设备 {a.device}")
        elif a.kind == FindingAction.Kind.SEIZE_STOCK:
            parts.append(f"扣押 {a.seizure.batch.product} 批号{a.seizure.batch.lot_number} × {a.seizure.quantity}")
        elif a.kind == FindingAction.Kind.ORDER_RECTIFICATION:
            parts.append(f"责令于{a.deadline:%Y-%m-%d}前整改：{a.requirement}")
        elif a.kind == FindingAction.Kind.RECTIFICATION_VERIFIED:
            parts.append(f"{_t(a.occurred_at)} 整改复查：{a.note}")
    case = Case.objects.filter(finding=finding).first()
    if case is not None:
        parts.append(f"立案 {case.number}（{CASE_STATUS.get(case.status, case.status)}）")
    return "；".join(parts)


def _findings_section(findings) -> Section:
    section = Section("发现问题", ["序号", "检查对象", "违反规定", "严重程度", "情况描述", "处理措施", "发现时间"],
                      widths=[25, 90, 110, 45, 160, 160, 65])
    for n, f in enumerate(findings, start=1):
        section.rows.append([n, f.visit.target.site_name, checklist.rule_title(f.rule), SEVERITY.get(f.severity, f.severity),
                             f.description, _actions_text(f), _t(f.found_at)])
    return section


def visit_report(visit: Visit) -> Report:
    head = audit_chain_head()
    target = visit.target
    members = list(visit.team.members.all()) if visit.team_id else []
    report = Report(
        kind="visit", title="联合执法检查记录", author=visit.sweep.office.name, chain_head=head,
        subtitle=f"专项行动：{visit.sweep.name}    检查对象：{target.site_name}    检查编号：V{visit.pk}",
    )
    info = Section("基本情况", ["项目", "内容"], widths=[120, 500])
    info.rows = [
        ["检查对象", target.site_name],
        ["地址", target.site_address],
        ["所属辖区", f"{visit.jurisdiction.name}（{visit.jurisdiction.code}）"],
        ["单位类型", visit.organisation.get_kind_display() if visit.organisation_id else "未登记场所"],
        ["检查组", visit.team.name if visit.team_id else ""],
        ["检查人员", "、".join(f"{m.get_full_name() or m.username}（{DEPARTMENTS.get(m.department, m.department)}）"
                             for m in members) or (visit.opened_by.username if visit.opened_by_id else "")],
        ["开始时间", _t(visit.opened_at)],
        ["结束时间", _t(visit.closed_at)],
        ["状态", VISIT_STATUS.get(visit.status, visit.status)],
    ]
    report.sections.append(info)

    items = Section("检查项目", ["序号", "检查内容", "结果", "备注"], widths=[25, 330, 60, 200])
    for n, row in enumerate(selectors.checklist_state(visit), start=1):
        items.rows.append([n, row["title"], ANSWER.get(row["answer"], row["answer"]), row["note"]])
    report.sections.append(items)

    ticks = Section("设备及药品扫码核查", ["结果", "扫码内容", "设备或药品", "登记单位", "账面数量", "标记", "扫码时间"],
                    widths=[70, 120, 150, 110, 45, 100, 65])
    for tick in visit.ticks.all():
        what = str(tick.device) if tick.device_id else (
            f"{tick.product} 批号{tick.batch.lot_number}" if tick.batch_id else (str(tick.product) if tick.product_id
                                                                              else ""))
        ticks.rows.append([TICK.get(tick.kind, tick.kind), tick.code, what,
                           tick.registered_holder.name if tick.registered_holder_id else "",
                           "" if tick.book_quantity is None else tick.book_quantity,
                           "、".join(FLAGS.get(f, f) for f in tick.flags), _t(tick.scanned_at)])
    report.sections.append(ticks)

    count = Section("盘点（账物相符）", ["药品", "批号", "账面数量", "实盘数量", "差异", "原因"],
                    widths=[180, 90, 60, 60, 50, 150], empty="（未盘点）")
    if visit.count_session_id:
        for line in visit.count_session.lines.select_related("batch__product").order_by("batch_id"):
            count.rows.append([str(line.batch.product), line.batch.lot_number,
                               "" if line.book_quantity is None else line.book_quantity, line.counted,
                               "" if line.variance is None else line.variance, line.get_reason_display()
                               if line.reason else ""])
    report.sections.append(count)
    report.sections.append(_findings_section(visit.findings.select_related("visit__target").prefetch_related(
        "actions__seizure__batch__product", "actions__device").order_by("found_at", "id")))
    report.sections.append(Section("现场照片", ["序号", "说明", "拍摄时间", "文件（SHA-256）"],
                                   [[n, p.caption, _t(p.taken_at), p.sha256] for n, p in
                                    enumerate(visit.photos.all(), start=1)], widths=[25, 200, 70, 330]))
    report.footer = ["检查人员签字：__________    被检查单位负责人签字：__________",
                     f"生成时间：{timezone.localtime():%Y-%m-%d %H:%M}（由系统记录自动生成）", report.chain_line]
    return report


def sweep_report(sweep: Sweep) -> Report:
    head = audit_chain_head()
    summary = selectors.sweep_summary(sweep)
    report = Report(
        kind="sweep", title="联合执法专项行动汇总表", author=sweep.office.name, chain_head=head,
        subtitle=f"专项行动：{sweep.name}    辖区：{sweep.jurisdiction.name}    "
                 f"期间：{sweep.period_start:%Y-%m-%d} 至 {sweep.period_end:%Y-%m-%d}",
    )
    overview = Section("概况", ["项目", "数量或内容"], widths=[200, 420])
    overview.rows = [
        ["组织单位", sweep.office.name],
        ["参与部门", "、".join(DEPARTMENTS.get(d, d) for d in sweep.departments)],
        ["状态", SWEEP_STATUS.get(sweep.status, sweep.status)],
        ["计划检查单位（个）", summary.sites_planned],
        ["已检查单位（个）", summary.sites_visited],
        ["发现问题（条）", sum(summary.findings_by_rule.values())],
        ["查封设备（台）", summary.devices_sealed],
        ["扣押药品（次 / 数量）", f"{summary.seizures} / {summary.stock_seized}"],
        ["责令整改（份）", summary.rectifications_ordered],
        ["立案（件）", summary.cases_opened],
        ["发现未登记设备（台）", summary.unregistered_devices],
        ["登记设备未见实物（台）", summary.missing_devices],
        ["账外药品（次）", summary.off_books_ticks],
    ]
    report.sections.append(overview)
    by_type = Section("问题类型统计", ["违反规定", "数量"], widths=[480, 140])
    by_type.rows = [[checklist.rule_title(rule), n] for rule, n in summary.findings_by_rule.items()]
    report.sections.append(by_type)
    sites = Section("检查单位一览", ["检查对象", "列入原因", "检查组", "检查状态", "发现问题"],
                    widths=[200, 170, 80, 70, 60])
    for target in sweep.targets.select_related("team").order_by("jurisdiction__code", "site_name", "id"):
        visit = Visit.objects.filter(target=target).first()
        sites.rows.append([target.site_name, "、".join(SOURCES.get(s, s) for s in target.sources),
                           target.team.name if target.team_id else "",
                           VISIT_STATUS.get(visit.status, "") if visit else "未检查",
                           visit.findings.count() if visit else 0])
    report.sections.append(sites)
    report.sections.append(_findings_section(
        Finding.objects.filter(visit__sweep=sweep).select_related("visit__target").prefetch_related(
            "actions__seizure__batch__product", "actions__device").order_by("found_at", "id")))
    cases = Section("立案情况", ["案号", "当事单位", "案由", "状态", "罚款（元）", "处理结果"],
                    widths=[110, 130, 150, 60, 50, 120])
    for case in Case.objects.filter(finding__visit__sweep=sweep).select_related("finding__visit__target").order_by(
            "opened_at", "id"):
        cases.rows.append([case.number, case.finding.visit.target.site_name, case.title,
                           CASE_STATUS.get(case.status, case.status), case.fine_yuan or "", case.outcome])
    report.sections.append(cases)
    report.footer = ["填报单位（盖章）：__________    负责人签字：__________",
                     f"生成时间：{timezone.localtime():%Y-%m-%d %H:%M}（由系统记录自动生成）", report.chain_line]
    return report


# --- rendering ---------------------------------------------------------------------------


def render_xlsx(report: Report) -> bytes:
    """One sheet per section: row 1 the report's title, row 2 the subtitle, row 3 the
    section's headers, then its rows, a blank row and the footer (chain head included)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for section in report.sections:
        ws = wb.create_sheet(section.title[:31])
        ws.append([report.title])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append([report.subtitle])
        ws.append(section.headers)
        for cell in ws[3]:
            cell.font = Font(bold=True)
        for row in section.rows:
            ws.append(row)
        if not section.rows:
            ws.append([section.empty])
        ws.append([])
        for line in report.footer:
            ws.append([line])
        xlsx_widths(ws, section.widths)
    never_formulas(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def render_pdf(report: Report) -> bytes:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    font, _embedded = cjk_font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1)
    heading = ParagraphStyle("heading", fontName=font, fontSize=11, leading=15, spaceBefore=6)
    normal = ParagraphStyle("normal", fontName=font, fontSize=9, leading=12)
    small = ParagraphStyle("small", fontName=font, fontSize=7, leading=9, wordWrap="CJK")
    cell = ParagraphStyle("cell", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=report.title, author=report.author)
    available = landscape(A4)[0] - 24 * mm
    story = [Paragraph(report.title, title), Spacer(1, 3 * mm), Paragraph(report.subtitle, normal),
             Paragraph(report.chain_line, small), Spacer(1, 2 * mm)]
    for section in report.sections:
        table = pdf_table(section.headers, section.rows, section.widths, empty=section.empty, style=cell,
                          available=available)
        story += [Paragraph(section.title, heading), Spacer(1, 1 * mm), table]
    story += [Spacer(1, 5 * mm)] + [Paragraph(line, normal) for line in report.footer]
    doc.build(story)
    return out.getvalue()

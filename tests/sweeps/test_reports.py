"""The visit report and the sweep summary: the PDF shows its Chinese text (rendered to PNG,
as tests/reconciliation/test_forms.py proves for the monthly forms), and the chain head
printed on the report verifies with `manage.py verify_audit_trail --against <head>`, until
something recorded before it is rewritten (monthly proof)."""

from __future__ import annotations

import datetime as dt
import io
import os
import re

import pypdfium2
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from openpyxl import load_workbook

from audits import forms
from audits.models import AuditEntry
from audits.sweeps import services
from tests.sweeps.helpers import open_visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked_visit(county):
    visit = open_visit(county, county.hospital)
    services.answer_record(actor=county.inspector, visit=visit, client_id="00000000-0000-4000-8000-000000000001",
                           item="warning_signs", answer="no", note="B超室未张贴警示标志")
    finding = services.finding_record(actor=county.inspector, visit=visit,
                                      client_id="00000000-0000-4000-8000-000000000002", rule="warning_signs",
                                      severity="low", description="B超室未张贴禁止非医学需要胎儿性别鉴定警示标志")
    services.finding_order_rectification(actor=county.inspector, finding=finding, requirement="三日内张贴",
                                         deadline=visit.opened_at.date() + dt.timedelta(days=3))
    services.visit_close(actor=county.inspector, visit=visit)
    return visit


def pdf_text_and_image(content: bytes):
    pdf = pypdfium2.PdfDocument(content)
    page = pdf[0]
    return page.get_textpage().get_text_range(), page.get_size(), page.render(scale=2).to_pil().convert("L")


def test_sweep_report_pdf_shows_chinese_text(county, worked_visit, client_for):
    _font, embedded = forms.cjk_font()
    assert embedded, "install fonts-wqy-microhei (make system-deps) so the PDF embeds a CJK font"
    r = client_for(county.office_admin).get(f"/api/sweeps/{worked_visit.sweep_id}/report.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert b"/FontFile2" in r.content  # the TrueType font program is embedded
    text, (width, _height), image = pdf_text_and_image(r.content)
    assert "联合执法专项行动汇总表" in text and "计划检查单位" in text and county.authority.name in text
    # The title is centred in the top band (top margin 12 mm, 22 pt leading): ink there.
    top = image.crop((int(width * 0.3) * 2, int(12 * 72 / 25.4) * 2, int(width * 0.7) * 2,
                      int(12 * 72 / 25.4 + 24) * 2))
    assert sum(top.histogram()[:128]) > 500
    margin = image.crop((image.width - 20, 0, image.width, 100))
    assert sum(margin.histogram()[:128]) == 0
    if os.environ.get("SWEEP_PNG"):  # to look at it: SWEEP_PNG=/tmp/sweep.png pytest -k chinese
        image.save(os.environ["SWEEP_PNG"])


def test_visit_report_pdf_and_xlsx(county, worked_visit, client_for):
    inspector = client_for(county.inspector)
    r = inspector.get(f"/api/visits/{worked_visit.pk}/report.pdf")
    assert r.status_code == 200
    text, _size, _image = pdf_text_and_image(r.content)
    assert "联合执法检查记录" in text and county.hospital.name in text and "检查项目" in text
    r = inspector.get(f"/api/visits/{worked_visit.pk}/report.xlsx")
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames[:3] == ["基本情况", "检查项目", "设备及药品扫码核查"]
    items = [list(row) for row in book["检查项目"].iter_rows(values_only=True)]
    assert items[2] == ["序号", "检查内容", "结果", "备注"]
    assert items[3][1:] == ["B超室、药房、妇产科病房张贴禁止“两非”警示标志", "不符合", "B超室未张贴警示标志"]
    findings = [list(row) for row in book["发现问题"].iter_rows(values_only=True)]
    assert findings[3][5].startswith("责令于")
    # Hidden from members and from other jurisdictions.
    assert client_for(county.pharmacist).get(f"/api/visits/{worked_visit.pk}/report.pdf").status_code == 404
    assert client_for(county.other.inspector).get(f"/api/sweeps/{worked_visit.sweep_id}/report.xlsx").status_code == 404


def _printed_head(content: bytes) -> str:
    rows = [r[0] for r in load_workbook(io.BytesIO(content))["概况"].iter_rows(values_only=True) if r and r[0]]
    line = next(r for r in rows if str(r).startswith("审计链头"))
    return re.search(r"(\d+:[0-9a-f]{64})", line)[1]


def test_printed_chain_head_proves_the_trail_up_to_it(county, worked_visit, client_for):
    r = client_for(county.office_admin).get(f"/api/sweeps/{worked_visit.sweep_id}/report.xlsx")
    head = _printed_head(r.content)
    last = AuditEntry.objects.order_by("-seq").first()
    assert head == f"{last.seq}:{last.hash}"
    text, _s, _i = pdf_text_and_image(client_for(county.office_admin).get(
        f"/api/sweeps/{worked_visit.sweep_id}/report.pdf").content)
    assert head in re.sub(r"\s+", "", text)  # the whole head, however the PDF line wraps

    # More work after printing does not disturb the proof.
    services.sweep_finish(actor=county.office_admin, sweep=worked_visit.sweep)
    out = io.StringIO()
    call_command("verify_audit_trail", against=head, stdout=out)
    assert "intact" in out.getvalue()

    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL's trigger refuses the rewrite itself (tests/audits/test_postgres.py)")
    # Rewriting an entry recorded before the report was printed, and re-hashing the chain
    # from there so that it is consistent again, is caught only by the printed head.
    from audits.chain import HEADER_FIELDS, entry_hash

    rewritten = int(head.split(":")[0]) - 1
    prev = AuditEntry.objects.get(seq=rewritten - 1).hash
    for entry in AuditEntry.objects.filter(seq__gte=rewritten).order_by("seq"):
        if entry.seq == rewritten:
            entry.actor_username = "someone-else"
        entry.prev_hash = prev
        entry.hash = prev = entry_hash({name: getattr(entry, name) for name in HEADER_FIELDS}, entry.body)
        AuditEntry.objects.filter(pk=entry.pk).update(actor_username=entry.actor_username, prev_hash=entry.prev_hash,
                                                      hash=entry.hash)
    out = io.StringIO()
    call_command("verify_audit_trail", stdout=out)
    assert "intact" in out.getvalue()  # a consistent chain on its own
    with pytest.raises(CommandError, match="differs from the printed head"):
        call_command("verify_audit_trail", against=head)

"""The statutory monthly forms, generated from the ledger: checked cell by cell on a small
month (XLSX read back with openpyxl); the PDF shows its Chinese text (rendered to PNG)."""

import io
import os

import pypdfium2
import pytest
from django.utils import timezone
from openpyxl import load_workbook

from audits import closing, forms
from inventory import services
from tests.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_month(county, month):
    b1, b2 = month.batches(2, stock=50)
    shipment = month.ship({b1: 20, b2: 10}, day=3, reference="FP-0301")
    d1 = month.dispense(b1, day=10, quantity=1, patient_name="陈小红", patient_age=28)
    d2 = month.dispense(b1, day=11, quantity=2, patient_name="刘芳", patient_age=31, birth_permit="none",
                        children_count=2, dose="200 mg × 1")
    services.disposal_record(actor=county.pharmacist, batch=b2, quantity=1, reason="damaged", witness_name="王五",
                             occurred_at=month.at(20))
    return {"b": (b1, b2), "shipment": shipment, "dispenses": (d1, d2)}


def sheet_rows(content: bytes):
    return [list(row) for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]


def test_usage_register_cell_by_cell(county, month, small_month, client_for):
    b1, _b2 = small_month["b"]
    response = client_for(county.pharmacist).get(
        f"/api/forms/usage-register.xlsx?month={month.month:%Y-%m}")
    assert response.status_code == 200
    rows = sheet_rows(response.content)
    assert rows[0][0] == "使用终止妊娠药品情况登记表"
    assert rows[1][0] == f"填报单位：{county.hospital.name}    填报月份：{month.month.year}年{month.month.month}月"
    assert rows[2] == ["序号", "用药时间", "姓名", "年龄", "工作单位或住址", "持生育证情况", "现有孩次", "孕情",
                       "药品名称", "批号", "剂量", "主治医师", "药剂师"]
    physician, pharmacist = county.physician.person.name, county.pharmacist.person.name
    assert rows[3] == [1, f"{month.month:%Y-%m}-10 10:00", "陈小红", 28, "衡阳县西渡镇人民路8号", "持证", 1, "宫内早孕",
                       "米非司酮片 25 mg", b1.lot_number, "25 mg × 1", physician, pharmacist]
    assert rows[4] == [2, f"{month.month:%Y-%m}-11 10:00", "刘芳", 31, "衡阳县西渡镇人民路8号", "未持证", 2, "宫内早孕",
                       "米非司酮片 25 mg", b1.lot_number, "200 mg × 1", physician, pharmacist]
    assert rows[5] == [None] * 13
    assert rows[6][0].startswith("共 2 例")
    assert rows[7][0].startswith("审计链校验值")
    assert len(rows) == 8


def test_usage_register_masks_patients_for_the_office(county, month, small_month, client_for):
    response = client_for(county.office_admin).get(
        f"/api/forms/usage-register.xlsx?month={month.month:%Y-%m}&organisation={county.hospital.pk}")
    rows = sheet_rows(response.content)
    assert rows[3][2] == "陈**" and rows[3][4] == "***"


def test_drug_summary_cell_by_cell(county, month, small_month, client_for):
    b1, b2 = small_month["b"]
    response = client_for(county.pharmacist).get(f"/api/forms/drug-summary.xlsx?month={month.month:%Y-%m}")
    rows = sheet_rows(response.content)
    assert rows[0][0] == "终止妊娠药品情况汇总表"
    assert rows[2] == ["药品名称", "规格", "单位", "上月结存", "本月购进", "本月使用", "本月报损", "其他增减", "本月结存"]
    # b1: in 20, used 3 -> 17; b2: in 10, disposed 1 -> 9; same product: one row.
    assert rows[3] == ["米非司酮片", "25 mg", "片", 0, 30, 3, 1, 0, 26]
    assert rows[5][0].startswith("本月尚未签字确认")
    closing.closing_sign(actor=county.pharmacist, month=month.month)
    rows = sheet_rows(client_for(county.pharmacist).get(
        f"/api/forms/drug-summary.xlsx?month={month.month:%Y-%m}").content)
    assert rows[3] == ["米非司酮片", "25 mg", "片", 0, 30, 3, 1, 0, 26]
    assert rows[5][0].startswith("已于")


def test_sales_summary_cell_by_cell(county, month, small_month, client_for):
    b1, b2 = small_month["b"]
    response = client_for(county.clerk).get(f"/api/forms/sales-summary.xlsx?month={month.month:%Y-%m}")
    rows = sheet_rows(response.content)
    assert rows[0][0] == "企业终止妊娠药品销售情况汇总表"
    assert rows[1][0].startswith(f"填报单位：{county.wholesaler.name}")
    assert rows[2] == ["日期", "客户", "客户统一社会信用代码", "药品", "规格", "批号", "数量", "发票号"]
    day = f"{month.month:%Y-%m}-03"
    assert rows[3] == [day, county.hospital.name, county.hospital.credit_code, "米非司酮片", "25 mg", b1.lot_number,
                       20, "FP-0301"]
    assert rows[4] == [day, county.hospital.name, county.hospital.credit_code, "米非司酮片", "25 mg", b2.lot_number,
                       10, "FP-0301"]
    assert rows[6][0].startswith("合计数量：30")


def test_pdf_shows_chinese_text(county, month, small_month, client_for):
    font, embedded = forms.cjk_font()
    assert embedded, "install fonts-wqy-microhei (make system-deps) so the PDF embeds a CJK font"
    response = client_for(county.pharmacist).get(f"/api/forms/drug-summary.pdf?month={month.month:%Y-%m}")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"/FontFile2" in response.content  # a TrueType font program is embedded
    pdf = pypdfium2.PdfDocument(response.content)
    page = pdf[0]
    text = page.get_textpage().get_text_range()
    assert "终止妊娠药品情况汇总表" in text and "米非司酮片" in text and county.hospital.name in text
    width, height = page.get_size()
    image = page.render(scale=2).to_pil().convert("L")
    # The title is centred in the top band (top margin 12 mm, 22 pt leading): ink there.
    top = image.crop((int(width * 0.3) * 2, int(12 * 72 / 25.4) * 2, int(width * 0.7) * 2,
                      int(12 * 72 / 25.4 + 24) * 2))
    dark = sum(top.histogram()[:128])
    assert dark > 500, dark
    if os.environ.get("FORMS_PNG"):  # to look at it: FORMS_PNG=/tmp/form.png pytest -k pdf_shows
        image.save(os.environ["FORMS_PNG"])
    # And none in the same band of an empty page's margin (the right edge).
    margin = image.crop((image.width - 20, 0, image.width, 100))
    assert sum(margin.histogram()[:128]) == 0


@pytest.mark.parametrize("kind", ["usage-register", "sales-summary"])
def test_other_pdfs_render(county, month, small_month, client_for, kind):
    user = county.clerk if kind == "sales-summary" else county.pharmacist
    response = client_for(user).get(f"/api/forms/{kind}.pdf?month={month.month:%Y-%m}")
    assert response.status_code == 200
    text = pypdfium2.PdfDocument(response.content)[0].get_textpage().get_text_range()
    assert forms.KINDS[kind] in text


def test_form_permissions(county, month, small_month, client_for, api):
    m = f"month={month.month:%Y-%m}"
    assert api.get(f"/api/forms/drug-summary.pdf?{m}").status_code == 401
    # A wholesaler never sees a clinic's use register, nor another holder's books.
    r = client_for(county.clerk).get(f"/api/forms/usage-register.xlsx?{m}&organisation={county.hospital.pk}")
    assert r.status_code == 403
    r = client_for(county.clerk).get(f"/api/forms/drug-summary.xlsx?{m}&organisation={county.hospital.pk}")
    assert r.status_code == 403
    r = client_for(county.other.inspector).get(f"/api/forms/drug-summary.xlsx?{m}&organisation={county.hospital.pk}")
    assert r.status_code == 403 and error_of(r)["code"] == "not_allowed"
    r = client_for(county.inspector).get(f"/api/forms/sales-summary.pdf?{m}&organisation={county.wholesaler.pk}")
    assert r.status_code == 200
    r = client_for(county.office_admin).get(f"/api/forms/drug-summary.xlsx?{m}")
    assert r.status_code == 400  # an authority names the organisation


def test_generated_at_is_local_time(county, month, small_month):
    form = forms.sales_summary(user=county.clerk, wholesaler=county.wholesaler, month=month.month)
    small_month["shipment"].refresh_from_db()
    assert form.rows[0][0] == timezone.localtime(small_month["shipment"].dispatched_at).strftime("%Y-%m-%d")


def test_forms_print_the_audit_chain_head(county, month, small_month, client_for):
    """Monthly proof (issue 7): the printed head is the chain's head when the form was made,
    and `verify_audit_trail --against` accepts it until an entry up to it is rewritten."""
    from django.core.management import CommandError, call_command

    from audits.models import AuditEntry

    head = AuditEntry.objects.order_by("-seq").first()
    expected = f"{head.seq}:{head.hash}"
    response = client_for(county.pharmacist).get(f"/api/forms/drug-summary.xlsx?month={month.month:%Y-%m}")
    proof = sheet_rows(response.content)[-1][0]
    assert proof.startswith("审计链校验值") and expected in proof
    response = client_for(county.pharmacist).get(f"/api/forms/drug-summary.pdf?month={month.month:%Y-%m}")
    text = pypdfium2.PdfDocument(response.content)[0].get_textpage().get_text_range()
    assert f"{head.seq}:{head.hash[:16]}" in text.replace("\r", "").replace("\n", "")
    call_command("verify_audit_trail", against=expected)
    with pytest.raises(CommandError, match="printed head"):
        call_command("verify_audit_trail", against=f"{head.seq}:{'0' * 64}")

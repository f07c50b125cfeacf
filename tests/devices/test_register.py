"""The unified register (统一登记造册), read back from XLSX and CSV."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from inventory.devices import services
from inventory.devices.register import HEADERS
from tests.devices.factories import file_device, operator
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def devices(county):
    sono = operator(county.hospital, number="湘母婴〔2024〕07号")
    on_time = file_device(county.hospital, operators=[sono], serial="A-1", model="Voluson E8")
    late = file_device(county.hospital, operators=[sono], serial="A-2", purchased_ago=30, model="=HYPERLINK(1)")
    centre = OrganisationFactory(kind="township_health_centre", jurisdiction=county.township, licensed=True)
    lab = operator(centre, scope=["chromosome_testing"])
    analyser = file_device(centre, kind="chromosome_testing", operators=[lab], serial="C-1", brand="华大",
                           model="BGISEQ-500")
    services.device_seal(actor=county.inspector, device=analyser, reference="案-9")
    elsewhere = file_device(county.other.hospital, serial="X-1")
    return {"on_time": on_time, "late": late, "analyser": analyser, "elsewhere": elsewhere, "sono": sono}


def read_xlsx(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.iter_rows(values_only=True))
    return ws, rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_xlsx_has_chinese_headers_and_every_filing_field(county, client_for, devices):
    ws, header, rows = read_xlsx(client_for(county.office_admin).get("/api/devices/register.xlsx"))
    assert list(header) == HEADERS
    for name in ("品牌", "型号", "出厂编号", "产地", "生产日期", "购置日期", "使用单位", "主要用途", "保管人",
                 "操作人员", "操作人员资质证书", "备案时间", "备案人", "是否逾期备案", "逾期天数", "状态", "资产标签"):
        assert name in header
    by_serial = {r["出厂编号"]: r for r in rows}
    assert set(by_serial) == {"A-1", "A-2", "C-1"}  # not the other county's device
    late = by_serial["A-2"]
    assert (late["是否逾期备案"], late["逾期天数"], late["状态"]) == ("是", 23, "在用")
    assert late["型号"] == "=HYPERLINK(1)"  # stored as text, never a formula
    assert isinstance(late["购置日期"], dt.datetime) and late["购置日期"].date() == devices["late"].purchased_on
    assert late["操作人员"] == devices["sono"].name
    assert "湘母婴〔2024〕07号" in late["操作人员资质证书"] and "有效" in late["操作人员资质证书"]
    assert late["资产标签"] == devices["late"].asset_tag
    assert (by_serial["A-1"]["是否逾期备案"], by_serial["A-1"]["设备类别"]) == ("否", "超声诊断仪（B超）")
    sealed = by_serial["C-1"]
    assert (sealed["状态"], sealed["设备类别"], sealed["所在辖区"]) == ("已查封", "染色体检测设备", "西渡镇")
    assert ws.title == "设备统一登记册"


@pytest.mark.parametrize("query, serials", [
    ({"kind": "chromosome_testing"}, {"C-1"}),
    ({"status": "sealed"}, {"C-1"}),
    ({"late": "true"}, {"A-2"}),
    ({"late": "false"}, {"A-1", "C-1"}),
    ({"jurisdiction": "430421001"}, {"C-1"}),
    ({"jurisdiction": "430421"}, {"A-1", "A-2", "C-1"}),
    ({"jurisdiction": "430121"}, set()),
])
def test_xlsx_filters(county, client_for, devices, query, serials):
    _, _, rows = read_xlsx(client_for(county.inspector).get("/api/devices/register.xlsx", query))
    assert {r["出厂编号"] for r in rows} == serials


def test_csv_same_columns_excel_friendly(county, client_for, devices):
    response = client_for(county.physician).get("/api/devices/register.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["出厂编号"] for r in rows} == {"A-1", "A-2"}  # a member sees its own institution's
    late = next(r for r in rows if r["出厂编号"] == "A-2")
    assert (late["是否逾期备案"], late["逾期天数"], late["型号"]) == ("是", "23", "'=HYPERLINK(1)")
    assert late["购置日期"] == (timezone.localdate() - dt.timedelta(days=30)).isoformat()


def test_register_needs_login(client_for):
    assert client_for(None).get("/api/devices/register.xlsx").status_code == 401

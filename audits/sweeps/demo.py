"""Demo data for the sweeps, called by `manage.py seed_demo` after the devices
(`inventory.devices.demo.seed_devices`) with the registry's `Demo`.

One finished sweep, planned 25 days ago by the office, two joint teams (health + drug
administration, family planning + police), targets from the registers; four sites visited,
through the same services as the API (every row on the audit trail):

- 衡阳县人民医院: its four devices ticked (the Philips sealed earlier), stock on the books,
  the checklist in order: nothing found;
- 衡阳县集兵镇中心卫生院: the sonographer's 母婴保健 certificate lapsed, yet the S22 is in use:
  a finding, the S22 sealed (查封), a case; the portable CTS-8800 is not there (missing);
  the monthly reconciliation is not signed: mifepristone seized pending the check, and a
  rectification order;
- 衡阳县西渡镇李氏诊所 (an individual clinic): an unregistered portable B超 found (an alert for
  the office), photographed; a case, closed with a 20,000 yuan fine;
- 老百姓大药房西渡店 (a retail pharmacy): mifepristone on the shelf, off the books: a finding,
  two boxes seized off the books (into the drug administration's custody) and a
  rectification order.

Idempotent: a second run finds the demo sweep and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from audits.sweeps import services
from audits.sweeps.models import Sweep, Target
from backend.uploads import prepare_image

NAME = "衡阳县打击“两非”联合执法专项行动（演示）"
NAMESPACE = uuid.UUID("0b9f1a52-3c1e-4e0e-9d53-5f1d7e3a9c20")
UNREGISTERED_SERIAL = "YJ-B6-2023-0815"


def _id(label: str) -> uuid.UUID:
    """Stable client ids, as a phone would have generated them."""
    return uuid.uuid5(NAMESPACE, label)


def _photo(text: str):
    image = Image.new("RGB", (640, 480), (228, 230, 233))
    d = ImageDraw.Draw(image)
    d.rectangle((170, 250, 470, 420), fill=(205, 207, 210), outline=(80, 80, 80), width=4)
    d.rectangle((210, 60, 430, 230), fill=(30, 30, 34), outline=(120, 120, 120), width=6)
    d.rectangle((300, 230, 340, 250), fill=(110, 110, 110))
    d.text((190, 270), text, fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return prepare_image(ContentFile(out.getvalue(), name="evidence.png"))


def _device(brand: str, model: str, serial: str):
    from inventory.devices.models import Device, identity_key

    return Device.objects.filter(identity=identity_key(brand, model, serial)).first()


def _on_hand(holder, generic_name: str, strength: str):
    from inventory.models import StockPosition

    return (StockPosition.objects.filter(holder=holder, in_transit=False, quantity__gt=0,
                                         batch__product__generic_name=generic_name,
                                         batch__product__strength=strength)
            .select_related("batch__product").order_by("-quantity", "batch_id").first())


def seed_sweep(demo) -> dict[str, int]:
    if Sweep.objects.filter(name=NAME).exists():
        return {}
    with transaction.atomic():
        return _seed(demo)


def _seed(demo) -> dict[str, int]:
    now = timezone.now()
    today = timezone.localdate(now)

    def at(days_ago: int, hour: int, minute: int = 0) -> dt.datetime:
        day = today - dt.timedelta(days=days_ago)
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))

    office = demo.office_user
    health, fp, drug, police = demo.inspector_users
    h1, _h2, h3 = demo.approved
    c1 = demo.individual_clinics[0]
    r1 = demo.retail_pharmacies[0]

    sweep = services.sweep_plan(
        actor=office, name=NAME, jurisdiction=demo.county, period_start=today - dt.timedelta(days=20),
        period_end=today - dt.timedelta(days=3), at=at(25, 9),
        departments=["health", "family_planning", "drug_administration", "police"],
        note="依据县综合治理办公室年度工作方案，对全县医疗机构、药品批发企业和零售药店开展拉网式检查")
    team1 = services.team_create(actor=office, sweep=sweep, name="第一组（卫健、药监）", members=[health, drug],
                                 leader=health)
    team2 = services.team_create(actor=office, sweep=sweep, name="第二组（计生、公安）", members=[fp, police],
                                 leader=fp)
    services.targets_generate(actor=office, sweep=sweep)
    for target in Target.objects.filter(sweep=sweep).order_by("pk"):
        team = team1 if target.organisation_id in (h1.pk, h3.pk, c1.pk, r1.pk) else team2
        services.target_assign(actor=office, target=target, team=team)

    def visit(org, days_ago, inspector):
        return services.visit_open(actor=inspector, target=Target.objects.get(sweep=sweep, organisation=org),
                                   at=at(days_ago, 9, 30))

    def answers(v, inspector, days_ago, **given):
        for n, (code, value) in enumerate(given.items()):
            answer, _sep, note = value.partition(":")
            services.answer_record(actor=inspector, visit=v, client_id=_id(f"{v.pk}-answer-{code}"), item=code,
                                   answer=answer, note=note, answered_at=at(days_ago, 10, n))

    def tick(v, inspector, days_ago, minute, **what):
        return services.tick_record(actor=inspector, visit=v, client_id=_id(f"{v.pk}-tick-{minute}"),
                                    scanned_at=at(days_ago, 10, 30 + minute), **what)

    def finding(v, inspector, days_ago, label, **fields):
        return services.finding_record(actor=inspector, visit=v, client_id=_id(f"{v.pk}-finding-{label}"),
                                       found_at=at(days_ago, 11), **fields)

    # 1. 衡阳县人民医院: in order.
    v1 = visit(h1, 18, health)
    answers(v1, health, 18, warning_signs="yes", devices_match_register="yes", operators_licensed="yes",
            exam_register_kept="yes", drug_custodian_named="yes", prescriptions_kept="yes",
            monthly_reconciliation_signed="yes")
    for minute, (brand, model, serial) in enumerate([("GE", "Voluson E10", "VE10-A23891"),
                                                     ("迈瑞", "Resona 7", "MR7-2025-00418"),
                                                     ("Philips", "EPIQ 7", "US71840262"),
                                                     ("华大智造", "BGISEQ-500", "BGI500-0037")]):
        device = _device(brand, model, serial)
        if device is not None:
            tick(v1, health, 18, minute, code=device.asset_tag or serial, device=device)
    position = _on_hand(h1, "米非司酮片", "25 mg")
    if position is not None:
        tick(v1, drug, 18, 9, code=f"BT-{position.batch.product_id}-{position.batch.lot_number}",
             batch=position.batch)
    services.visit_close(actor=health, visit=v1, note="检查未发现问题", at=at(18, 12))

    # 2. 集兵镇中心卫生院: an unlicensed operator, a missing device, unsigned books.
    v2 = visit(h3, 12, health)
    answers(v2, health, 12, warning_signs="yes", devices_match_register="no:便携式B超CTS-8800未见实物",
            operators_licensed="no:B超操作人员母婴保健技术考核合格证书已过期", exam_register_kept="yes",
            drug_custodian_named="yes", prescriptions_kept="yes", monthly_reconciliation_signed="no:上月未核对签字")
    s22 = _device("开立", "S22", "SS22-180455")
    f_unlicensed = finding(v2, health, 12, "unlicensed", rule="operators_licensed", severity="high",
                           description="B超室操作人员母婴保健技术考核合格证书已过期仍上岗操作（持证上岗要求）")
    if s22 is not None:
        tick(v2, health, 12, 0, code=s22.asset_tag or s22.serial_number, device=s22)
        services.finding_seal_device(actor=health, finding=f_unlicensed, device=s22,
                                     reason="操作人员无有效资质，现场查封待处理", at=at(12, 11, 20))
    case1 = services.case_open(actor=health, finding=f_unlicensed, at=at(12, 15),
                               title="集兵镇中心卫生院无证人员操作B超案")
    services.case_follow_up(actor=health, case=case1, status="investigating", note="调取近三个月检查登记表",
                            at=at(9, 10))
    f_books = finding(v2, drug, 12, "books", rule="monthly_reconciliation_signed", severity="medium",
                      description="终止妊娠药品上月进出数量未核对、未签字记录；本季度米非司酮片用量异常增加")
    position = _on_hand(h3, "米非司酮片", "25 mg")
    seized = 0
    if position is not None:
        seized = min(24, position.quantity)
        services.finding_seize_stock(actor=drug, finding=f_books, batch=position.batch, quantity=seized,
                                     note="封存待核查", at=at(12, 11, 40))
    services.finding_order_rectification(actor=drug, finding=f_books, at=at(12, 11, 45),
                                         requirement="补做上月终止妊娠药品进出核对并签字，建立每月核对制度",
                                         deadline=today + dt.timedelta(days=7))
    finding(v2, health, 12, "missing", rule="device_missing", severity="high",
            description="登记在册的便携式B超（汕头超声CTS-8800）未见实物，单位称下乡巡回使用，无法出示")
    services.visit_close(actor=health, visit=v2, at=at(12, 12))  # the CTS-8800 is ticked missing

    # 3. 李氏诊所 (individual clinic): an unregistered B超.
    v3 = visit(c1, 10, fp)
    answers(v3, fp, 10, warning_signs="no:未张贴警示标志", devices_match_register="no:发现未备案B超",
            no_termination_drugs="yes")
    t_unregistered = tick(v3, fp, 10, 0, code=UNREGISTERED_SERIAL, unregistered_device=True)
    photo_client = _id(f"{v3.pk}-photo-1")
    f_device = finding(v3, fp, 10, "device", rule="device_unregistered", severity="critical",
                       description="诊所内间发现便携式B超一台（铭牌序列号YJ-B6-2023-0815），未登记备案；个体诊所不得购置使用",
                       evidence=[{"type": "tick", "client_id": str(t_unregistered.client_id)},
                                 {"type": "photo", "client_id": str(photo_client)}])
    services.photo_record(actor=fp, visit=v3, client_id=photo_client, image=_photo(f"SN {UNREGISTERED_SERIAL}"),
                          caption="未备案便携式B超及铭牌", finding_client_id=f_device.client_id, taken_at=at(10, 10, 40))
    case2 = services.case_open(actor=fp, finding=f_device, at=at(10, 14), title="李氏诊所非法使用B超案")
    services.case_follow_up(actor=police, case=case2, status="investigating", note="询问诊所负责人，调取就诊记录",
                            at=at(8, 10))
    services.case_follow_up(actor=fp, case=case2, status="penalised", fine_yuan=20000, note="下达行政处罚决定书",
                            at=at(5, 10))
    services.case_follow_up(actor=fp, case=case2, status="closed", outcome="没收B超设备，罚款2万元", at=at(4, 16))
    services.visit_close(actor=fp, visit=v3, at=at(10, 12))

    # 4. 老百姓大药房西渡店 (retail pharmacy): termination drugs off the books.
    v4 = visit(r1, 8, drug)
    answers(v4, drug, 8, warning_signs="yes", no_termination_drugs="no:货架发现米非司酮片")
    position = _on_hand(h1, "米非司酮片", "25 mg")
    off_books = None
    if position is not None:
        off_books = tick(v4, drug, 8, 0, code=f"BT-{position.batch.product_id}-{position.batch.lot_number}",
                         batch=position.batch)
    f_shelf = finding(v4, drug, 8, "shelf", rule="no_termination_drugs", severity="critical",
                      description="药房处方药货架发现米非司酮片2盒，无进货记录（账外），药品零售企业不得销售终止妊娠药品",
                      evidence=[{"type": "tick", "client_id": str(off_books.client_id)}] if off_books else [])
    if position is not None:
        boxes = 2 * (position.batch.product.pack_size or 1)
        services.finding_seize_stock(actor=drug, finding=f_shelf, batch=position.batch, quantity=boxes,
                                     off_books=True, note="账外米非司酮片2盒，现场扣押", at=at(8, 11, 20))
        seized += boxes
    services.finding_order_rectification(actor=drug, finding=f_shelf, at=at(8, 11, 30),
                                         requirement="立即下架并说明来源，不得购进、销售终止妊娠药品",
                                         deadline=today + dt.timedelta(days=3))
    services.visit_close(actor=drug, visit=v4, at=at(8, 12))

    services.sweep_finish(actor=office, sweep=sweep, at=at(3, 17))
    return {"sweeps": 1, "visits": 4, "cases": 2, "seized": seized}

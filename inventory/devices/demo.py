"""Demo devices for the demo county (backend.demo.seed_registry): ten devices across the three
approved institutions, filed through the same services as the API (so every row is on the
audit trail), with Pillow-drawn photos through the upload pipeline and a few hundred exams.

- 衡阳县人民医院: four devices; the Mindray was filed 23 days late; the Philips was sealed by
  the inspector six days ago; one chromosome-testing analyser.
- 衡阳县妇幼保健计划生育服务中心: four devices; the old Siemens was scrapped a month ago.
- 衡阳县集兵镇中心卫生院: two devices whose only operator's 母婴保健 certificate lapsed 20
  days ago (no exams since: the register refuses them).

Idempotent: a device whose brand + model + serial is already filed is left as it is (and
gets no new exams).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import random
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw

from backend.demo import _licence, _person, resident_id
from backend.models import Licence, Person
from backend.uploads import prepare_image
from inventory.devices import services
from inventory.devices.models import Device, DeviceStatus, identity_key

HEALTH = "衡阳县卫生健康局"

PATIENT_SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
PATIENT_GIVEN = ["美华", "小红", "丽娟", "秀英", "海燕", "春梅", "晓燕", "婷婷", "佳怡", "雪梅", "桂英", "玉兰",
                 "静", "敏", "芳", "娜", "颖", "倩"]
INDICATIONS = ["孕早期确认宫内妊娠", "NT检查", "孕中期常规产检", "胎儿系统超声筛查", "孕晚期胎位检查",
               "胎盘位置复查", "羊水量评估", "阴道流血待查", "胎心监护异常复查"]
SUMMARIES = ["宫内早孕，可见胎心搏动", "单胎，胎心胎动可见，羊水适量", "单胎，头位，胎盘附着于子宫后壁",
             "双顶径、股骨长与孕周相符", "胎盘成熟度Ⅱ级，羊水指数正常", "单胎，臀位，建议复查",
             "未见明显结构异常", "羊水偏少，建议复查"]


@dataclass(frozen=True)
class Plan:
    holder: int  # index into demo.approved
    kind: str
    brand: str
    model: str
    serial: str
    origin: str
    capabilities: tuple
    main_use: str
    filed_days_ago: int
    purchase_before_filing: int  # days between purchase and filing (> 7: late)
    operators: str  # "sono", "sono+second", "lab"
    exams: int
    sealed_days_ago: int | None = None
    scrapped_days_ago: int | None = None


PLANS = [
    Plan(0, "ultrasound", "GE", "Voluson E10", "VE10-A23891", "美国", ("colour_doppler", "3d", "4d"),
         "产科超声检查", 400, 3, "sono+second", 70),
    Plan(0, "ultrasound", "迈瑞", "Resona 7", "MR7-2025-00418", "中国深圳", ("colour_doppler", "transvaginal"),
         "妇产科超声检查", 150, 30, "sono+second", 50),
    Plan(0, "ultrasound", "Philips", "EPIQ 7", "US71840262", "荷兰", ("colour_doppler", "3d"),
         "产前超声诊断", 90, 5, "sono", 40, sealed_days_ago=6),
    Plan(0, "chromosome_testing", "华大智造", "BGISEQ-500", "BGI500-0037", "中国深圳", ("sequencing", "nipt"),
         "无创产前基因检测", 300, 4, "lab", 0),
    Plan(1, "ultrasound", "开立", "P60", "SP60-190077", "中国深圳", ("colour_doppler", "4d"),
         "孕产期保健超声", 200, 6, "sono+second", 60),
    Plan(1, "ultrasound", "开立", "S50", "SS50-221305", "中国深圳", ("colour_doppler", "portable"),
         "计划生育技术服务", 60, 2, "sono", 25),
    Plan(1, "ultrasound", "Siemens", "ACUSON Juniper", "SJ-7731002", "德国", ("colour_doppler",),
         "妇产科超声检查", 500, 7, "sono", 30, scrapped_days_ago=30),
    Plan(1, "ultrasound", "迈瑞", "DC-80", "DC80-2026-0912", "中国深圳", ("colour_doppler", "3d"),
         "产科超声检查", 20, 1, "sono+second", 10),
    Plan(2, "ultrasound", "开立", "S22", "SS22-180455", "中国深圳", ("b_mode",),
         "乡镇孕产妇超声检查", 200, 5, "sono", 35),
    Plan(2, "ultrasound", "汕头超声", "CTS-8800", "CTS88-17302", "中国汕头", ("b_mode", "portable"),
         "下乡巡回检查", 250, 6, "sono", 15),
]


def _png(draw_fn, size=(640, 480), background=(236, 238, 240)) -> ContentFile:
    image = Image.new("RGB", size, background)
    draw_fn(ImageDraw.Draw(image), image)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return ContentFile(out.getvalue(), name="demo.png")


def _device_photo(plan: Plan, variant: int):
    rng = random.Random(f"{plan.serial}-{variant}")
    tint = tuple(rng.randint(60, 200) for _ in range(3))

    def draw(d: ImageDraw.ImageDraw, image):
        d.rectangle((160, 260, 480, 440), fill=(210, 212, 215), outline=(90, 90, 90), width=4)  # console
        d.rectangle((200, 40, 440, 220), fill=(25, 25, 30), outline=tint, width=8)  # monitor
        d.ellipse((250 + variant * 30, 90, 330 + variant * 30, 170), outline=(200, 200, 200), width=3)
        d.rectangle((310, 220, 330, 260), fill=(120, 120, 120))
        d.text((180, 280), f"{plan.brand.encode('ascii', 'ignore').decode() or 'US'} {plan.model}", fill=(0, 0, 0))
        d.text((180, 300), f"SN {plan.serial}", fill=(0, 0, 0))

    return prepare_image(_png(draw))


def _seal_image(holder_name: str):
    rng = random.Random(holder_name)

    def draw(d: ImageDraw.ImageDraw, image):
        d.ellipse((70, 70, 330, 330), outline=(200, 20, 20), width=10)
        cx, cy, r = 200, 200, 45
        points = []
        for i in range(10):
            angle = math.pi / 2 + i * math.pi / 5
            radius = r if i % 2 == 0 else r * 0.4
            points.append((cx + radius * math.cos(angle), cy - radius * math.sin(angle)))
        d.polygon(points, fill=(200, 20, 20))
        d.arc((100, 100, 300, 300), 200 + rng.randint(0, 5), 340, fill=(200, 20, 20), width=4)

    return prepare_image(_png(draw, size=(400, 400), background=(255, 255, 255)))


def _extra_people(demo) -> dict:
    """A second sonographer at the hospital and the FP centre, and a lab technician."""
    today = demo.today
    years = dt.timedelta(days=365)
    h1, h2, _h3 = demo.approved
    people = {}
    for key, org, name, serial, scope in [
        ("second_h1", h1, "欧阳倩", 611, ["ultrasound", "prenatal_diagnosis"]),
        ("second_h2", h2, "谭晓燕", 613, ["ultrasound", "prenatal_diagnosis"]),
        ("lab_h1", h1, "邓志刚", 615, ["chromosome_testing", "prenatal_diagnosis"]),
    ]:
        position = Person.Position.LAB_TECHNICIAN if key.startswith("lab") else Person.Position.SONOGRAPHER
        person = _person(name, resident_id("430421", dt.date(1993, 3, 1) + dt.timedelta(days=serial), serial),
                         org, position)
        _licence(person, Licence.Kind.MATERNAL_INFANT, f"湘母婴〔{today.year - 2}〕{serial}号", HEALTH,
                 today - 2 * years, today + 3 * years, scope=scope)
        people[key] = person
    return people


def _staff_user(demo, org):
    for users in (demo.physician_users, demo.pharmacist_users):
        if users.get(org.pk):
            return users[org.pk][0]
    return None


def seed_devices(demo) -> list[Device]:
    now = timezone.now()
    rng = random.Random(20260422)
    extra = _extra_people(demo)
    created: list[Device] = []
    patient_serial = iter(range(1, 10_000))

    for plan in PLANS:
        holder = demo.approved[plan.holder]
        key = identity_key(plan.brand, plan.model, plan.serial)
        existing = Device.objects.filter(identity=key).first()
        if existing is not None:
            continue
        sono = demo.sonographers[holder.pk][0]
        suffix = {0: "h1", 1: "h2", 2: "h3"}[plan.holder]
        if plan.operators == "lab":
            operators = [extra["lab_h1"]]
        elif plan.operators == "sono+second" and f"second_{suffix}" in extra:
            operators = [sono, extra[f"second_{suffix}"]]
        else:
            operators = [sono]
        filed_at = now - dt.timedelta(days=plan.filed_days_ago)
        filed_on = timezone.localdate(filed_at)
        purchased_on = filed_on - dt.timedelta(days=plan.purchase_before_filing)
        actor = _staff_user(demo, holder)
        device = services.device_file(
            actor=actor, kind=plan.kind, brand=plan.brand, model=plan.model, place_of_origin=plan.origin,
            manufactured_on=purchased_on - dt.timedelta(days=rng.randint(60, 400)), purchased_on=purchased_on,
            serial_number=plan.serial, holder=holder, main_use=plan.main_use, custodian=operators[0],
            operators=operators, photos=[_device_photo(plan, 0), _device_photo(plan, 1)],
            seal_image=_seal_image(holder.name), capabilities=list(plan.capabilities), at=filed_at,
        )
        created.append(device)

        # The exam window: from filing until it was sealed or scrapped, or its operators'
        # certificates lapsed, or now.
        end = now - dt.timedelta(hours=1)
        if plan.sealed_days_ago is not None:
            end = now - dt.timedelta(days=plan.sealed_days_ago, hours=1)
        if plan.scrapped_days_ago is not None:
            end = now - dt.timedelta(days=plan.scrapped_days_ago, hours=1)
        lapsed = [lic.valid_until for p in operators for lic in p.licences.all()
                  if lic.kind == Licence.Kind.MATERNAL_INFANT and lic.valid_until and lic.valid_until < demo.today]
        if lapsed:
            end = min(end, timezone.make_aware(dt.datetime.combine(min(lapsed), dt.time(17, 0))))
        start = filed_at + dt.timedelta(hours=2)
        times = sorted(start + (end - start) * rng.random() for _ in range(plan.exams)) if end > start else []
        for performed_at in times:
            performed_at = performed_at.replace(microsecond=0)
            pair = len(operators) > 1 and rng.random() < 0.5  # 双人执机签字 on half of them
            n = next(patient_serial)
            birth = dt.date(1988, 1, 1) + dt.timedelta(days=rng.randint(0, 4000))
            services.exam_record(
                actor=actor, device=device, performed_at=performed_at, at=now,
                patient_name=rng.choice(PATIENT_SURNAMES) + rng.choice(PATIENT_GIVEN),
                patient_resident_id=resident_id(rng.choice(["430421", "430422", "430423"]), birth, n % 1000),
                gestational_weeks=rng.randint(6, 40), indication=rng.choice(INDICATIONS),
                operator=operators[0] if pair else rng.choice(operators),
                second_operator=operators[1] if pair else None,
                result_summary=rng.choice(SUMMARIES),
            )

        if plan.sealed_days_ago is not None:
            services.device_seal(actor=demo.inspector_user, device=device,
                                 reference=f"衡县卫监〔{demo.today.year}〕{plan.sealed_days_ago + 20}号",
                                 reason="群众举报涉嫌非医学需要胎儿性别鉴定，现场检查取证",
                                 at=now - dt.timedelta(days=plan.sealed_days_ago))
        if plan.scrapped_days_ago is not None:
            services.device_scrap(actor=actor, device=device, witness="衡阳县卫生健康局设备科 刘洋",
                                  reason="超过使用年限，主机故障无法维修",
                                  at=now - dt.timedelta(days=plan.scrapped_days_ago))
    return created


def demo_summary() -> dict:
    return {
        "devices": Device.objects.count(),
        "late": Device.objects.filter(days_late__gt=0).count(),
        "sealed": Device.objects.filter(status=DeviceStatus.SEALED).count(),
        "scrapped": Device.objects.filter(status=DeviceStatus.SCRAPPED).count(),
    }

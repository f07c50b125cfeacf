"""The demo county (衡阳县, Hunan): identifiers with valid check characters, built with the
same services as the API so that every row is on the audit trail. Idempotent: existing rows
(matched on credit code, resident ID, licence number, username) are left as they are."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from stdnum.cn import ric, uscc

from backend import services
from backend.models import Jurisdiction, Licence, Organisation, Person, User

DEMO_PASSWORD = "demo12345"

ORG_CODE_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
ORG_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def organisation_code(serial: int) -> str:
    """A 9-character organisation code (GB 11714) with its own check character."""
    body = f"{serial:08d}"
    total = sum(ORG_CODE_ALPHABET.index(c) * w for c, w in zip(body, ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(dept_type: str, division: str, serial: int) -> str:
    """统一社会信用代码: registering department + type (e.g. 91 company, 12 public institution,
    52 private non-enterprise unit), division code, organisation code, check character."""
    body = dept_type + division + organisation_code(serial)
    return body + uscc.calc_check_digit(body + "0")


def resident_id(division: str, birth: dt.date, serial: int) -> str:
    body = f"{division}{birth:%Y%m%d}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check digit


@dataclass
class Demo:
    today: dt.date
    county: Jurisdiction = None
    office: Organisation = None
    wholesalers: list = field(default_factory=list)
    approved: list = field(default_factory=list)
    expired_hospital: Organisation = None
    individual_clinics: list = field(default_factory=list)
    retail_pharmacies: list = field(default_factory=list)
    physicians: dict = field(default_factory=dict)
    pharmacists: dict = field(default_factory=dict)
    sonographers: dict = field(default_factory=dict)
    pharmacist_users: dict = field(default_factory=dict)
    physician_users: dict = field(default_factory=dict)
    wholesaler_users: dict = field(default_factory=dict)
    inspector_user: User = None
    inspector_users: list = field(default_factory=list)
    office_user: User = None
    users: dict = field(default_factory=dict)


def _jurisdiction(code, name, level, parent):
    found = Jurisdiction.objects.filter(code=code).first()
    return found or services.jurisdiction_create(actor=None, code=code, name=name, level=level, parent=parent)


def _organisation(name, kind, code, county, address):
    found = Organisation.objects.filter(credit_code=code).first()
    return found or services.organisation_create(
        actor=None, name=name, kind=kind, credit_code=code, jurisdiction=county, address=address,
        contact_phone="0734-" + code[-7:-1].replace("X", "0"),
    )


def _person(name, rid, org, position):
    found = Person.objects.filter(resident_id=rid).first()
    return found or services.person_create(actor=None, name=name, resident_id=rid, organisation=org, position=position)


def _licence(holder, kind, number, authority, valid_from, valid_until, scope=()):
    found = Licence.objects.filter(kind=kind, number=number, issuing_authority=authority).first()
    if found:
        return found
    holder_field = "holder_person" if isinstance(holder, Person) else "holder_organisation"
    return services.licence_create(
        actor=None, kind=kind, number=number, issuing_authority=authority, valid_from=valid_from,
        valid_until=valid_until, scope=list(scope), **{holder_field: holder},
    )


def _user(username, org, role, *, person=None, department="", first_name="", password=DEMO_PASSWORD,
          superuser=False):
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, organisation=org, role=role, person=person, department=department,
                    first_name=first_name, is_staff=superuser, is_superuser=superuser)
        user.set_password(password)
        user.full_clean()
        user.save()
        from audits.services import audit_record

        audit_record(action="create", instance=user, subject_organisation=org)
    return user


@transaction.atomic
def seed_registry(*, password: str = DEMO_PASSWORD) -> Demo:
    today = timezone.localdate()
    demo = Demo(today=today)
    years = dt.timedelta(days=365)
    L, K, P = Licence.Kind, Organisation.Kind, Person.Position
    HEALTH = "衡阳县卫生健康局"

    province = _jurisdiction("430000", "湖南省", "province", None)
    city = _jurisdiction("430400", "衡阳市", "city", province)
    county = demo.county = _jurisdiction("430421", "衡阳县", "county", city)
    xidu = _jurisdiction("430421100", "西渡镇", "township", county)
    jibing = _jurisdiction("430421101", "集兵镇", "township", county)
    _jurisdiction("430421102", "杉桥镇", "township", county)
    # A neighbouring county: outside the demo office's jurisdiction.
    _jurisdiction("430422", "衡南县", "county", city)

    demo.office = _organisation("衡阳县出生人口性别比综合治理办公室", K.AUTHORITY,
                                credit_code("11", "430421", 1001), county, "衡阳县西渡镇蒸阳北路1号")

    def org(name, kind, dept, serial, place, address):
        return _organisation(name, kind, credit_code(dept, "430421", serial), place, address)

    w1 = org("衡阳县康达医药有限公司", K.WHOLESALER, "91", 2001, county, "衡阳县西渡镇演武坪路88号")
    w2 = org("湖南仁和医药物流有限公司衡阳县分公司", K.WHOLESALER, "91", 2002, county, "衡阳县西渡镇工业园9号")
    demo.wholesalers = [w1, w2]
    for i, w in enumerate(demo.wholesalers):
        _licence(w, L.DRUG_WHOLESALE, f"湘AA734{i:04d}", "湖南省药品监督管理局", today - 2 * years, today + 3 * years)

    h1 = org("衡阳县人民医院", K.HOSPITAL, "12", 3001, xidu, "衡阳县西渡镇解放路15号")
    h2 = org("衡阳县妇幼保健计划生育服务中心", K.FAMILY_PLANNING, "12", 3002, xidu, "衡阳县西渡镇人民路32号")
    h3 = org("衡阳县集兵镇中心卫生院", K.TOWNSHIP_HEALTH_CENTRE, "12", 3003, jibing, "衡阳县集兵镇集兵街6号")
    demo.approved = [h1, h2, h3]
    for i, h in enumerate(demo.approved):
        _licence(h, L.MEDICAL_PRACTICE, f"PDY{43042100 + i}", HEALTH, today - 4 * years, today + years)
        _licence(h, L.TERMINATION_APPROVAL, f"衡县卫终止〔{today.year - 1}〕{i + 1}号", HEALTH,
                 today - years, today + 2 * years, scope=["termination_surgery"])
    _licence(h2, L.FAMILY_PLANNING_SERVICE, "湘衡计服字〔2024〕3号", HEALTH, today - 2 * years, today + 2 * years,
             scope=["ultrasound", "termination_surgery"])

    hx = demo.expired_hospital = org("衡阳县中医医院", K.HOSPITAL, "12", 3004, xidu, "衡阳县西渡镇中医院路2号")
    _licence(hx, L.MEDICAL_PRACTICE, "PDY43042199", HEALTH, today - 4 * years, today + years)
    _licence(hx, L.TERMINATION_APPROVAL, f"衡县卫终止〔{today.year - 3}〕9号", HEALTH,
             today - 3 * years, today - dt.timedelta(days=45), scope=["termination_surgery"])

    c1 = org("衡阳县西渡镇李氏诊所", K.INDIVIDUAL_CLINIC, "92", 4001, xidu, "衡阳县西渡镇新街23号")
    c2 = org("衡阳县集兵镇王氏个体诊所", K.INDIVIDUAL_CLINIC, "92", 4002, jibing, "衡阳县集兵镇老街7号")
    demo.individual_clinics = [c1, c2]
    for i, c in enumerate(demo.individual_clinics):
        _licence(c, L.MEDICAL_PRACTICE, f"PDY4304219{i}", HEALTH, today - 2 * years, today + 2 * years)

    r1 = org("老百姓大药房连锁股份有限公司衡阳县西渡店", K.RETAIL_PHARMACY, "91", 5001, xidu, "衡阳县西渡镇蒸阳南路5号")
    r2 = org("益丰大药房连锁股份有限公司衡阳县集兵店", K.RETAIL_PHARMACY, "91", 5002, jibing, "衡阳县集兵镇新街11号")
    demo.retail_pharmacies = [r1, r2]
    for i, r in enumerate(demo.retail_pharmacies):
        _licence(r, L.DRUG_RETAIL, f"湘DB734{i:04d}", "衡阳市市场监督管理局", today - years, today + 4 * years)

    # People. Birth dates and serials fixed so the resident IDs are stable between runs.
    names = iter([
        "张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵敏", "黄磊", "周婷", "吴军",
        "徐丽", "孙强", "胡梅", "朱琳", "高峰", "林霞", "何勇", "郭颖", "马超", "罗兰",
        "宋佳",
    ])
    serial = iter(range(101, 999, 2))

    def person(org_, position):
        rid = resident_id("430421", dt.date(1984, 1, 1) + dt.timedelta(days=997 * next(serial) % 5000), next(serial))
        return _person(next(names), rid, org_, position)

    for i, h in enumerate(demo.approved):
        docs = [person(h, P.PHYSICIAN) for _ in range(2)]
        for j, d in enumerate(docs):
            _licence(d, L.PHYSICIAN, f"1104304211975{i}{j}0", HEALTH, today - 5 * years, None)
        demo.physicians[h.pk] = docs
        ph = person(h, P.PHARMACIST)
        _licence(ph, L.PHARMACIST, f"YS4304210{i}", "湖南省药品监督管理局", today - 3 * years, None)
        demo.pharmacists[h.pk] = [ph]
        sono = person(h, P.SONOGRAPHER)
        # The third institution's operator let the 母婴保健 certificate lapse.
        until = today - dt.timedelta(days=20) if i == 2 else today + 2 * years
        _licence(sono, L.MATERNAL_INFANT, f"湘母婴〔{today.year - 3}〕0{i}号", HEALTH, today - 3 * years, until,
                 scope=["ultrasound", "prenatal_diagnosis"])
        demo.sonographers[h.pk] = [sono]

    clerk = person(w1, P.CLERK)
    clerk2 = person(w2, P.CLERK)
    retail_pharmacist = person(r1, P.PHARMACIST)
    office_staff = [person(demo.office, P.INSPECTOR) for _ in range(5)]
    # The expired hospital's pharmacist signed its (empty) monthly closings while it was approved.
    hx_pharmacist = person(hx, P.PHARMACIST)
    _licence(hx_pharmacist, L.PHARMACIST, "YS43042109", "湖南省药品监督管理局", today - 3 * years, None)
    demo.pharmacists[hx.pk] = [hx_pharmacist]

    # Users: the demo logins.
    u = demo.users
    u["office"] = demo.office_user = _user("office", demo.office, User.Role.OFFICE_ADMIN,
                                           person=office_staff[0], password=password)
    departments = [User.Department.HEALTH, User.Department.FAMILY_PLANNING,
                   User.Department.DRUG_ADMINISTRATION, User.Department.POLICE]
    for name, dept, p in zip(["inspector", "inspector_fp", "inspector_drug", "inspector_police"], departments,
                             office_staff[1:], strict=True):
        u[name] = _user(name, demo.office, User.Role.INSPECTOR, department=dept, person=p, password=password)
        demo.inspector_users.append(u[name])
    demo.inspector_user = u["inspector"]
    u["pharmacist"] = _user("pharmacist", h1, User.Role.PHARMACIST, person=demo.pharmacists[h1.pk][0], password=password)
    u["pharmacist2"] = _user("pharmacist2", h2, User.Role.PHARMACIST, person=demo.pharmacists[h2.pk][0],
                             password=password)
    u["pharmacist3"] = _user("pharmacist3", h3, User.Role.PHARMACIST, person=demo.pharmacists[h3.pk][0],
                             password=password)
    u["physician"] = _user("physician", h1, User.Role.PHYSICIAN, person=demo.physicians[h1.pk][0], password=password)
    u["wholesaler"] = _user("wholesaler", w1, User.Role.WHOLESALER_CLERK, person=clerk, password=password)
    u["wholesaler2"] = _user("wholesaler2", w2, User.Role.WHOLESALER_CLERK, person=clerk2, password=password)
    u["retailer"] = _user("retailer", r1, User.Role.PHARMACIST, person=retail_pharmacist, password=password)
    u["pharmacist_zy"] = _user("pharmacist_zy", hx, User.Role.PHARMACIST, person=hx_pharmacist, password=password)
    # The Django admin's login (/admin/): a superuser with no role, acting for no organisation.
    u["admin"] = _user("admin", None, "", password=password, superuser=True)
    demo.pharmacist_users = {h1.pk: [u["pharmacist"]], h2.pk: [u["pharmacist2"]], h3.pk: [u["pharmacist3"]],
                             hx.pk: [u["pharmacist_zy"]]}
    demo.physician_users = {h1.pk: [u["physician"]]}
    demo.wholesaler_users = {w1.pk: [u["wholesaler"]], w2.pk: [u["wholesaler2"]]}
    return demo


DEMO_LOGINS = [
    ("office", "office administrator, 衡阳县综合治理办公室"),
    ("inspector", "inspector (health); also inspector_fp, inspector_drug, inspector_police"),
    ("pharmacist", "pharmacist, 衡阳县人民医院 (approved for termination surgery)"),
    ("pharmacist2", "pharmacist, 衡阳县妇幼保健计划生育服务中心 (approved)"),
    ("physician", "physician, 衡阳县人民医院"),
    ("wholesaler", "wholesaler clerk, 衡阳县康达医药有限公司"),
    ("retailer", "pharmacist, 老百姓大药房 (a retail pharmacy: may not hold termination drugs)"),
    ("admin", "the Django admin at /admin/ (a superuser: sees every county)"),
]

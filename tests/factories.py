"""factory_boy factories for the who-registry, and `build_county()`, a small realistic county.

Every identifier a factory makes is valid (check digits computed with python-stdnum) and
unique per sequence, so rows pass `full_clean()` (tests/backend/test_factories.py checks it).

    JurisdictionFactory()                    -> 衡阳县 430421 (creates 衡阳市 430400 and 湖南省 430000)
    JurisdictionFactory(code="430121")       -> 长沙县, under 长沙市 430100 (parents made on demand)
    OrganisationFactory(kind="hospital", licensed=True, termination_approved=True)
    PersonFactory(organisation=org, position="pharmacist")
    LicenceFactory(holder_organisation=org, kind="termination_approval")
    LicenceFactory(holder_organisation=org, expired=True)            # traits: expired, revoked, not_yet_valid
    PersonLicenceFactory(holder_person=p, kind="maternal_infant", scope=["ultrasound"])
    UserFactory(role="inspector", organisation=authority)            # password "demo12345"
    UserFactory(role="physician", organisation=hospital, with_person=True)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory
from stdnum.cn import ric, uscc

from backend.models import Jurisdiction, Licence, Organisation, Person, User

PASSWORD = "demo12345"

# --- identifiers ----------------------------------------------------------------------


def make_uscc(n: int, division: str = "430421") -> str:
    """A valid unified social credit code: 9 (industry & commerce) 1 (enterprise), the
    6-digit division, a 9-digit organisation code from `n`, then the check character."""
    body = f"91{division[:6]}{n % 10**9:09d}"
    return body + uscc.calc_check_digit(body)


def make_resident_id(n: int, region: str = "430421") -> str:
    """A valid resident ID: region + birth date (1985-01-01 + n // 1000 days) + 3-digit
    sequence + check digit. Unique for n below 9_000_000. (The region code must have
    existed in the birth year: 衡阳县 430421 dates from 1983.)"""
    birth = dt.date(1985, 1, 1) + dt.timedelta(days=(n // 1000) % 9000)
    body = f"{region}{birth:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects the check position present


# --- jurisdictions --------------------------------------------------------------------

DIVISION_NAMES = {
    "430000": "湖南省",
    "430400": "衡阳市",
    "430421": "衡阳县",
    "430422": "衡南县",
    "430421001": "西渡镇",
    "430421002": "梅花镇",
    "430100": "长沙市",
    "430121": "长沙县",
    "430121001": "星沙街道",
    "440000": "广东省",
}


def division_level(code: str) -> str:
    if len(code) == 9:
        return Jurisdiction.Level.TOWNSHIP
    if code[2:] == "0000":
        return Jurisdiction.Level.PROVINCE
    if code[4:] == "00":
        return Jurisdiction.Level.CITY
    return Jurisdiction.Level.COUNTY


def parent_division_code(code: str) -> str | None:
    level = division_level(code)
    return {
        Jurisdiction.Level.TOWNSHIP: code[:6],
        Jurisdiction.Level.COUNTY: code[:4] + "00",
        Jurisdiction.Level.CITY: code[:2] + "0000",
    }.get(level)


def _parent(o):
    code = parent_division_code(o.code)
    return JurisdictionFactory(code=code) if code else None


class JurisdictionFactory(DjangoModelFactory):
    """Get-or-create by code; the level and the parent chain follow from the code."""

    class Meta:
        model = Jurisdiction
        django_get_or_create = ("code",)

    code = "430421"
    level = factory.LazyAttribute(lambda o: division_level(o.code))
    name = factory.LazyAttribute(lambda o: DIVISION_NAMES.get(o.code, f"行政区{o.code}"))
    parent = factory.LazyAttribute(_parent)


# --- organisations --------------------------------------------------------------------

Kind = Organisation.Kind
LKind = Licence.Kind

KIND_NAMES = {
    Kind.HOSPITAL: "人民医院",
    Kind.TOWNSHIP_HEALTH_CENTRE: "镇卫生院",
    Kind.FAMILY_PLANNING: "计划生育服务站",
    Kind.PRIVATE_CLINIC: "民营诊所",
    Kind.INDIVIDUAL_CLINIC: "个体诊所",
    Kind.WHOLESALER: "医药有限公司",
    Kind.RETAIL_PHARMACY: "大药房",
    Kind.MANUFACTURER: "制药有限公司",
    Kind.AUTHORITY: "综合治理办公室",
}

# The licence an organisation of each kind normally works under (`licensed=True`).
KIND_LICENCES = {
    Kind.HOSPITAL: [(LKind.MEDICAL_PRACTICE, ["obstetrics", "ultrasound"])],
    Kind.TOWNSHIP_HEALTH_CENTRE: [(LKind.MEDICAL_PRACTICE, ["obstetrics", "ultrasound"])],
    Kind.PRIVATE_CLINIC: [(LKind.MEDICAL_PRACTICE, [])],
    Kind.INDIVIDUAL_CLINIC: [(LKind.MEDICAL_PRACTICE, [])],
    Kind.FAMILY_PLANNING: [(LKind.FAMILY_PLANNING_SERVICE, ["ultrasound", "termination_surgery"])],
    Kind.WHOLESALER: [(LKind.DRUG_WHOLESALE, [])],
    Kind.RETAIL_PHARMACY: [(LKind.DRUG_RETAIL, [])],
}


def _add_kind_licences(org, create, extracted, **kwargs):
    if create and extracted:
        for kind, scope in KIND_LICENCES.get(org.kind, []):
            LicenceFactory(holder_organisation=org, kind=kind, scope=scope)


def _add_termination_approval(org, create, extracted, **kwargs):
    if create and extracted:
        LicenceFactory(holder_organisation=org, kind=LKind.TERMINATION_APPROVAL, scope=["termination_surgery"])


class OrganisationFactory(DjangoModelFactory):
    """`licensed=True` adds the licence the kind works under (practice, wholesale, retail...);
    `termination_approved=True` adds a termination-surgery approval."""

    class Meta:
        model = Organisation
        skip_postgeneration_save = True

    kind = Kind.HOSPITAL
    jurisdiction = factory.SubFactory(JurisdictionFactory)
    name = factory.LazyAttributeSequence(
        lambda o, n: f"{o.jurisdiction.name}第{n}{KIND_NAMES.get(o.kind, '单位')}"
    )
    credit_code = factory.LazyAttributeSequence(lambda o, n: make_uscc(n + 1, o.jurisdiction.code))
    address = factory.LazyAttribute(lambda o: f"{o.jurisdiction.name}人民路1号")
    contact_name = "王芳"
    contact_phone = "0734-6812345"

    licensed = factory.PostGeneration(_add_kind_licences)
    termination_approved = factory.PostGeneration(_add_termination_approval)


# --- people ---------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵周吴"
GIVEN = "伟芳娜敏静丽强磊军洋"


class PersonFactory(DjangoModelFactory):
    class Meta:
        model = Person

    name = factory.Sequence(lambda n: SURNAMES[n % 10] + GIVEN[(n // 10) % 10] + ("" if n < 100 else str(n)))
    resident_id = factory.Sequence(lambda n: make_resident_id(n + 1))
    organisation = factory.SubFactory(OrganisationFactory)
    position = Person.Position.OTHER
    phone = factory.Sequence(lambda n: f"139{n % 10**8:08d}")


# --- licences -------------------------------------------------------------------------


def _today() -> dt.date:
    return timezone.localdate()


class LicenceFactory(DjangoModelFactory):
    """Valid today by default (from a year ago until two years ahead).

    Traits: `expired` (ended yesterday), `not_yet_valid` (starts in 30 days), `revoked`
    (revoked yesterday, with a reason)."""

    class Meta:
        model = Licence

    holder_organisation = factory.SubFactory(OrganisationFactory)
    holder_person = None
    kind = LKind.MEDICAL_PRACTICE
    number = factory.Sequence(lambda n: f"PDY{n + 1:08d}")
    issuing_authority = "衡阳县卫生健康局"
    valid_from = factory.LazyFunction(lambda: _today() - dt.timedelta(days=365))
    valid_until = factory.LazyFunction(lambda: _today() + dt.timedelta(days=730))
    scope = factory.LazyFunction(list)
    scope_text = ""

    class Params:
        expired = factory.Trait(
            valid_from=factory.LazyFunction(lambda: _today() - dt.timedelta(days=3 * 365)),
            valid_until=factory.LazyFunction(lambda: _today() - dt.timedelta(days=1)),
        )
        not_yet_valid = factory.Trait(
            valid_from=factory.LazyFunction(lambda: _today() + dt.timedelta(days=30)),
            valid_until=factory.LazyFunction(lambda: _today() + dt.timedelta(days=30 + 3 * 365)),
        )
        revoked = factory.Trait(
            revoked_at=factory.LazyFunction(lambda: _today() - dt.timedelta(days=1)),
            revoked_reason="违规开展非医学需要的胎儿性别鉴定",
        )


class PersonLicenceFactory(LicenceFactory):
    """A certificate held by a person (physician certificate by default)."""

    holder_organisation = None
    holder_person = factory.SubFactory(PersonFactory)
    kind = LKind.PHYSICIAN
    number = factory.Sequence(lambda n: f"ZG{n + 1:010d}")


# --- users ----------------------------------------------------------------------------

ROLE_ORGANISATION_KIND = {
    User.Role.OFFICE_ADMIN: Kind.AUTHORITY,
    User.Role.INSPECTOR: Kind.AUTHORITY,
    User.Role.PHARMACIST: Kind.HOSPITAL,
    User.Role.PHYSICIAN: Kind.HOSPITAL,
    User.Role.WHOLESALER_CLERK: Kind.WHOLESALER,
}

ROLE_POSITION = {
    User.Role.OFFICE_ADMIN: Person.Position.MANAGER,
    User.Role.INSPECTOR: Person.Position.INSPECTOR,
    User.Role.PHARMACIST: Person.Position.PHARMACIST,
    User.Role.PHYSICIAN: Person.Position.PHYSICIAN,
    User.Role.WHOLESALER_CLERK: Person.Position.CLERK,
}


def _organisation_for_role(o):
    if not o.role:
        return None
    return OrganisationFactory(kind=ROLE_ORGANISATION_KIND[o.role])


class UserFactory(DjangoModelFactory):
    """A login acting for one organisation in one role (password "demo12345").

    Without `organisation`, one of the right kind is made for the role. Inspectors get a
    department. `with_person=True` links a Person of the same organisation."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n + 1}")
    first_name = ""
    last_name = ""
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.cn")
    password = factory.django.Password(PASSWORD)
    role = User.Role.PHARMACIST
    organisation = factory.LazyAttribute(_organisation_for_role)
    department = factory.LazyAttribute(
        lambda o: User.Department.HEALTH if o.role == User.Role.INSPECTOR else ""
    )
    person = None

    class Params:
        with_person = factory.Trait(
            person=factory.LazyAttribute(
                lambda o: PersonFactory(organisation=o.organisation, position=ROLE_POSITION.get(o.role, "other"))
            ),
        )


# --- a small county -------------------------------------------------------------------


@dataclass
class OtherCounty:
    """Another jurisdiction (长沙县 430121, in another city): must be invisible from 衡阳县."""

    jurisdiction: Jurisdiction
    authority: Organisation
    office_admin: User
    inspector: User
    hospital: Organisation


@dataclass
class County:
    """衡阳县 430421 with its governance office and the organisations a sweep visits."""

    province: Jurisdiction
    city: Jurisdiction
    jurisdiction: Jurisdiction
    township: Jurisdiction
    authority: Organisation
    office_admin: User
    inspector: User
    hospital: Organisation  # practice licence + termination approval
    physician: User  # of the hospital, linked to a Person with a physician certificate
    pharmacist: User  # of the hospital, linked to a Person with a pharmacist qualification
    wholesaler: Organisation  # drug wholesale licence
    clerk: User  # wholesaler_clerk of the wholesaler
    pharmacy: Organisation  # retail pharmacy, drug retail licence
    clinic: Organisation  # individual clinic, practice licence
    other: OtherCounty

    def users(self) -> dict[str, User]:
        return {
            "office_admin": self.office_admin,
            "inspector": self.inspector,
            "pharmacist": self.pharmacist,
            "physician": self.physician,
            "wholesaler_clerk": self.clerk,
        }


def build_county() -> County:
    county = JurisdictionFactory(code="430421")
    township = JurisdictionFactory(code="430421001")
    authority = OrganisationFactory(kind=Kind.AUTHORITY, jurisdiction=county, name="衡阳县综合治理办公室")
    hospital = OrganisationFactory(
        kind=Kind.HOSPITAL, jurisdiction=county, name="衡阳县人民医院", licensed=True, termination_approved=True,
    )
    physician = UserFactory(username="physician", role=User.Role.PHYSICIAN, organisation=hospital,
                            with_person=True, first_name="李", last_name="医生")
    PersonLicenceFactory(holder_person=physician.person, kind=LKind.PHYSICIAN)
    pharmacist = UserFactory(username="pharmacist", role=User.Role.PHARMACIST, organisation=hospital,
                             with_person=True, first_name="张", last_name="药师")
    PersonLicenceFactory(holder_person=pharmacist.person, kind=LKind.PHARMACIST)
    wholesaler = OrganisationFactory(kind=Kind.WHOLESALER, jurisdiction=county, name="衡阳县康民医药有限公司",
                                     licensed=True)
    other_jurisdiction = JurisdictionFactory(code="430121")
    other_authority = OrganisationFactory(kind=Kind.AUTHORITY, jurisdiction=other_jurisdiction,
                                          name="长沙县综合治理办公室")
    return County(
        province=JurisdictionFactory(code="430000"),
        city=JurisdictionFactory(code="430400"),
        jurisdiction=county,
        township=township,
        authority=authority,
        office_admin=UserFactory(username="admin", role=User.Role.OFFICE_ADMIN, organisation=authority,
                                 department=User.Department.FAMILY_PLANNING),
        inspector=UserFactory(username="inspector", role=User.Role.INSPECTOR, organisation=authority,
                              department=User.Department.HEALTH),
        hospital=hospital,
        physician=physician,
        pharmacist=pharmacist,
        wholesaler=wholesaler,
        clerk=UserFactory(username="clerk", role=User.Role.WHOLESALER_CLERK, organisation=wholesaler),
        pharmacy=OrganisationFactory(kind=Kind.RETAIL_PHARMACY, jurisdiction=township, name="西渡大药房",
                                     licensed=True),
        clinic=OrganisationFactory(kind=Kind.INDIVIDUAL_CLINIC, jurisdiction=township, name="西渡个体诊所",
                                   licensed=True),
        other=OtherCounty(
            jurisdiction=other_jurisdiction,
            authority=other_authority,
            office_admin=UserFactory(username="other_admin", role=User.Role.OFFICE_ADMIN,
                                     organisation=other_authority),
            inspector=UserFactory(username="other_inspector", role=User.Role.INSPECTOR,
                                  organisation=other_authority, department=User.Department.DRUG_ADMINISTRATION),
            hospital=OrganisationFactory(kind=Kind.HOSPITAL, jurisdiction=other_jurisdiction, name="长沙县人民医院",
                                         licensed=True, termination_approved=True),
        ),
    )

"""backend.policies, table-driven from the rules in the county work plans (DOMAIN.md).

Every case is evaluated on a fixed date, ON, with licences dated around it, so the answers
do not depend on the day the suite runs. A case lists the organisation (or person) kind,
its licences, and the clause codes expected (empty: allowed).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import pytest
from django.utils import translation

from backend import policies
from backend.models import Licence
from tests.factories import LicenceFactory, OrganisationFactory, PersonFactory, PersonLicenceFactory

pytestmark = pytest.mark.django_db

ON = dt.date(2025, 6, 1)
YEAR_AGO = dt.date(2024, 6, 1)
NEXT_YEAR = dt.date(2026, 6, 1)


class L(NamedTuple):
    """A licence in a case: kind, from, until, revoked on, scope."""

    kind: str
    valid_from: dt.date = YEAR_AGO
    valid_until: dt.date | None = NEXT_YEAR
    revoked_at: dt.date | None = None
    scope: tuple[str, ...] = ()


PRACTICE = L("medical_practice")
APPROVAL = L("termination_approval", scope=("termination_surgery",))
FP_ULTRASOUND = L("family_planning_service", scope=("ultrasound", "termination_surgery"))
WHOLESALE = L("drug_wholesale")


def _licence_rows(org, licences) -> None:
    for lic in licences:
        LicenceFactory(
            holder_organisation=org, kind=lic.kind, valid_from=lic.valid_from, valid_until=lic.valid_until,
            revoked_at=lic.revoked_at, revoked_reason="伪造终止妊娠药品使用登记" if lic.revoked_at else "",
            scope=list(lic.scope),
        )


def org_with(kind: str, *licences: L):
    org = OrganisationFactory(kind=kind)
    _licence_rows(org, licences)
    return org


def codes(decision) -> list[str]:
    return [c.code for c in decision.clauses]


# --- may_receive_termination_drugs ----------------------------------------------------

RECEIVE_CASES = [
    pytest.param("retail_pharmacy", [PRACTICE, APPROVAL, L("drug_retail")], ["retail_pharmacy"],
                 id="药品零售企业不得销售终止妊娠药品: retail pharmacy refused even with approvals"),
    pytest.param("individual_clinic", [PRACTICE, APPROVAL], ["individual_clinic"],
                 id="个体诊所不得使用药物终止妊娠: individual clinic refused"),
    pytest.param("hospital", [PRACTICE, APPROVAL], [],
                 id="经县级以上卫生计生部门批准开展终止妊娠手术的机构: hospital with practice licence and approval"),
    pytest.param("township_health_centre", [PRACTICE, APPROVAL], [],
                 id="township health centre with practice licence and approval"),
    pytest.param("family_planning", [FP_ULTRASOUND, APPROVAL], [],
                 id="family-planning service institution with its service licence and approval"),
    pytest.param("hospital", [PRACTICE], ["termination_approval_missing"],
                 id="approval missing: hospital without termination approval refused"),
    pytest.param("hospital", [PRACTICE, L("termination_approval", dt.date(2022, 1, 1), dt.date(2025, 5, 31))],
                 ["termination_approval_expired"], id="approval expired the day before"),
    pytest.param("hospital", [PRACTICE, L("termination_approval", YEAR_AGO, ON)], [],
                 id="approval valid through its last day"),
    pytest.param("hospital", [PRACTICE, L("termination_approval", revoked_at=dt.date(2025, 5, 1))],
                 ["termination_approval_revoked"], id="approval revoked"),
    pytest.param("hospital", [PRACTICE, L("termination_approval", revoked_at=ON)],
                 ["termination_approval_revoked"], id="approval revoked today no longer counts today"),
    pytest.param("hospital", [PRACTICE, L("termination_approval", revoked_at=dt.date(2025, 7, 1))], [],
                 id="approval revoked from a later date still counts today"),
    pytest.param("hospital", [PRACTICE, L("termination_approval", dt.date(2025, 7, 1), dt.date(2028, 7, 1))],
                 ["termination_approval_not_yet_valid"], id="approval not yet valid"),
    pytest.param("hospital", [PRACTICE, L("termination_approval", dt.date(2020, 1, 1), dt.date(2024, 12, 31)),
                              L("termination_approval", dt.date(2025, 1, 1), dt.date(2029, 12, 31))], [],
                 id="renewal row makes an expired approval valid again"),
    pytest.param("hospital", [L("medical_practice", dt.date(2020, 1, 1), dt.date(2025, 1, 1)), APPROVAL],
                 ["medical_practice_expired"], id="practice licence expired: approval alone is not enough"),
    pytest.param("hospital", [], ["medical_practice_missing", "termination_approval_missing"],
                 id="no licences at all: both clauses reported"),
    pytest.param("wholesaler", [WHOLESALE], ["not_medical_institution"],
                 id="wholesaler is not an institution that uses the drugs"),
    pytest.param("authority", [], ["not_medical_institution"], id="authority refused"),
]


@pytest.mark.parametrize(("kind", "licences", "expected"), RECEIVE_CASES)
def test_may_receive_termination_drugs(kind, licences, expected):
    decision = policies.may_receive_termination_drugs(org_with(kind, *licences), ON)
    assert codes(decision) == expected
    assert bool(decision) is (expected == [])
    assert all(c.message for c in decision.clauses)


def test_expired_approval_message_names_the_date():
    org = org_with("hospital", PRACTICE, L("termination_approval", dt.date(2022, 1, 1), dt.date(2025, 5, 31)))
    with translation.override("en"):
        decision = policies.may_receive_termination_drugs(org, ON)
    assert decision.messages == ["termination-surgery approval expired on 2025-05-31"]
    with translation.override("zh-hans"):
        decision = policies.may_receive_termination_drugs(org, ON)
    assert "2025-05-31" in decision.messages[0] and "过期" in decision.messages[0]
    assert decision.as_details() == [{"code": "termination_approval_expired", "message": decision.messages[0]}]


def test_revoked_approval_message_gives_date_and_reason():
    org = org_with("hospital", PRACTICE, L("termination_approval", revoked_at=dt.date(2025, 5, 1)))
    with translation.override("en"):
        (message,) = policies.may_receive_termination_drugs(org, ON).messages
    assert "2025-05-01" in message and "伪造终止妊娠药品使用登记" in message


def test_renewal_keeps_the_history_row():
    """续期为新记录，旧证留档: the expired approval stays on record after renewal."""
    org = org_with("hospital", PRACTICE, L("termination_approval", dt.date(2020, 1, 1), dt.date(2024, 12, 31)))
    assert codes(policies.may_receive_termination_drugs(org, ON)) == ["termination_approval_expired"]
    _licence_rows(org, [L("termination_approval", dt.date(2025, 1, 1), dt.date(2029, 12, 31))])
    org = type(org).objects.get(pk=org.pk)
    assert policies.may_receive_termination_drugs(org, ON)
    assert org.licences.filter(kind="termination_approval").count() == 2
    # and before the renewal started, the old row still answers for its own period
    assert policies.may_receive_termination_drugs(org, dt.date(2024, 6, 1))


def test_decision_reads_prefetched_licences():
    """Callers may prefetch licences; the policy then makes no further queries."""
    org = org_with("hospital", PRACTICE, APPROVAL)
    org = type(org).objects.prefetch_related("licences").get(pk=org.pk)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert policies.may_receive_termination_drugs(org, ON)
    assert len(queries) == 0


# --- may_supply_termination_drugs -----------------------------------------------------

SUPPLY_CASES = [
    pytest.param("wholesaler", [WHOLESALE], [], id="licensed wholesaler may supply"),
    pytest.param("wholesaler", [L("drug_wholesale", dt.date(2020, 1, 1), dt.date(2025, 5, 1))],
                 ["drug_wholesale_expired"], id="wholesaler with expired licence refused"),
    pytest.param("wholesaler", [], ["drug_wholesale_missing"], id="wholesaler without licence refused"),
    pytest.param("wholesaler", [L("drug_wholesale", revoked_at=dt.date(2025, 3, 1))], ["drug_wholesale_revoked"],
                 id="wholesaler with revoked licence refused"),
    pytest.param("manufacturer", [], [], id="生产企业 manufacturer may supply"),
    pytest.param("retail_pharmacy", [L("drug_retail")], ["retail_pharmacy"],
                 id="药品零售企业不得销售终止妊娠药品: retail pharmacy may not sell"),
    pytest.param("hospital", [PRACTICE, APPROVAL], ["not_supplier"], id="hospital is not a supplier"),
    pytest.param("individual_clinic", [PRACTICE], ["not_supplier"], id="individual clinic is not a supplier"),
]


@pytest.mark.parametrize(("kind", "licences", "expected"), SUPPLY_CASES)
def test_may_supply_termination_drugs(kind, licences, expected):
    decision = policies.may_supply_termination_drugs(org_with(kind, *licences), ON)
    assert codes(decision) == expected
    assert bool(decision) is (expected == [])


# --- may_hold_device ------------------------------------------------------------------

HOLD_CASES = [
    pytest.param("individual_clinic", [PRACTICE], "ultrasound", ["individual_clinic"],
                 id="个体诊所不得购买使用B超: individual clinic refused even when licensed"),
    pytest.param("retail_pharmacy", [L("drug_retail")], "ultrasound", ["retail_pharmacy"], id="retail pharmacy refused"),
    pytest.param("wholesaler", [WHOLESALE], "ultrasound", ["wholesaler"], id="wholesaler refused"),
    pytest.param("authority", [], "ultrasound", ["not_medical_institution"], id="authority refused"),
    pytest.param("hospital", [PRACTICE], "ultrasound", [],
                 id="取得医疗机构执业许可证的医疗机构: hospital with practice licence allowed"),
    pytest.param("hospital", [PRACTICE], "chromosome_testing", [], id="hospital may hold chromosome-testing equipment"),
    pytest.param("private_clinic", [PRACTICE], "ultrasound", [], id="licensed private clinic allowed"),
    pytest.param("hospital", [], "ultrasound", ["medical_practice_missing"], id="hospital without practice licence"),
    pytest.param("hospital", [L("medical_practice", dt.date(2020, 1, 1), dt.date(2025, 5, 1))], "ultrasound",
                 ["medical_practice_expired"], id="hospital with expired practice licence"),
    pytest.param("family_planning", [FP_ULTRASOUND], "ultrasound", [],
                 id="计划生育技术服务机构执业许可证 listing ultrasound in scope: allowed"),
    pytest.param("family_planning", [L("family_planning_service", scope=("termination_surgery",))], "ultrasound",
                 ["family_planning_service_scope_missing"], id="family-planning licence without ultrasound in scope"),
    pytest.param("family_planning", [L("family_planning_service", scope=("termination_surgery",)), PRACTICE],
                 "ultrasound", [], id="family-planning institution that also holds a practice licence"),
    pytest.param("family_planning", [FP_ULTRASOUND], "chromosome_testing",
                 ["family_planning_service_scope_missing"], id="ultrasound scope does not cover chromosome testing"),
    pytest.param("family_planning", [L("family_planning_service", dt.date(2020, 1, 1), dt.date(2025, 1, 1),
                                       scope=("ultrasound",))], "ultrasound",
                 ["family_planning_service_expired"], id="family-planning licence expired"),
    pytest.param("family_planning", [], "ultrasound", ["family_planning_service_missing"],
                 id="family-planning institution without any licence"),
    pytest.param("hospital", [PRACTICE], "x_ray", ["unknown_device_kind"], id="unknown device kind"),
]


@pytest.mark.parametrize(("kind", "licences", "device", "expected"), HOLD_CASES)
def test_may_hold_device(kind, licences, device, expected):
    decision = policies.may_hold_device(org_with(kind, *licences), device, ON)
    assert codes(decision) == expected
    assert bool(decision) is (expected == [])


# --- people: is_licensed and may_operate_device ----------------------------------------


def person_with(*licences: L):
    person = PersonFactory()
    for lic in licences:
        PersonLicenceFactory(
            holder_person=person, kind=lic.kind, valid_from=lic.valid_from, valid_until=lic.valid_until,
            revoked_at=lic.revoked_at, revoked_reason="吊销" if lic.revoked_at else "", scope=list(lic.scope),
        )
    return person


MATERNAL_US = L("maternal_infant", scope=("ultrasound", "prenatal_diagnosis"))

LICENSED_CASES = [
    pytest.param([L("physician")], "physician", None, [], id="持证上岗: physician with valid certificate"),
    pytest.param([], "physician", None, ["physician_missing"], id="no certificate"),
    pytest.param([L("physician", dt.date(2015, 1, 1), dt.date(2025, 5, 31))], "physician", None,
                 ["physician_expired"], id="certificate expired"),
    pytest.param([L("physician", revoked_at=dt.date(2025, 1, 1))], "physician", None, ["physician_revoked"],
                 id="certificate revoked"),
    pytest.param([L("pharmacist", dt.date(2025, 9, 1), None)], "pharmacist", None, ["pharmacist_not_yet_valid"],
                 id="qualification not yet valid"),
    pytest.param([L("pharmacist", dt.date(2015, 1, 1), None)], "pharmacist", None, [],
                 id="qualification without end date"),
    pytest.param([L("physician")], "pharmacist", None, ["pharmacist_missing"], id="wrong kind does not count"),
    pytest.param([MATERNAL_US], "maternal_infant", "prenatal_diagnosis", [], id="certificate covers the scope"),
    pytest.param([L("maternal_infant", scope=("ultrasound",))], "maternal_infant", "prenatal_diagnosis",
                 ["maternal_infant_scope_missing"], id="certificate does not cover the scope"),
]


@pytest.mark.parametrize(("licences", "kind", "scope", "expected"), LICENSED_CASES)
def test_is_licensed(licences, kind, scope, expected):
    decision = policies.is_licensed(person_with(*licences), kind, ON, scope=scope)
    assert codes(decision) == expected


OPERATE_CASES = [
    pytest.param([MATERNAL_US], "ultrasound", [],
                 id="母婴保健技术考核合格证书 covering ultrasound: may operate"),
    pytest.param([L("physician")], "ultrasound", ["maternal_infant_missing"],
                 id="physician certificate alone does not allow operating (no licence, no operating)"),
    pytest.param([MATERNAL_US], "chromosome_testing", ["maternal_infant_scope_missing"],
                 id="ultrasound certificate does not cover chromosome testing"),
    pytest.param([L("maternal_infant", dt.date(2018, 1, 1), dt.date(2025, 5, 1), scope=("ultrasound",))],
                 "ultrasound", ["maternal_infant_expired"], id="certificate expired"),
    pytest.param([L("maternal_infant", dt.date(2018, 1, 1), dt.date(2025, 5, 1), scope=("ultrasound",)),
                  L("maternal_infant", dt.date(2025, 5, 2), dt.date(2030, 5, 1), scope=("ultrasound",))],
                 "ultrasound", [], id="renewed certificate"),
    pytest.param([MATERNAL_US], "x_ray", ["unknown_device_kind"], id="unknown device kind"),
]


@pytest.mark.parametrize(("licences", "device", "expected"), OPERATE_CASES)
def test_may_operate_device(licences, device, expected):
    decision = policies.may_operate_device(person_with(*licences), device, ON)
    assert codes(decision) == expected
    assert bool(decision) is (expected == [])


def test_licence_kinds_in_cases_exist():
    """Guard against a typo in the tables above silently testing a 'missing' licence."""
    kinds = {p.values[1][i].kind for p in RECEIVE_CASES + SUPPLY_CASES for i in range(len(p.values[1]))}
    kinds |= {lic.kind for p in HOLD_CASES for lic in p.values[1]}
    kinds |= {lic.kind for p in LICENSED_CASES + OPERATE_CASES for lic in p.values[0]}
    assert kinds <= set(Licence.Kind.values)


def test_prefetch_licences_loads_several_holders_in_one_query(django_assert_num_queries):
    org = OrganisationFactory(kind="hospital", licensed=True, termination_approved=True)
    person = PersonFactory(organisation=org)
    PersonLicenceFactory(holder_person=person)
    PersonLicenceFactory(holder_person=person, expired=True)
    other = PersonFactory(organisation=org)  # no licence at all
    fresh = [sorted(h.licences.values_list("pk", flat=True)) for h in (org, person, other)]
    with django_assert_num_queries(1):
        policies.prefetch_licences(org, person, other)
    with django_assert_num_queries(0):
        loaded = [sorted(lic.pk for lic in h.licences.all()) for h in (org, person, other)]
        assert all(lic.holder_person is person for lic in person.licences.all())
        assert policies.is_licensed(person, Licence.Kind.PHYSICIAN, dt.date.today())
        assert not policies.is_licensed(other, Licence.Kind.PHYSICIAN, dt.date.today())
    assert loaded == fresh and len(fresh[1]) == 2 and fresh[2] == []
    with django_assert_num_queries(0):
        policies.prefetch_licences(org, person)  # already loaded: nothing to do


@pytest.mark.django_db
def test_a_revocation_still_to_take_effect_can_be_brought_forward_not_pushed_back(county, client_for):
    from django.utils import timezone

    approval = county.hospital.licences.get(kind=Licence.Kind.TERMINATION_APPROVAL)
    office = client_for(county.office_admin)
    today = timezone.localdate()

    def revoke(on, reason):
        return office.post(f"/api/licences/{approval.pk}/revoke/", {"on": on.isoformat(), "reason": reason},
                           format="json")

    assert revoke(today + dt.timedelta(days=30), "限期整改未完成将吊销").status_code == 200
    later = revoke(today + dt.timedelta(days=40), "再延期")
    assert later.status_code == 409 and later.json()["error"]["details"]["revoked_at"] == (
        today + dt.timedelta(days=30)).isoformat()
    assert revoke(today, "查实开展两非，立即吊销").status_code == 200
    approval.refresh_from_db()
    assert (approval.revoked_at, approval.revoked_reason) == (today, "查实开展两非，立即吊销")
    assert revoke(today - dt.timedelta(days=1), "再提前").status_code == 409  # in force: final

"""The factories make rows that pass the model's own validation, so tests built on them
exercise valid data unless they say otherwise."""

import pytest
from stdnum.cn import ric, uscc

from backend.models import Jurisdiction, Licence, Organisation, User, jurisdiction_code_errors
from tests.factories import (
    JurisdictionFactory,
    LicenceFactory,
    OrganisationFactory,
    PersonFactory,
    PersonLicenceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_jurisdiction_chain_is_valid_and_shared():
    county = JurisdictionFactory()
    assert (county.code, county.name, county.level) == ("430421", "衡阳县", "county")
    assert [j.code for j in county.ancestors_and_self()] == ["430421", "430400", "430000"]
    for node in county.ancestors_and_self():
        assert jurisdiction_code_errors(node.code, node.level) == []
        node.full_clean()
    township = JurisdictionFactory(code="430421001")
    township.full_clean()
    assert township.parent == county
    assert JurisdictionFactory(code="430421") == county  # get-or-create by code
    assert Jurisdiction.objects.count() == 4


def test_identifiers_are_valid_and_unique():
    orgs = OrganisationFactory.create_batch(5)
    people = PersonFactory.create_batch(5)
    assert all(uscc.is_valid(o.credit_code) for o in orgs)
    assert all(ric.is_valid(p.resident_id) for p in people)
    assert len({o.credit_code for o in orgs}) == 5
    assert len({p.resident_id for p in people}) == 5
    for row in [*orgs, *people]:
        row.full_clean()


def test_licences_and_users_pass_full_clean():
    org = OrganisationFactory(kind="hospital", licensed=True, termination_approved=True)
    assert sorted(org.licences.values_list("kind", flat=True)) == ["medical_practice", "termination_approval"]
    for lic in [*org.licences.all(), LicenceFactory(expired=True), LicenceFactory(revoked=True),
                LicenceFactory(not_yet_valid=True), PersonLicenceFactory(kind="maternal_infant", scope=["ultrasound"])]:
        lic.full_clean()
    for role in User.Role.values:
        user = UserFactory(role=role, with_person=True)
        user.full_clean()
        assert user.check_password("demo12345")
        assert user.person.organisation == user.organisation


def test_county_fixture(county):
    assert county.office_admin.is_authority and county.inspector.is_authority
    assert county.office_admin.jurisdiction_prefix == "430421"
    assert county.pharmacy.jurisdiction.parent == county.jurisdiction
    assert county.other.jurisdiction.code == "430121"
    assert not county.other.hospital.jurisdiction.code.startswith(county.jurisdiction.prefix)
    assert Organisation.objects.count() == 7
    assert Licence.objects.filter(holder_person__isnull=False).count() == 2
    for user in User.objects.all():
        user.full_clean()

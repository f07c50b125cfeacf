"""Bad input through HTTP: always 400 (415 for an unsupported content type) in the one error
envelope, naming the field, in the language the client asked for; never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
from stdnum.cn import uscc

from backend.models import Jurisdiction, Licence, Organisation, Person
from tests.conftest import error_of
from tests.factories import OrganisationFactory, UserFactory, make_resident_id, make_uscc

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def admin(county, client_for):
    return client_for(county.office_admin)


@pytest.fixture
def city_admin(county, client_for):
    """An office administrator of 衡阳市, who may add counties."""
    authority = OrganisationFactory(kind="authority", jurisdiction=county.city, name="衡阳市综合治理办公室")
    return client_for(UserFactory(role="office_admin", organisation=authority))


def organisation_payload(county, **overrides):
    return {
        "name": "衡阳县新建妇幼保健院",
        "kind": "hospital",
        "credit_code": make_uscc(777_001),
        "jurisdiction": county.jurisdiction.pk,
        "address": "衡阳县西渡镇",
        **overrides,
    }


def field_error(response, field: str) -> dict:
    """The first error for `field` in a validation envelope."""
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "validation_error", error
    assert field in error["details"], error
    first = error["details"][field][0]
    assert set(first) == {"code", "message"}
    return first


# --- identifiers ----------------------------------------------------------------------


def bad_check_character(code: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return code[:-1] + next(c for c in alphabet if c != code[-1])


@pytest.mark.parametrize(("headers", "text"), [
    (EN, "is not a valid unified social credit code"),
    (ZH, "不是有效的统一社会信用代码"),
], ids=["en", "zh-hans"])
def test_invalid_credit_code_names_the_field(admin, county, headers, text):
    code = bad_check_character(make_uscc(777_002))
    assert not uscc.is_valid(code)
    response = admin.post("/api/organisations/", organisation_payload(county, credit_code=code), format="json",
                          **headers)
    first = field_error(response, "credit_code")
    assert first["code"] == "invalid_uscc"
    assert text in first["message"]
    assert text in error_of(response)["message"]
    assert not Organisation.objects.filter(credit_code=code).exists()


@pytest.mark.parametrize("code", ["91430421MA4L", "91430421MA4L0000000", "", "ABCDEFGHJKLMNPQRTU"],
                         ids=["too short", "too long", "empty", "letters in the division"])
def test_malformed_credit_codes_are_400(admin, county, code):
    response = admin.post("/api/organisations/", organisation_payload(county, credit_code=code), format="json")
    field_error(response, "credit_code")


def test_credit_code_is_normalised(admin, county):
    code = make_uscc(777_003)
    spaced = f" {code[:6]} {code[6:12]}-{code[12:].lower()} "
    response = admin.post("/api/organisations/", organisation_payload(county, credit_code=spaced), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["credit_code"] == code


@pytest.mark.parametrize("headers", [EN, ZH], ids=["en", "zh-hans"])
def test_duplicate_credit_code_names_the_field(admin, county, headers):
    response = admin.post("/api/organisations/",
                          organisation_payload(county, credit_code=county.hospital.credit_code),
                          format="json", **headers)
    field_error(response, "credit_code")
    assert Organisation.objects.filter(credit_code=county.hospital.credit_code).count() == 1


@pytest.mark.parametrize(("headers", "text"), [
    (EN, "is not a valid resident ID number"),
    (ZH, "不是有效的居民身份证号"),
], ids=["en", "zh-hans"])
def test_invalid_resident_id_names_the_field_and_masks_it(admin, county, headers, text):
    good = make_resident_id(777_004)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = admin.post("/api/people/", {"name": "赵敏", "resident_id": bad, "organisation": county.hospital.pk,
                                           "position": "nurse"}, format="json", **headers)
    first = field_error(response, "resident_id")
    assert first["code"] == "invalid_resident_id"
    assert text in first["message"]
    assert bad not in response.content.decode()  # the number typed is echoed only masked
    assert bad[:6] in first["message"] and bad[-4:] in first["message"]
    assert not Person.objects.filter(name="赵敏").exists()


@pytest.mark.parametrize("resident_id", [
    "43042119850101001",  # 17 characters
    "430421198502300012",  # 30 February
    "999999198501010010",  # no such region
], ids=["too short", "impossible birth date", "unknown region"])
def test_malformed_resident_ids_are_400(admin, county, resident_id):
    response = admin.post("/api/people/", {"name": "赵敏", "resident_id": resident_id,
                                           "organisation": county.hospital.pk}, format="json")
    field_error(response, "resident_id")


def test_duplicate_resident_id_is_400(admin, county):
    response = admin.post("/api/people/", {"name": "重复", "resident_id": county.physician.person.resident_id,
                                           "organisation": county.hospital.pk}, format="json")
    field_error(response, "resident_id")


# --- division codes -------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "text"), [
    ({"code": "43042", "level": "county"}, "a division code has 6 digits"),
    ({"code": "4304230", "level": "county"}, "a division code has 6 digits"),
    ({"code": "43042A", "level": "county"}, "digits only"),
    ({"code": "430500", "level": "county"}, "a county code does not end in 00"),
    ({"code": "430521", "level": "county"}, "is not within parent 430400"),
], ids=["5 digits", "7 digits", "letter", "county code ending in 00", "county of another city"])
def test_invalid_county_codes(city_admin, county, payload, text):
    response = city_admin.post("/api/jurisdictions/", {"name": "测试县", "parent": county.city.pk, **payload},
                               format="json", **EN)
    first = field_error(response, "code")
    assert text in first["message"]
    assert not Jurisdiction.objects.filter(code=payload["code"]).exists()


@pytest.mark.parametrize(("code", "text"), [
    ("4304210", "a township code has 9 digits"),
    ("4304210011", "no more than 9 characters"),
    ("430422001", "is not within parent 430421"),
], ids=["7 digits", "10 digits", "township of another county"])
def test_invalid_township_codes(admin, county, code, text):
    response = admin.post("/api/jurisdictions/", {"code": code, "name": "测试镇", "level": "township",
                                                  "parent": county.jurisdiction.pk}, format="json", **EN)
    first = field_error(response, "code")
    assert text in first["message"]


def test_township_code_error_in_chinese(admin, county):
    response = admin.post("/api/jurisdictions/", {"code": "4304210", "name": "测试镇", "level": "township",
                                                  "parent": county.jurisdiction.pk}, format="json", **ZH)
    assert "乡镇代码为9位" in field_error(response, "code")["message"]


def test_valid_township_is_created(admin, county):
    response = admin.post("/api/jurisdictions/", {"code": "430421105", "name": "界牌镇", "level": "township",
                                                  "parent": county.jurisdiction.pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["prefix"] == "430421105"


def test_unknown_level_is_400(admin, county):
    response = admin.post("/api/jurisdictions/", {"code": "430421106", "name": "测试", "level": "village",
                                                  "parent": county.jurisdiction.pk}, format="json")
    assert field_error(response, "level")["code"] == "invalid_choice"


# --- licences -------------------------------------------------------------------------


def licence_payload(county, **overrides):
    return {
        "holder_organisation": county.hospital.pk,
        "kind": "termination_approval",
        "number": "衡县卫计批〔2025〕7号",
        "issuing_authority": "衡阳县卫生健康局",
        "valid_from": "2025-01-01",
        "valid_until": "2027-12-31",
        "scope": ["termination_surgery"],
        **overrides,
    }


@pytest.mark.parametrize(("headers", "text"), [(EN, "valid until is before valid from"), (ZH, "有效期截止日早于起始日")],
                         ids=["en", "zh-hans"])
def test_valid_until_before_valid_from(admin, county, headers, text):
    response = admin.post("/api/licences/", licence_payload(county, valid_until="2024-12-31"), format="json",
                          **headers)
    assert text in field_error(response, "valid_until")["message"]
    assert not Licence.objects.filter(number="衡县卫计批〔2025〕7号").exists()


def test_patch_valid_until_before_existing_valid_from(admin, county):
    licence = county.hospital.licences.get(kind="termination_approval")
    response = admin.patch(f"/api/licences/{licence.pk}/",
                           {"valid_until": (licence.valid_from - dt.timedelta(days=1)).isoformat()}, format="json")
    field_error(response, "valid_until")


@pytest.mark.parametrize(("field", "value", "code"), [
    ("kind", "driving_licence", "invalid_choice"),
    ("valid_from", "2025-13-01", "invalid"),
    ("scope", ["ultrasound", "astrology"], None),
    ("holder_organisation", 999_999, "does_not_exist"),
], ids=["unknown kind", "impossible date", "unknown scope item", "no such holder"])
def test_bad_licence_fields(admin, county, field, value, code):
    response = admin.post("/api/licences/", licence_payload(county, **{field: value}), format="json")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert field in error["details"], error
    if code:
        assert error["details"][field][0]["code"] == code


def test_licence_with_two_holders_is_400(admin, county):
    response = admin.post("/api/licences/", licence_payload(county, holder_person=county.physician.person.pk,
                                                            kind="physician"), format="json")
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "validation_error"


def test_person_licence_kind_on_an_organisation_is_400(admin, county):
    response = admin.post("/api/licences/", licence_payload(county, kind="pharmacist"), format="json", **EN)
    assert "held by a person" in field_error(response, "kind")["message"]


def test_duplicate_licence_number_is_400(admin, county):
    existing = county.hospital.licences.get(kind="termination_approval")
    response = admin.post("/api/licences/", licence_payload(county, number=existing.number,
                                                            issuing_authority=existing.issuing_authority),
                          format="json")
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "validation_error"


# --- organisation kinds, missing fields -----------------------------------------------


@pytest.mark.parametrize("headers", [EN, ZH], ids=["en", "zh-hans"])
def test_unknown_organisation_kind(admin, county, headers):
    response = admin.post("/api/organisations/", organisation_payload(county, kind="spaceport"), format="json",
                          **headers)
    first = field_error(response, "kind")
    assert first["code"] == "invalid_choice"
    assert "spaceport" in first["message"]


def test_missing_required_fields_are_all_named(admin):
    response = admin.post("/api/organisations/", {}, format="json", **EN)
    assert response.status_code == 400
    details = error_of(response)["details"]
    assert {"name", "kind", "credit_code", "jurisdiction"} <= set(details)
    assert details["name"][0]["code"] == "required"


# --- malformed requests ---------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/organisations/", "/api/people/", "/api/licences/", "/api/jurisdictions/",
                                 "/api/auth/token/"])
def test_malformed_json_is_400(admin, url):
    response = admin.post(url, data='{"name": "衡阳县', content_type="application/json", **EN)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_request"
    assert "JSON" in error["message"]


def test_malformed_json_in_chinese(admin):
    response = admin.post("/api/organisations/", data="{", content_type="application/json", **ZH)
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"


def test_json_that_is_not_an_object_is_400(admin):
    response = admin.post("/api/organisations/", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


@pytest.mark.parametrize("url", ["/api/organisations/", "/api/licences/", "/api/auth/token/"])
def test_wrong_content_type_is_415(admin, url):
    response = admin.post(url, data="name=衡阳县", content_type="text/plain", **EN)
    assert response.status_code == 415
    error = error_of(response)
    assert error["code"] == "unsupported_media_type"
    assert "text/plain" in error["message"]


def test_bad_filter_values_are_400_not_500(admin):
    response = admin.get("/api/licences/", {"valid_on": "not-a-date", "expiring_within": "-3"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_unknown_route_and_method(admin, county):
    assert admin.get("/api/organisations/999999/").status_code == 404
    assert error_of(admin.get("/api/organisations/999999/"))["code"] == "not_found"
    response = admin.delete(f"/api/organisations/{county.hospital.pk}/")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert Organisation.objects.filter(pk=county.hospital.pk).exists()


def test_a_date_near_year_one_is_a_400_not_a_500(county, client_for):
    """DRF turns "0001-01-01T00:00:00" into an aware time in Asia/Shanghai and overflows:
    the error handler answers that as bad input, in the envelope."""
    from tests.conftest import error_of
    from tests.inventory.factories import BatchFactory, dispense_payload, stock_institution

    batch = BatchFactory()
    stock_institution(county, batch, 5)
    body = {**dispense_payload(county, batch), "occurred_at": "0001-01-01T00:00:00"}
    r = client_for(county.pharmacist).post("/api/dispenses/", body, format="json")
    assert r.status_code == 400 and error_of(r)["code"] == "value_out_of_range"


def test_quantities_past_the_cap_are_a_400_not_an_overflow(county, client_for):
    """A typo of extra digits in a quantity answers 400 naming the field; the 32-bit columns
    (and the positions that add them up) never see it."""
    from inventory.models import MAX_QUANTITY
    from tests.conftest import error_of
    from tests.inventory.factories import BatchFactory, dispense_payload, stock_institution

    batch = BatchFactory()
    stock_institution(county, batch, 5)
    r = client_for(county.pharmacist).post("/api/dispenses/", {**dispense_payload(county, batch),
                                                               "quantity": MAX_QUANTITY + 1}, format="json")
    assert r.status_code == 400 and "quantity" in error_of(r)["details"]
    r = client_for(county.clerk).post("/api/intakes/", {"batch": batch.pk, "quantity": 10**30, "invoice_number": "I-1",
                                                        "supplier_name": "华润紫竹药业"}, format="json")
    assert r.status_code == 400 and "quantity" in error_of(r)["details"]

"""The permission matrix of the endpoints outside `backend.urls.router` (downloads, labels,
reports, the scan endpoint, /api/me/, the token exchange, the schema): every role and
anonymous, over three places, like test_permission_matrix.py does for the router.

Roles: anonymous; office_admin and inspector of 衡阳县; pharmacist and physician of
衡阳县人民医院; the wholesaler clerk of 衡阳县康民医药; other_inspector and other_admin of 长沙县.

Places (the organisation whose record is asked for):
- "home"    = 衡阳县人民医院, the pharmacist's and physician's own organisation (for the
              wholesaler-only sales summary: 衡阳县康民医药, the clerk's own);
- "county"  = another organisation of 衡阳县, in a township (西渡镇卫生院, or a second
              wholesaler for the sales summary), so "and below" is tested;
- "outside" = an organisation of 长沙县 (its hospital, or a wholesaler there): the other
              county's own jurisdiction.
For the parameters that name a jurisdiction (reconciliations, filing status) the places are
衡阳县 430421, 西渡镇 430421001 and 长沙县 430121.

The rules (README "Who sees what"; issues 2-7): members see their own organisation's
records; inspectors and office administrators everything in their jurisdiction and below,
nothing outside; anonymous 401. A wholesaler never sees patient data (issue 3), so never a
use register. Sweeps, visits and their reports are the jurisdiction's authorities' only
(issue 7). The scan endpoint always says what a code *is*; holders and balances only where
the caller may see them (issue 5). A record the caller may not see is 404, the same as one
that does not exist; a parameter naming an organisation or jurisdiction the caller may not
see is "403 not_allowed" (audits/api/views.py: `_organisation_param`, `_jurisdiction_scope`).

Outcomes: a status code or "403 <error code>" (400 and 401 with their code too).

HOW TO ADD AN ENDPOINT: a new non-router `api/` pattern fails `test_every_endpoint_has_a_row`
until its url name is in COVERED, mapped to the test that covers it.
"""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from rest_framework.authtoken.models import Token

import backend.urls
from backend.models import Organisation, User
from scanning.label_views import batch_label_for
from tests.conftest import error_of, token_client
from tests.devices.permission_rows import device_record
from tests.factories import PASSWORD, OrganisationFactory
from tests.inventory.factories import BatchFactory
from tests.inventory.permission_rows import give_stock
from tests.reconciliation.scenario import Month, last_month
from tests.sweeps.permission_rows import ENDPOINTS as SWEEP_ROWS

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "office_admin", "inspector", "pharmacist", "physician", "wholesaler_clerk",
         "other_inspector", "other_admin")
PLACES = ("home", "county", "outside")


def table(**rows) -> dict:
    """A role -> (home, county, outside) table; every role must have a row."""
    assert set(rows) == set(ROLES), f"roles missing from the table: {set(ROLES) - set(rows)}"
    assert all(len(row) == len(PLACES) for row in rows.values())
    return rows


NOT_ALLOWED = "403 not_allowed"

# A record held by the place's organisation: 200 where the caller may see it, 404 elsewhere.
SCOPED = table(
    #                  home  county outside
    anonymous=(401, 401, 401),
    office_admin=(200, 200, 404),
    inspector=(200, 200, 404),
    pharmacist=(200, 404, 404),
    physician=(200, 404, 404),
    wholesaler_clerk=(404, 404, 404),  # the clerk's organisation holds none of these
    other_inspector=(404, 404, 200),
    other_admin=(404, 404, 200),
)
# Sweeps and visits: the jurisdiction's authorities only; the inspected site does not see them.
AUTHORITIES_ONLY = table(
    anonymous=(401, 401, 401),
    office_admin=(200, 200, 404),
    inspector=(200, 200, 404),
    pharmacist=(404, 404, 404),
    physician=(404, 404, 404),
    wholesaler_clerk=(404, 404, 404),
    other_inspector=(404, 404, 200),
    other_admin=(404, 404, 200),
)
# A parameter naming a jurisdiction: authorities within theirs; members get their own side.
JURISDICTION_PARAM = table(
    anonymous=(401, 401, 401),
    office_admin=(200, 200, NOT_ALLOWED),
    inspector=(200, 200, NOT_ALLOWED),
    pharmacist=(200, 200, 200),
    physician=(200, 200, 200),
    wholesaler_clerk=(200, 200, 200),
    other_inspector=(NOT_ALLOWED, NOT_ALLOWED, 200),
    other_admin=(NOT_ALLOWED, NOT_ALLOWED, 200),
)
FORMS = {
    # 使用终止妊娠药品情况登记表: patient data, never to a wholesaler.
    "usage-register": table(
        anonymous=(401, 401, 401),
        office_admin=(200, 200, NOT_ALLOWED),
        inspector=(200, 200, NOT_ALLOWED),
        pharmacist=(200, NOT_ALLOWED, NOT_ALLOWED),
        physician=(200, NOT_ALLOWED, NOT_ALLOWED),
        wholesaler_clerk=(NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
        other_inspector=(NOT_ALLOWED, NOT_ALLOWED, 200),
        other_admin=(NOT_ALLOWED, NOT_ALLOWED, 200),
    ),
    # 终止妊娠药品情况汇总表 of an institution's books.
    "drug-summary": table(
        anonymous=(401, 401, 401),
        office_admin=(200, 200, NOT_ALLOWED),
        inspector=(200, 200, NOT_ALLOWED),
        pharmacist=(200, NOT_ALLOWED, NOT_ALLOWED),
        physician=(200, NOT_ALLOWED, NOT_ALLOWED),
        wholesaler_clerk=(NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
        other_inspector=(NOT_ALLOWED, NOT_ALLOWED, 200),
        other_admin=(NOT_ALLOWED, NOT_ALLOWED, 200),
    ),
    # 企业终止妊娠药品销售情况汇总表 of a wholesaler (places are wholesalers: home = the clerk's).
    "sales-summary": table(
        anonymous=(401, 401, 401),
        office_admin=(200, 200, NOT_ALLOWED),
        inspector=(200, 200, NOT_ALLOWED),
        pharmacist=(NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
        physician=(NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
        wholesaler_clerk=(200, NOT_ALLOWED, NOT_ALLOWED),
        other_inspector=(NOT_ALLOWED, NOT_ALLOWED, 200),
        other_admin=(NOT_ALLOWED, NOT_ALLOWED, 200),
    ),
}

# --- completeness ------------------------------------------------------------------------

# url name -> the test below that covers it
COVERED = {
    "auth-token": "test_auth_token",
    "me": "test_me",
    "schema": "test_schema_and_docs",
    "docs": "test_schema_and_docs",
    "device-register": "test_device_register",
    "device-label-svg": "test_device_label",
    "device-label-png": "test_device_label",
    "scan": "test_scan_lookup",
    "batch-label": "test_batch_label",
    "label-sheet": "test_label_sheet",
    "visit-report": "test_visit_report",
    "sweep-report": "test_sweep_report",
    "sales-filing-template": "test_sales_filing_template",
    "filing-status": "test_filing_status",
    "reconciliation": "test_reconciliation",
    "reconciliation-export": "test_reconciliation",
    "statutory-form": "test_form",
}
NOT_OURS = {"bench-floor"}  # only with BENCH_FLOOR=1 (bench/floor.py), never in production


def _non_router_api_patterns() -> dict[str, str]:
    """url name (or the route, when unnamed) -> route, of every `api/` pattern outside the router."""
    found = {}

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.urlconf_name is backend.urls.router.urls:
                    continue
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("api/"):
                    found[p.name or route] = route

    walk(backend.urls.urlpatterns, "")
    return found


@pytest.mark.parametrize("name", sorted(_non_router_api_patterns()))
def test_every_endpoint_has_a_row(name):
    if name in NOT_OURS:
        return
    route = _non_router_api_patterns()[name]
    assert name in COVERED, (
        f"{route} ({name}) is an api/ pattern outside the router with no row in "
        f"tests/backend/test_permission_matrix_other.py; add it to COVERED and test it there")
    assert COVERED[name] in globals(), f"{name}: {COVERED[name]} is not a test of this module"


def test_no_row_without_an_endpoint():
    assert set(COVERED) - set(_non_router_api_patterns()) == set()


# --- helpers -----------------------------------------------------------------------------


def user_of(county, role) -> User | None:
    users = {**county.users(), "other_inspector": county.other.inspector, "other_admin": county.other.office_admin}
    return users.get(role)


def client_of(county, role):
    return token_client(user_of(county, role))


def institution(county, place) -> Organisation:
    if place == "home":
        return county.hospital
    if place == "county":
        return (Organisation.objects.filter(name="西渡镇卫生院").first()
                or OrganisationFactory(kind="township_health_centre", jurisdiction=county.township,
                                       name="西渡镇卫生院", licensed=True, termination_approved=True))
    return county.other.hospital


def wholesaler(county, place) -> Organisation:
    if place == "home":
        return county.wholesaler
    jurisdiction = county.township if place == "county" else county.other.jurisdiction
    name = {"county": "西渡医药有限公司", "outside": "长沙县医药有限公司"}[place]
    return (Organisation.objects.filter(name=name).first()
            or OrganisationFactory(kind="wholesaler", jurisdiction=jurisdiction, name=name, licensed=True))


def jurisdiction(county, place):
    return {"home": county.jurisdiction, "county": county.township, "outside": county.other.jurisdiction}[place]


def visible_organisations(county, role) -> set[int]:
    """The organisations `role` may see among the places (and their wholesalers)."""
    places = {p: institution(county, p) for p in PLACES}
    if role in ("office_admin", "inspector"):
        return {places["home"].pk, places["county"].pk, county.wholesaler.pk}
    if role in ("other_inspector", "other_admin"):
        return {places["outside"].pk}
    if role in ("pharmacist", "physician"):
        return {county.hospital.pk}
    if role == "wholesaler_clerk":
        return {county.wholesaler.pk}
    return set()


DEFAULT_CODES = {400: None, 401: "not_authenticated", 404: "not_found", 405: "method_not_allowed"}


def check(response, expected) -> None:
    """Assert `response` is the outcome `expected` (a status, or "403 <code>")."""
    if isinstance(expected, str):
        status, code = expected.split()
        status = int(status)
    else:
        status, code = expected, DEFAULT_CODES.get(expected)
    assert response.status_code == status, (
        f"expected {expected}, got {response.status_code} {response.content[:300]!r}")
    if status >= 400 and code:
        assert error_of(response)["code"] == code, f"expected {expected}, got {error_of(response)}"


def cases(outcomes):
    """pytest params (role, place, expected) of an outcome table, ids "role-place". A known
    hole is marked on its single case: pytest.param(..., marks=pytest.mark.xfail(strict=True,
    reason="<file:line> leaks ..."))."""
    return [pytest.param(role, place, outcomes[role][i], id=f"{role}-{place}")
            for role in ROLES for i, place in enumerate(PLACES)]


def text_of(response) -> str:
    """A JSON body as text with its Chinese unescaped (for "is this name in it?")."""
    return json.dumps(response.json(), ensure_ascii=False, default=str)


# --- /api/auth/token/, /api/me/, /api/schema/, /api/docs/ --------------------------------------


@pytest.mark.parametrize("credentials", ["own", "wrong_password", "no_password"])
@pytest.mark.parametrize("role", ROLES)
def test_auth_token(county, role, credentials):
    """Anyone may exchange credentials (the endpoint takes no token); only the right
    password gets the user's own token."""
    user = user_of(county, role)
    username = user.username if user is not None else "nobody"
    body = {"own": {"username": username, "password": PASSWORD},
            "wrong_password": {"username": username, "password": "not-the-password"},
            "no_password": {"username": username}}[credentials]
    response = client_of(county, role).post("/api/auth/token/", body, format="json")
    if credentials == "no_password":
        check(response, "400 validation_error")
    elif credentials == "wrong_password" or user is None:
        check(response, "401 authentication_failed")
    else:
        check(response, 200)
        assert response.json() == {"token": Token.objects.get(user=user).key}


@pytest.mark.parametrize("role", ROLES)
def test_me(county, role):
    user = user_of(county, role)
    response = client_of(county, role).get("/api/me/")
    if user is None:
        check(response, 401)
        return
    check(response, 200)
    body = response.json()
    assert body["username"] == user.username
    assert body["organisation"]["id"] == user.organisation_id


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
@pytest.mark.parametrize("role", ROLES)
def test_schema_and_docs(county, role, url):
    """backend/settings.py SPECTACULAR_SETTINGS sets neither SERVE_PERMISSIONS (default
    AllowAny) nor SERVE_PUBLIC (default True): the schema and its docs are public, anonymous
    included, and the schema is the same for everyone. It describes the API, never a record."""
    response = client_of(county, role).get(url)
    check(response, 200)
    if url == "/api/schema/":
        anonymous = token_client(None).get(url)
        assert response.content == anonymous.content
        text = response.content.decode()
        for name in (county.hospital.name, county.other.hospital.name, county.physician.person.resident_id):
            assert name not in text


# --- devices: register, labels -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize(("role", "place", "expected"), cases(SCOPED))
def test_device_register(county, role, place, expected, fmt):
    """The register lists the devices the caller may see (200 = in the file, 404 = not)."""
    devices = {p: device_record(county, institution(county, p)) for p in PLACES}
    response = client_of(county, role).get(f"/api/devices/register.{fmt}")
    if expected == 401:
        check(response, 401)
        return
    check(response, 200)
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    else:
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    column = rows[0].index("资产标签")
    tags = {row[column] for row in rows[1:]}
    assert tags <= {d.asset_tag for d in devices.values()}, "the register names a device of nobody's"
    assert (devices[place].asset_tag in tags) == (expected == 200)


@pytest.mark.parametrize("fmt", ["svg", "png"])
@pytest.mark.parametrize(("role", "place", "expected"), cases(SCOPED))
def test_device_label(county, role, place, expected, fmt):
    device = device_record(county, institution(county, place))
    response = client_of(county, role).get(f"/api/devices/{device.pk}/label.{fmt}")
    check(response, expected)
    if expected == 200:
        assert response["Content-Type"].startswith(f"image/{fmt}")


# --- batches: labels and sheets; the scan lookup ----------------------------------------------


def _batch_held_at(county, place):
    return give_stock(institution(county, place), BatchFactory(), quantity=7).batch


@pytest.mark.parametrize("fmt", ["svg", "png"])
@pytest.mark.parametrize(("role", "place", "expected"), cases(SCOPED))
def test_batch_label(county, role, place, expected, fmt):
    batch = _batch_held_at(county, place)
    response = client_of(county, role).get(f"/api/batches/{batch.pk}/label.{fmt}")
    check(response, expected)


@pytest.mark.parametrize("source", ["batch", "devices"])
@pytest.mark.parametrize(("role", "place", "expected"), cases(SCOPED))
def test_label_sheet(county, role, place, expected, source):
    if source == "batch":
        query = f"batch={_batch_held_at(county, place).pk}&copies=2"
    else:  # one visible device next to the place's: the whole sheet is refused if one is hidden
        query = f"devices={device_record(county, institution(county, place)).pk}"
    response = client_of(county, role).get(f"/api/labels/sheet.html?{query}")
    check(response, expected)
    if expected == 200:
        assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("entity", ["batch", "device"])
@pytest.mark.parametrize(("role", "place", "expected"), cases(SCOPED))
def test_scan_lookup(county, role, place, expected, entity):
    """Everyone signed in may look a code up (200); what it *is* is always shown. 200 in the
    table means the place's holder (and, for a member, its balance) is shown; 404 that the
    response names no holder, balance or operator the caller may not see."""
    org = institution(county, place)
    if entity == "batch":
        batch = _batch_held_at(county, place)
        code = batch_label_for(batch).text
    else:
        device = device_record(county, org)
        code = device.asset_tag
    response = client_of(county, role).post("/api/scan/", {"code": code, "action": "lookup"}, format="json")
    if expected == 401:
        check(response, 401)
        return
    check(response, 200)
    body = response.json()
    user = user_of(county, role)
    member = role in ("pharmacist", "physician", "wholesaler_clerk")
    if entity == "batch":
        assert body["batch"]["id"] == batch.pk  # what the code is: always
        holders = {h["holder"]: h for h in body["holders"]}
        assert set(holders) <= visible_organisations(county, role), f"holders leaked: {body['holders']}"
        if expected == 200:
            assert holders[org.pk]["quantity"] == 7
        else:
            assert org.pk not in holders
        if member:
            assert body["balance"] == (7 if org.pk == user.organisation_id else 0)
        else:
            assert body["balance"] is None
    else:
        device_view = body["device"]
        assert device_view["id"] == device.pk and device_view["serial_number"] == device.serial_number
        if expected == 200:
            assert device_view["holder"]["id"] == org.pk
            assert [o["id"] for o in device_view["operators"]] == [device.custodian_id]
        else:
            assert "holder" not in device_view and "operators" not in device_view, device_view
    if expected == 404:
        assert org.name not in text_of(response)


# --- monthly forms, filing status, reconciliation ---------------------------------------------


def _form_cases():
    for kind, outcomes in FORMS.items():
        for p in cases(outcomes):
            yield pytest.param(kind, *p.values, id=f"{kind}-{p.id}")


@pytest.mark.parametrize(("kind", "role", "place", "expected"), list(_form_cases()))
def test_form(county, kind, role, place, expected):
    org = wholesaler(county, place) if kind == "sales-summary" else institution(county, place)
    month = last_month().strftime("%Y-%m")
    response = client_of(county, role).get(f"/api/forms/{kind}.xlsx", {"month": month, "organisation": org.pk})
    check(response, expected)
    if expected == 200:
        workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        cells = " ".join(str(v) for row in workbook.active.iter_rows(values_only=True) for v in row if v)
        assert org.name in cells


def _month_with_activity(county):
    """Last month: the wholesaler ships to the hospital and to 西渡镇卫生院; 长沙县's hospital
    is licensed (it appears in its own county's filing status)."""
    m = Month(county)
    b = m.batches(2)
    m.ship({b[0]: 10}, day=8)
    m.ship({b[1]: 5}, day=9, recipient=institution(county, "county"), reference="FP-002", receive=False)
    m.dispense(b[0], day=15)
    return m


def strangers(county, role) -> list[Organisation]:
    """The organisations `role` has no business seeing in any answer about the month."""
    centre, other = institution(county, "county"), county.other.hospital
    return {
        "office_admin": [other], "inspector": [other],
        "pharmacist": [centre, other], "physician": [centre, other],
        "wholesaler_clerk": [other],  # its customers (the hospital, the centre) are its own business
        "other_inspector": [county.hospital, centre, county.wholesaler],
        "other_admin": [county.hospital, centre, county.wholesaler],
    }.get(role, [])


def organisation_ids(body) -> set[int]:
    """Every organisation id a reconciliation names (holders, wholesalers, customers)."""
    ids = set()
    for key in ("cross_party", "holders", "discrepancies"):
        for row in body.get(key, []):
            ids |= {row[k] for k in ("holder", "wholesaler", "customer") if row.get(k) is not None}
    return ids


@pytest.mark.parametrize(("role", "place", "expected"), cases(JURISDICTION_PARAM))
def test_filing_status(county, role, place, expected):
    m = _month_with_activity(county)
    response = client_of(county, role).get("/api/filings/status/", {
        "month": m.month.strftime("%Y-%m"), "jurisdiction": jurisdiction(county, place).code})
    check(response, expected)
    if expected == 200:
        body = response.json()
        ids = {row["organisation"]["id"] if isinstance(row.get("organisation"), dict) else row.get("organisation")
               for row in body["results"]}
        assert ids <= visible_organisations(county, role) | {wholesaler(county, "county").pk}, body
        for org in strangers(county, role):
            assert org.name not in text_of(response)


@pytest.mark.parametrize("export", [False, True], ids=["json", "xlsx"])
@pytest.mark.parametrize(("role", "place", "expected"), cases(JURISDICTION_PARAM))
def test_reconciliation(county, role, place, expected, export):
    m = _month_with_activity(county)
    url = "/api/reconciliations/export.xlsx" if export else "/api/reconciliations/"
    response = client_of(county, role).get(url, {"month": m.month.strftime("%Y-%m"),
                                                 "jurisdiction": jurisdiction(county, place).code})
    check(response, expected)
    if expected != 200:
        return
    if export:
        workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        text = " ".join(str(v) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True)
                        for v in row if v is not None)
    else:
        text = text_of(response)
        member = role in ("pharmacist", "physician", "wholesaler_clerk")
        assert response.json()["jurisdiction"] == (None if member else jurisdiction(county, place).code)
        named = organisation_ids(response.json())
        assert not named & {org.pk for org in strangers(county, role)}, f"{role} sees {named}"
        if role == "office_admin":  # the township's reconciliation: the centre and its supplier
            centre = institution(county, "county").pk
            wanted = {centre, county.wholesaler.pk} | ({county.hospital.pk} if place == "home" else set())
            assert named == wanted, named
    for org in strangers(county, role):
        assert org.name not in text, f"{org.name} in the reconciliation of {role}"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("role", ROLES)
def test_sales_filing_template(county, role, fmt):
    """The empty upload template holds no data: every signed-in user, no place."""
    response = client_of(county, role).get(f"/api/filings/sales/template.{fmt}")
    if role == "anonymous":
        check(response, 401)
        return
    check(response, 200)
    if fmt == "csv":
        header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert "客户统一社会信用代码" in header


# --- sweep and visit reports -----------------------------------------------------------------


@pytest.mark.parametrize(("role", "place", "expected"), cases(AUTHORITIES_ONLY))
def test_visit_report(county, role, place, expected):
    visit = SWEEP_ROWS["visits"].record(county, institution(county, place))
    response = client_of(county, role).get(f"/api/visits/{visit.pk}/report.xlsx")
    check(response, expected)


@pytest.mark.parametrize(("role", "place", "expected"), cases(AUTHORITIES_ONLY))
def test_sweep_report(county, role, place, expected):
    sweep = SWEEP_ROWS["sweeps"].record(county, institution(county, place))
    response = client_of(county, role).get(f"/api/sweeps/{sweep.pk}/report.xlsx")
    check(response, expected)


# --- required parameters -------------------------------------------------------------------

MONTH = "invalid_month"
MISSING = {
    # url without its required parameter -> the error code every signed-in role gets
    "/api/forms/drug-summary.xlsx?organisation={hospital}": MONTH,
    "/api/filings/status/": MONTH,
    "/api/reconciliations/": MONTH,
    "/api/reconciliations/export.xlsx": MONTH,
    "/api/reconciliations/?month=2020-13": MONTH,
    "/api/labels/sheet.html": "label_sheet_needs_one_source",
    "/api/labels/sheet.html?batch=1&devices=1": "label_sheet_needs_one_source",
    "/api/labels/sheet.html?batch=abc": "invalid_filter",
}


@pytest.mark.parametrize("url", list(MISSING))
@pytest.mark.parametrize("role", ROLES)
def test_required_parameters(county, role, url):
    response = client_of(county, role).get(url.format(hospital=county.hospital.pk))
    check(response, 401 if role == "anonymous" else f"400 {MISSING[url]}")


@pytest.mark.parametrize("role", ROLES)
def test_form_without_organisation(county, role):
    """Members default to their own organisation; authorities must name one."""
    month = timezone.localdate().strftime("%Y-%m")
    response = client_of(county, role).get("/api/forms/drug-summary.xlsx", {"month": month})
    expected = {"anonymous": 401, "pharmacist": 200, "physician": 200, "wholesaler_clerk": 200}.get(
        role, "400 invalid_filter")
    check(response, expected)

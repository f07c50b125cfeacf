"""`/api/alerts/`: filters, who sees what, acknowledge and resolve through HTTP."""

from __future__ import annotations

import pytest

from audits.alerts import services
from audits.alerts.models import Alert
from audits.models import AuditEntry
from tests.conftest import error_of
from tests.factories import OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/alerts/"


def _raise(subject, type="dispensing_spike", severity="medium", occurrence="2026-10"):
    return services.alert_raise(type=type, severity=severity, subject=subject, occurrence=occurrence,
                                summary="测试")


@pytest.fixture
def alerts(county):
    township_clinic = OrganisationFactory(kind="private_clinic", jurisdiction=county.township)
    return {
        "spike": _raise(county.hospital),
        "township": _raise(township_clinic, type="expired_stock", severity="high", occurrence=""),
        "outside": _raise(county.other.hospital, type="licence_expired", severity="high", occurrence=""),
    }


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_office_and_inspectors_see_their_jurisdiction_members_nothing(county, client_for, alerts):
    ours = {alerts["spike"].pk, alerts["township"].pk}
    assert _ids(client_for(county.office_admin).get(URL)) == ours
    assert _ids(client_for(county.inspector).get(URL)) == ours
    assert _ids(client_for(county.other.office_admin).get(URL)) == {alerts["outside"].pk}
    # the hospital may not see that it is flagged
    assert _ids(client_for(county.pharmacist).get(URL)) == set()
    r = client_for(county.pharmacist).get(f"{URL}{alerts['spike'].pk}/")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    assert client_for(None).get(URL).status_code == 401


def test_a_township_inspector_sees_only_the_township(county, client_for, alerts):
    office = OrganisationFactory(kind="authority", jurisdiction=county.township)
    inspector = UserFactory(role="inspector", organisation=office, department="police")
    assert _ids(client_for(inspector).get(URL)) == {alerts["township"].pk}


@pytest.mark.parametrize(("query", "expected"), [
    ({"jurisdiction": "430421001"}, {"township"}),
    ({"jurisdiction": "430421"}, {"spike", "township"}),
    ({"jurisdiction": "430121"}, set()),  # outside: nothing, whatever the filter says
    ({"jurisdiction": "999999"}, set()),
    ({"type": "dispensing_spike"}, {"spike"}),
    ({"severity": "high"}, {"township"}),
    ({"status": "open"}, {"spike", "township"}),
    ({"status": "resolved"}, set()),
])
def test_filters(county, client_for, alerts, query, expected):
    assert _ids(client_for(county.office_admin).get(URL, query)) == {alerts[k].pk for k in expected}


def test_a_bad_filter_value_is_a_400_envelope(county, client_for, alerts):
    r = client_for(county.office_admin).get(URL, {"severity": "apocalyptic"})
    assert r.status_code == 400 and error_of(r)["code"] == "validation_error"


def test_the_office_acknowledges_then_resolves_with_a_note(county, client_for, alerts):
    office = client_for(county.office_admin)
    alert = alerts["spike"]
    r = office.post(f"{URL}{alert.pk}/acknowledge/", {"note": "已安排走访"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "acknowledged" and r.json()["acknowledged_by"] == "admin"
    r = office.post(f"{URL}{alert.pk}/acknowledge/", {}, format="json")
    assert r.status_code == 409 and error_of(r)["code"] == "alert_not_open"
    r = office.post(f"{URL}{alert.pk}/resolve/", {"note": "  "}, format="json")
    assert r.status_code == 400 and error_of(r)["code"] == "alert_resolution_note_required"
    r = office.post(f"{URL}{alert.pk}/resolve/", {"note": "走访核实：乡镇集中接诊，用量合理"}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "resolved" and body["resolved_by"] == "admin"
    assert body["resolution_note"] == "走访核实：乡镇集中接诊，用量合理"
    r = office.post(f"{URL}{alert.pk}/resolve/", {"note": "again"}, format="json")
    assert r.status_code == 409 and error_of(r)["code"] == "alert_already_resolved"
    r = office.post(f"{URL}{alert.pk}/acknowledge/", {}, format="json")
    assert r.status_code == 409 and error_of(r)["code"] == "alert_already_resolved"
    transitions = list(AuditEntry.objects.filter(object_type="alerts.alert", object_id=str(alert.pk),
                                                 action="transition").values_list("transition", "actor_username"))
    assert transitions == [("acknowledge", "admin"), ("resolve", "admin")]
    assert _ids(office.get(URL, {"status": "resolved"})) == {alert.pk}


def test_inspectors_and_others_may_not_act(county, client_for, alerts):
    alert = alerts["spike"]
    r = client_for(county.inspector).post(f"{URL}{alert.pk}/resolve/", {"note": "x"}, format="json")
    assert r.status_code == 403 and error_of(r)["code"] == "alert_office_admin_required"
    r = client_for(county.other.office_admin).post(f"{URL}{alert.pk}/acknowledge/", {}, format="json")
    assert r.status_code == 404
    r = client_for(county.pharmacist).post(f"{URL}{alert.pk}/resolve/", {"note": "x"}, format="json")
    assert r.status_code == 404
    assert Alert.objects.get(pk=alert.pk).status == "open"


def test_the_service_refuses_an_office_outside_the_jurisdiction(county, alerts):
    from audits.alerts.errors import AlertOutsideJurisdiction

    with pytest.raises(AlertOutsideJurisdiction):
        services.alert_acknowledge(actor=county.other.office_admin, alert=alerts["spike"])


def test_a_note_too_long_is_a_400(county, client_for, alerts):
    r = client_for(county.office_admin).post(f"{URL}{alerts['spike'].pk}/resolve/", {"note": "长" * 501},
                                             format="json")
    assert r.status_code == 400 and error_of(r)["code"] == "validation_error"


def test_english_messages(county, client_for, alerts):
    r = client_for(county.inspector).post(f"{URL}{alerts['spike'].pk}/resolve/", {"note": "x"}, format="json",
                                          HTTP_ACCEPT_LANGUAGE="en")
    assert error_of(r)["message"].startswith("Only the governance office")
    r = client_for(county.inspector).post(f"{URL}{alerts['spike'].pk}/resolve/", {"note": "x"}, format="json",
                                          HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "综合治理办公室" in error_of(r)["message"]

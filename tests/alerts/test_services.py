"""alert_raise: idempotent per (type, subject, occurrence) while open, backed by a partial
unique index; acknowledge and resolve: the office's, audited."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from audits.alerts import services
from audits.alerts.errors import AlertInvalid
from audits.alerts.models import Alert
from audits.models import AuditEntry
from tests.factories import LicenceFactory, OrganisationFactory, PersonFactory

pytestmark = pytest.mark.django_db


def _raise(subject, **kwargs):
    return services.alert_raise(**{"type": "unregistered_device_found", "severity": "high", "subject": subject,
                                   "summary": "巡查发现未备案B超", **kwargs})


def test_raise_stores_subject_scope_and_evidence_and_is_audited(county):
    alert = _raise(county.clinic, evidence=[{"type": "devices.device", "id": 7}, {"type": "devices.device", "id": 7}])
    assert alert.was_created
    assert (alert.subject_type, alert.subject_id) == ("backend.organisation", county.clinic.pk)
    assert alert.organisation == county.clinic and alert.jurisdiction_code == county.clinic.jurisdiction.code
    assert alert.evidence == [{"type": "devices.device", "id": 7}]
    entry = AuditEntry.objects.get(object_type="alerts.alert", object_id=str(alert.pk))
    assert entry.action == "create" and entry.subject_organisation_id == county.clinic.pk


def test_subject_organisation_comes_from_audit_organisation(county):
    licence = LicenceFactory(holder_organisation=county.hospital, kind="other")
    alert = _raise(licence, type="licence_expired")
    assert alert.organisation == county.hospital and alert.subject_type == "backend.licence"


def test_raise_twice_returns_the_open_alert_and_adds_new_evidence(county):
    first = _raise(county.clinic, evidence=[{"type": "devices.device", "id": 1}])
    again = _raise(county.clinic, evidence=[{"type": "devices.device", "id": 1}, {"type": "sweeps.visit", "id": 2}])
    assert again.pk == first.pk and not again.was_created
    assert Alert.objects.count() == 1
    assert again.evidence == [{"type": "devices.device", "id": 1}, {"type": "sweeps.visit", "id": 2}]
    # acknowledged is still "open" for idempotency
    services.alert_acknowledge(actor=county.office_admin, alert=first)
    assert _raise(county.clinic).pk == first.pk


def test_after_resolution_a_new_alert_may_open(county):
    first = _raise(county.clinic)
    services.alert_resolve(actor=county.office_admin, alert=first, note="已查封")
    second = _raise(county.clinic)
    assert second.was_created and second.pk != first.pk


def test_other_types_and_occurrences_are_other_alerts(county):
    a = _raise(county.clinic)
    b = _raise(county.clinic, type="dispensing_spike", severity="medium", occurrence="2026-10")
    c = _raise(county.clinic, type="dispensing_spike", severity="medium", occurrence="2026-11")
    assert len({a.pk, b.pk, c.pk}) == 3


def test_the_database_refuses_a_second_open_alert(county):
    alert = _raise(county.clinic)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(type=alert.type, severity="low", subject_type=alert.subject_type,
                             subject_id=alert.subject_id, jurisdiction_code="430421", raised_at=timezone.now())


@pytest.mark.parametrize("kwargs", [
    {"type": "no_such_type"},
    {"severity": "critical"},
    {"evidence": [{"id": 3}]},
    {"evidence": ["devices.device:3"]},
])
def test_bad_input_is_refused_with_a_code(county, kwargs):
    with pytest.raises(AlertInvalid) as exc:
        _raise(county.clinic, **kwargs)
    assert exc.value.code == "alert_invalid" and exc.value.status_code == 400


def test_an_alert_needs_a_saved_subject_with_a_jurisdiction(county):
    with pytest.raises(AlertInvalid):
        _raise(OrganisationFactory.build())
    person_without_org = LicenceFactory(holder_organisation=None, holder_person=PersonFactory(organisation=None),
                                        kind="physician")
    with pytest.raises(AlertInvalid):
        _raise(person_without_org)
    assert _raise(person_without_org, jurisdiction=county.jurisdiction).jurisdiction_code == "430421"

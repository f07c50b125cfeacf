"""The demo opens to real alerts: the planted spike, the refused shipments, the late
filing, the lapsed licences; a second seeding raises nothing new."""

import io

import pytest
from django.core.management import call_command

from audits.alerts.demo import seed_alerts
from audits.alerts.models import Alert

pytestmark = pytest.mark.django_db


def test_seed_demo_opens_to_real_alerts():
    call_command("seed_demo", stdout=io.StringIO())
    by_type = {}
    for alert in Alert.objects.select_related("organisation"):
        by_type.setdefault(alert.type, []).append(alert)
    spike = by_type["dispensing_spike"]
    assert [a.organisation.name for a in spike] == ["衡阳县集兵镇中心卫生院"]
    refused = {a.figures["code"] for a in by_type["shipment_refused"]}
    assert len(by_type["shipment_refused"]) == 2 and refused == {"recipient_not_authorized"}
    assert [a.organisation.name for a in by_type["filing_late"]] == ["湖南仁和医药物流有限公司衡阳县分公司"]
    expired = {a.organisation.name for a in by_type["licence_expired"]}
    assert "衡阳县中医医院" in expired and "衡阳县集兵镇中心卫生院" in expired
    assert len(by_type["receipt_shortage"]) == 1 and len(by_type["device_filed_late"]) == 1
    assert any(a.figures["kind"] == "quantity_mismatch" for a in by_type["cross_party_mismatch"])
    assert all(a.status == "open" and a.jurisdiction_code.startswith("430421") for a in Alert.objects.all())
    count = Alert.objects.count()
    from backend.demo import seed_registry

    assert seed_alerts(seed_registry()) == {}
    assert Alert.objects.count() == count

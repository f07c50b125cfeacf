"""The admin only looks at devices; patient fields stay masked there."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from tests.devices.factories import file_device
from tests.devices.test_exams import PATIENT_ID, exam
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_admin_pages_read_only_and_masked(county):
    device = file_device(county.hospital, at=timezone.now() - dt.timedelta(days=3))
    record = exam(device, device.custodian)
    admin = UserFactory(role="", organisation=None, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    for url in ("/admin/devices/device/", f"/admin/devices/device/{device.pk}/change/",
                "/admin/devices/deviceexam/", f"/admin/devices/deviceexam/{record.pk}/change/",
                "/admin/devices/devicerefusal/"):
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        assert PATIENT_ID.encode() not in response.content and "刘美华".encode() not in response.content
    assert client.get("/admin/devices/device/add/", secure=True).status_code == 403

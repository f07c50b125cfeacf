"""The demo devices: seeded through the services, idempotent."""

import pytest

from backend.demo import seed_registry
from backend.models import Licence
from inventory.devices.demo import PLANS, seed_devices
from inventory.devices.models import Device, DeviceExam, DeviceImage
from inventory.devices.selectors import cached_state, device_state

pytestmark = pytest.mark.django_db


def test_seed_devices(settings, tmp_path):
    demo = seed_registry()
    created = seed_devices(demo)
    assert len(created) == len(PLANS) == Device.objects.count() == 10
    assert Device.objects.filter(days_late__gt=0).count() == 1
    assert Device.objects.filter(status="sealed").count() == 1
    assert Device.objects.filter(status="scrapped").count() == 1
    assert 250 <= DeviceExam.objects.count() <= 400
    assert DeviceImage.objects.count() == 20
    # The township centre's operator let the certificate lapse: the devices are on record,
    # and no exam after the lapse.
    h3 = demo.approved[2]
    sono = demo.sonographers[h3.pk][0]
    lapsed = sono.licences.get(kind=Licence.Kind.MATERNAL_INFANT).valid_until
    assert lapsed < demo.today
    assert Device.objects.filter(holder=h3, operators=sono).count() == 2
    assert not DeviceExam.objects.filter(holder=h3, performed_at__date__gt=lapsed).exists()
    sealed = Device.objects.get(status="sealed")
    assert not sealed.exams.filter(performed_at__gt=sealed.events.get(kind="sealed").occurred_at).exists()
    for device in Device.objects.all():
        assert cached_state(device) == device_state(device)
    # Idempotent
    assert seed_devices(seed_registry()) == []
    assert Device.objects.count() == 10

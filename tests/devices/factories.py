"""Helpers for device tests: images made with Pillow, licensed operators, filed devices.

    sono = operator(hospital)                        # a sonographer with a valid 母婴保健 certificate
    device = file_device(holder=hospital)            # filed through the service (on time)
    device = file_device(holder=hospital, purchased_ago=20)   # 13 days late
"""

from __future__ import annotations

import datetime as dt
import io
import itertools

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw

from backend.models import Licence, Person
from backend.uploads import prepare_image
from inventory.devices import services
from tests.factories import PersonFactory, PersonLicenceFactory

_serials = itertools.count(1)


def image_bytes(fmt: str = "PNG", size=(64, 48), colour=(200, 30, 30), exif=None, text: str = "") -> bytes:
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, size[0] // 2, size[1] // 2), fill=(20, 20, 200))
    if text:
        draw.text((6, size[1] - 14), text, fill=(0, 0, 0))
    out = io.BytesIO()
    options = {"exif": exif} if exif is not None else {}
    image.save(out, format=fmt, **options)
    return out.getvalue()


def upload(data: bytes | None = None, name: str = "photo.png", content_type: str = "image/png"):
    return SimpleUploadedFile(name, data if data is not None else image_bytes(), content_type=content_type)


def prepared(colour=(200, 30, 30)):
    return prepare_image(upload(image_bytes(colour=colour)))


def operator(organisation, *, valid_until: dt.date | None | str = "default", scope=("ultrasound",
             "prenatal_diagnosis"), position=Person.Position.SONOGRAPHER, **licence) -> Person:
    """A person at `organisation` holding a 母婴保健 certificate (valid two more years by default)."""
    person = PersonFactory(organisation=organisation, position=position)
    fields = {"holder_person": person, "kind": Licence.Kind.MATERNAL_INFANT, "scope": list(scope), **licence}
    if valid_until != "default":
        fields["valid_until"] = valid_until
    PersonLicenceFactory(**fields)
    return person


def filing(holder, *, kind="ultrasound", purchased_ago: int = 2, operators=None, custodian=None, serial=None,
           brand="GE", model="Voluson E8", at=None, **overrides) -> dict:
    today = timezone.localdate(at) if at else timezone.localdate()
    if operators is None:
        operators = [operator(holder)]
    return {
        "kind": kind,
        "brand": brand,
        "model": model,
        "capabilities": ["colour_doppler", "4d"],
        "place_of_origin": "美国",
        "manufactured_on": today - dt.timedelta(days=purchased_ago + 90),
        "purchased_on": today - dt.timedelta(days=purchased_ago),
        "serial_number": serial or f"SN-{next(_serials):06d}",
        "holder": holder,
        "main_use": "产科常规检查",
        "custodian": custodian or operators[0],
        "operators": operators,
        "photos": [prepared()],
        "seal_image": prepared(colour=(180, 0, 0)),
        **({"at": at} if at else {}),
        **overrides,
    }


def file_device(holder, *, actor=None, **kwargs):
    return services.device_file(actor=actor, **filing(holder, **kwargs))

"""The one upload pipeline for photos and scans (devices, drugs, inspections).

    prepared = prepare_image(uploaded_file)   # checks and re-encodes in memory; stores nothing
    info = prepared.store()                   # writes uploads/ab/<sha256>.jpg + a thumbnail
    info = store_image(uploaded_file)         # both at once
    checked = check_image(uploaded_file)      # only the checks: a photo that is read, not kept
    checked.image                             # (a scan) is decoded once, never re-encoded;
    checked.prepare()                         # re-encode, to keep it after all

A bad file raises `backend.errors.InvalidInput` (HTTP 400) with a stable code, and nothing
is written:

| code | why |
| --- | --- |
| upload_too_large | more than 10 MB (checked before reading the body) |
| upload_type_not_allowed | a known file type that is not JPEG, PNG or WebP (PDF, GIF, TIFF, BMP...) |
| upload_not_image | the bytes are no image we recognise, whatever the name says |
| upload_too_many_pixels | more than 40 megapixels, read from the header before decoding |
| upload_corrupt | the image does not decode completely (truncated, bad checksums) |

Good images are decoded fully, turned upright by their EXIF orientation, re-encoded in their
own format with the GPS EXIF block removed, and stored under MEDIA_ROOT by the SHA-256 of the
stored bytes, so the same picture uploaded twice is stored once. The database keeps only the
returned path (`StoredImageInfo.path`); this module has no model.

`ImageUploadField` is the DRF serializer field that runs `prepare_image` (or, with
`keep=False`, only `check_image`: every rule above still applies, the re-encoding and the
thumbnail are skipped); the service that accepts the data calls `.store()` once the rules
have passed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import FileUploadHandler
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps
from rest_framework import serializers

from backend.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
THUMBNAIL_SIZE = (320, 320)
UPLOAD_DIR = "uploads"
THUMB_DIR = "uploads/thumbs"
GPS_IFD_TAG = 0x8825

ALLOWED = {  # Pillow format -> (extension, content type)
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}

# Recognised but refused, so the message can say what the file is.
OTHER_TYPES = [
    (b"%PDF", "PDF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"PK\x03\x04", "ZIP"),
]


class UploadRefused(InvalidInput):
    code = "upload_invalid"


def sniff(head: bytes) -> str | None:
    """The allowed format named by the magic bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _refuse(code: str, message, **details) -> UploadRefused:
    return UploadRefused(message, code=code, details=details or None)


@dataclass(frozen=True)
class StoredImageInfo:
    path: str  # relative to MEDIA_ROOT, e.g. uploads/ab/ab12....jpg
    sha256: str
    width: int
    height: int
    content_type: str
    thumbnail_path: str
    size: int


@dataclass(frozen=True)
class PreparedImage:
    """A checked, re-encoded image held in memory; `store()` writes it."""

    data: bytes
    thumbnail: bytes
    sha256: str
    width: int
    height: int
    format: str
    original_name: str = ""

    @property
    def extension(self) -> str:
        return ALLOWED[self.format][0]

    @property
    def content_type(self) -> str:
        return ALLOWED[self.format][1]

    @property
    def path(self) -> str:
        return f"{UPLOAD_DIR}/{self.sha256[:2]}/{self.sha256}.{self.extension}"

    @property
    def thumbnail_path(self) -> str:
        return f"{THUMB_DIR}/{self.sha256[:2]}/{self.sha256}.jpg"

    def attach(self, instance, field: str) -> None:
        """Point `instance.<field>` at this image and `<field>_thumbnail` at its thumbnail
        (the paths it will be stored under)."""
        setattr(instance, field, self.path)
        setattr(instance, f"{field}_thumbnail", self.thumbnail_path)

    def store(self) -> StoredImageInfo:
        for name, content in ((self.path, self.data), (self.thumbnail_path, self.thumbnail)):
            if not default_storage.exists(name):  # content-addressed: same name, same bytes
                saved = default_storage.save(name, ContentFile(content))
                if saved != name:  # a concurrent writer stored the same bytes first
                    default_storage.delete(saved)
        return StoredImageInfo(
            path=self.path, sha256=self.sha256, width=self.width, height=self.height,
            content_type=self.content_type, thumbnail_path=self.thumbnail_path, size=len(self.data),
        )


def _read_limited(file) -> bytes:
    size = getattr(file, "size", None)
    if size is not None and size > MAX_BYTES:
        raise _refuse("upload_too_large", _("The file is larger than 10 MB."), size=size, limit=MAX_BYTES)
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _refuse("upload_too_large", _("The file is larger than 10 MB."), limit=MAX_BYTES)
    return data


def _open_header(data: bytes) -> Image.Image:
    """Open without decoding pixels; a decompression bomb is an error, not a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _refuse("upload_too_many_pixels", _("The image has more than 40 megapixels."),
                          limit=MAX_PIXELS) from exc
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad headers
            raise _refuse("upload_corrupt", _("The image header cannot be read.")) from exc


@dataclass(frozen=True, eq=False)
class CheckedImage:
    """An upload that passed every rule: fully decoded and turned upright (EXIF orientation),
    held in memory; not re-encoded, nothing stored. `sha256` is the uploaded bytes' digest.
    For a photo that is only read (a scan: decoded once from `image`), this is all the work
    there is; `prepare()` re-encodes it (GPS removed, thumbnail) and `store()` keeps it."""

    image: Image.Image
    data: bytes  # as uploaded
    sha256: str
    format: str
    original_name: str = ""

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def prepare(self) -> PreparedImage:
        encoded = _encode(self.image, self.format)
        thumb = self.image.copy()
        thumb.thumbnail(THUMBNAIL_SIZE)
        thumb_bytes = _encode(thumb, "JPEG", keep_exif=False)
        return PreparedImage(
            data=encoded, thumbnail=thumb_bytes, sha256=hashlib.sha256(encoded).hexdigest(),
            width=self.image.width, height=self.image.height, format=self.format, original_name=self.original_name,
        )


def prepare_image(file) -> PreparedImage:
    """Check and re-encode an uploaded image; raise UploadRefused (400) if it is not acceptable."""
    return check_image(file).prepare()


def check_image(file) -> CheckedImage:
    """Every check of `prepare_image` (size, type by the bytes, pixels, decompression bomb,
    complete decode), without re-encoding; raise UploadRefused (400) if it is not acceptable."""
    data = _read_limited(file)
    fmt = sniff(data[:16])
    if fmt is None:
        for magic, name in OTHER_TYPES:
            if data.startswith(magic):
                raise _refuse("upload_type_not_allowed",
                              _("%(type)s files are not accepted: upload a JPEG, PNG or WebP image.") % {"type": name},
                              detected=name)
        raise _refuse("upload_not_image", _("The file is not a JPEG, PNG or WebP image."))

    image = _open_header(data)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _refuse("upload_too_many_pixels", _("The image has more than 40 megapixels."),
                      width=width, height=height, limit=MAX_PIXELS)
    if image.format != fmt:
        raise _refuse("upload_corrupt", _("The image's contents do not match its header."))
    if width < 1 or height < 1:
        raise _refuse("upload_corrupt", _("The image has no pixels."))

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if fmt == "PNG":  # checksums of every chunk
                _open_header(data).verify()
            image.load()  # full decode: a truncated file raises here
            ImageOps.exif_transpose(image, in_place=True)  # upright, without copying the pixels
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _refuse("upload_too_many_pixels", _("The image has more than 40 megapixels."),
                          limit=MAX_PIXELS) from exc
        except Exception as exc:  # noqa: BLE001
            raise _refuse("upload_corrupt", _("The image is damaged or incomplete and cannot be decoded.")) from exc
    return CheckedImage(image=image, data=data, sha256=hashlib.sha256(data).hexdigest(), format=fmt,
                        original_name=str(getattr(file, "name", "") or ""))


def _encode(image: Image.Image, fmt: str, *, keep_exif: bool = True) -> bytes:
    if fmt == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    options: dict = {}
    if keep_exif:
        exif = image.getexif()
        exif.pop(GPS_IFD_TAG, None)  # where the photo was taken stays with the photographer
        if len(exif):
            options["exif"] = exif.tobytes()
    if fmt == "JPEG":
        options.update(quality=90)
    elif fmt == "WEBP":
        options.update(quality=90)
    else:
        options.update(optimize=True)
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def store_image(file) -> StoredImageInfo:
    return prepare_image(file).store()


class UploadSizeLimitHandler(FileUploadHandler):
    """Refuses a file part as soon as it passes 10 MB, while the request body is still being
    parsed: a 50 MB upload is not read to the end (nor written to a temporary file)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > MAX_BYTES:
            raise _refuse("upload_too_large", _("The file is larger than 10 MB."), limit=MAX_BYTES,
                          field=self.field_name)
        return raw_data  # the next handler stores it

    def file_complete(self, file_size):
        return None


class UploadLimitMixin:
    """For API views that accept uploads: put `UploadSizeLimitHandler` first."""

    def initialize_request(self, request, *args, **kwargs):
        drf_request = super().initialize_request(request, *args, **kwargs)
        request.upload_handlers.insert(0, UploadSizeLimitHandler(request))
        return drf_request


def file_from_data_uri(value: str) -> ContentFile:
    """`data:image/png;base64,....` (JSON clients) -> a file; the size is checked before decoding."""
    header, _sep, payload = value.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64") or not payload:
        raise _refuse("upload_not_image", _("Send the image as a file or as a base64 data URI."))
    if len(payload) * 3 // 4 > MAX_BYTES:
        raise _refuse("upload_too_large", _("The file is larger than 10 MB."), limit=MAX_BYTES)
    try:
        return ContentFile(base64.b64decode(payload, validate=True), name="upload")
    except (binascii.Error, ValueError) as exc:
        raise _refuse("upload_not_image", _("The data URI is not valid base64.")) from exc


class ImageUploadField(serializers.FileField):
    """A file field whose value is a `PreparedImage` (checked, not yet stored), or with
    `keep=False` a `CheckedImage` (checked only: for a photo that is read, not kept). Accepts
    an uploaded file (multipart) or a base64 data URI (JSON)."""

    def __init__(self, *args, keep: bool = True, **kwargs):
        self.keep = keep
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data):
        try:
            file = file_from_data_uri(data) if isinstance(data, str) else super().to_internal_value(data)
            return prepare_image(file) if self.keep else check_image(file)
        except UploadRefused as exc:
            name = self.field_name or getattr(self.parent, "field_name", "")  # a ListField's child has none
            exc.details = {**(exc.details or {}), "field": name}
            raise

    def to_representation(self, value):
        if not value:
            return None
        name = getattr(value, "name", value)
        return default_storage.url(str(name))

"""The scan endpoint and the scan log.

`POST /api/scan/`: `{"code": "<what the scanner typed>", "action": "lookup"}` as JSON, or a
multipart upload with the photo in `image` (same upload rules as every photo:
backend.uploads). `action` is lookup (default), receive, dispense, count or inspect; each
acting action takes its context as further fields next to `code`:

- receive: `shipment` (id), optional `received_quantity`, `note`, `occurred_at`
- dispense: the fields of `POST /api/dispenses/` except `batch` and `pack_code`, which come
  from the code
- count: `session` (an open count session's id)
- inspect: `visit` (an open visit's id), optional `client_id` (the phone's UUID for the
  tick) and `scanned_at`: ticks the visit's register (audits.sweeps.services.tick_record)

A photo: for lookup, every code found gets its own result (and its own log row); an action
needs exactly one code in the photo (422 `image_code_count`). A code the codec cannot read
is 400 with the codec's error code (`bad_gtin_check_digit`, `swallowed_field`...).

Every scan is logged (scanning.models.ScanLog), refusals and failures included; an
`Idempotency-Key` replay returns the first answer and logs nothing. The log:
`GET /api/scans/` (members: their organisation's scans; authorities: their jurisdiction's),
`?unknown=true` for codes the system does not know.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import django_filters
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audits.api.serializers import CountSessionSerializer
from audits.models import CountSession
from backend import visibility
from backend.api.fields import LeanFieldsMixin
from backend.idempotency import idempotent, scoped_key
from backend.uploads import ImageUploadField, UploadLimitMixin
from inventory.api.serializers import DispenseDetailSerializer, DispenseWriteSerializer, ShipmentSerializer
from inventory.models import MAX_QUANTITY, Shipment
from scanning import codec, selectors, services
from scanning.decode import decode_image
from scanning.errors import CodeUnreadable, ImageCodeCount
from scanning.models import ScanAction, ScanLog

PHOTO_MAX_SIDE = 2000  # phone photos are downscaled to this before decoding


# --- request shapes ---------------------------------------------------------------------------------


class ScanCodeField(serializers.CharField):
    """The scanner's text, NUL included: the codec strips one at the ends and refuses one
    inside with its own code (`nul_character`), like any other unreadable scan."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]


class ScanSerializer(LeanFieldsMixin, serializers.Serializer):
    """A scan: the scanner's `code` or a photo (`image`), and what to do with it (`action`)."""

    code = ScanCodeField(required=False, max_length=2000, trim_whitespace=False,
                         help_text="the scanner's text as typed (CR/LF, ]C1, <GS> are fine)")
    # Checked by the shared upload rules, decoded once, never re-encoded nor stored: a scan
    # photo is read, not kept (the log keeps the uploaded bytes' SHA-256).
    image = ImageUploadField(required=False, keep=False,
                             help_text="a photo with one or more codes (JPEG, PNG, WebP)")
    action = serializers.ChoiceField(choices=ScanAction.choices, default=ScanAction.LOOKUP)

    def validate(self, attrs):
        if bool(attrs.get("code")) == bool(attrs.get("image")):
            raise serializers.ValidationError(_("Send either a code or an image."), code="code_or_image")
        return attrs


class ReceiveContextSerializer(serializers.Serializer):
    shipment = serializers.IntegerField()
    received_quantity = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY, required=False)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    occurred_at = serializers.DateTimeField(required=False)


class DispenseContextSerializer(DispenseWriteSerializer):
    """The REST dispense body without batch and pack code: the scanned code names them."""

    batch = None
    pack_code = None

    def validate(self, attrs):
        return attrs


class CountContextSerializer(serializers.Serializer):
    session = serializers.IntegerField()


class InspectContextSerializer(serializers.Serializer):
    visit = serializers.IntegerField()
    client_id = serializers.UUIDField(required=False)
    scanned_at = serializers.DateTimeField(required=False)


class NoContextSerializer(serializers.Serializer):
    pass


CONTEXT_SERIALIZERS = {
    ScanAction.LOOKUP: NoContextSerializer,
    ScanAction.RECEIVE: ReceiveContextSerializer,
    ScanAction.DISPENSE: DispenseContextSerializer,
    ScanAction.COUNT: CountContextSerializer,
    ScanAction.INSPECT: InspectContextSerializer,
}


def _request_schema_serializer() -> type[serializers.Serializer]:
    """For the schema only: the scan and every action's context fields (each optional: an
    action takes its own, see the module doc)."""
    fields = {}
    for action, context in CONTEXT_SERIALIZERS.items():
        for name, declared in context._declared_fields.items():
            if name in fields:
                continue
            help_text = f"action={action}" + (f": {declared.help_text}" if declared.help_text else "")
            optional = copy.deepcopy(declared)  # a new field (its child too), built again from _kwargs
            optional._kwargs = {**optional._kwargs, "required": False, "help_text": help_text}
            optional.required, optional.help_text = False, help_text
            fields[name] = optional
    fields["__doc__"] = ("A scan: the scanner's `code` or a photo (`image`), `action`, and the action's own "
                         "fields: receive `shipment` (+ `received_quantity`, `note`, `occurred_at`), dispense "
                         "the fields of POST /api/dispenses/ but batch and pack code, count `session`, inspect "
                         "`visit` (+ `client_id`, `scanned_at`).")
    return extend_schema_serializer(component_name="Scan")(type("ScanSchemaSerializer", (ScanSerializer,), fields))


ScanSchemaSerializer = _request_schema_serializer()


class ScanFlagSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ScanResultSerializer(serializers.Serializer):
    """What a scan named (a code: one result; a photo looked up: `image` and one result per
    code in `codes`), and for an action the document it wrote (`result`)."""

    scan = serializers.IntegerField(required=False, help_text="the scan log row")
    action = serializers.ChoiceField(choices=ScanAction.choices)
    source = serializers.CharField()
    raw = serializers.CharField(required=False)
    entity = serializers.ChoiceField(choices=["pack", "batch", "product", "device", "unknown"], required=False)
    payload = serializers.DictField(required=False, help_text="the codec's reading (kind gs1, trace, own_label, plain)")
    product = serializers.DictField(required=False, allow_null=True)
    batch = serializers.DictField(required=False, allow_null=True)
    pack = serializers.DictField(required=False, allow_null=True)
    device = serializers.DictField(required=False, allow_null=True)
    expiry = serializers.DateField(required=False, allow_null=True)
    holders = serializers.ListField(child=serializers.DictField(), required=False)
    balance = serializers.IntegerField(required=False, allow_null=True)
    unknown = serializers.BooleanField(required=False)
    flags = ScanFlagSerializer(many=True, required=False)
    decoded = serializers.DictField(required=False, help_text="a photo: the code found in it")
    result = serializers.DictField(required=False, help_text="receive: the shipment; dispense: the dispense; "
                                                              "count: the count session; inspect: the tick")
    image = serializers.DictField(required=False, help_text="a photo looked up: sha256, width, height")
    codes = serializers.ListField(child=serializers.DictField(), required=False,
                                  help_text="a photo looked up: each code found, with its `lookup`")


LIST_FIELDS = {"emergency_physicians"}
LOGGED_CONTEXT = {"shipment", "received_quantity", "session", "quantity", "visit"}  # never patient data


def _plain(data) -> dict:
    """request.data (a dict or a QueryDict) as a dict, lists only where a field is a list."""
    if hasattr(data, "getlist"):
        return {key: (data.getlist(key) if key in LIST_FIELDS else data.get(key)) for key in data
                if key not in ("code", "image", "action")}
    return {key: value for key, value in data.items() if key not in ("code", "image", "action")}


def _context(request, action: str) -> dict:
    """The validated context of `action`, with the records it names fetched the way the REST
    endpoints fetch them (hidden from the caller: 404)."""
    data = CONTEXT_SERIALIZERS[action](data=_plain(request.data))
    data.is_valid(raise_exception=True)
    context = dict(data.validated_data)
    if action == ScanAction.RECEIVE:
        shipments = visibility.scope(Shipment.objects.all(), request.user, "sender", "recipient")
        context["shipment"] = shipments.filter(pk=context["shipment"]).first() or _not_found()
    elif action == ScanAction.COUNT:
        sessions = visibility.scope(CountSession.objects.all(), request.user, "holder")
        context["session"] = sessions.filter(pk=context["session"]).first() or _not_found()
    elif action == ScanAction.INSPECT:
        from audits.sweeps.selectors import visit_list

        context["visit"] = visit_list(user=request.user).filter(pk=context["visit"]).first() or _not_found()
    return context


def _not_found():
    raise NotFound()


def _result_body(action: str, result: services.ActionResult) -> dict:
    if action == ScanAction.RECEIVE:
        shipment = Shipment.objects.select_related("sender", "recipient").prefetch_related(
            "lines__batch", "lines__discrepancy").get(pk=result.shipment.pk)
        return ShipmentSerializer(shipment).data
    if action == ScanAction.DISPENSE:
        return DispenseDetailSerializer(result.dispense).data
    if action == ScanAction.COUNT:
        session = CountSession.objects.select_related("holder").prefetch_related("lines__batch__product").get(
            pk=result.document.pk)
        return CountSessionSerializer(session).data
    if action == ScanAction.INSPECT:
        from audits.sweeps.serializers import TickSerializer

        tick = result.document
        return {**TickSerializer(tick).data, "status": "created" if tick.was_created else "duplicate"}
    return {}


SUCCESS_STATUS = {ScanAction.DISPENSE: status.HTTP_201_CREATED}


# --- the endpoint --------------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What is known about the scan so far: logged as it stands if anything goes wrong."""

    action: str = ScanAction.LOOKUP
    source: str = ScanLog.Source.TEXT
    raw: str = ""
    payload: Any = None
    lookup: selectors.Lookup | None = None
    symbology: str = ""
    decoder: str = ""
    image_sha256: str = ""
    context: dict = field(default_factory=dict)

    def log_fields(self) -> dict:
        return {"action": self.action, "source": self.source, "raw": self.raw, "payload": self.payload,
                "lookup": self.lookup, "symbology": self.symbology, "decoder": self.decoder,
                "image_sha256": self.image_sha256, "context": self.context}


class ScanView(UploadLimitMixin, APIView):
    """Scan a code (scanner text or photo): look it up, or act on it. See the module doc."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request={"application/json": ScanSchemaSerializer, "multipart/form-data": ScanSchemaSerializer},
                   responses={200: ScanResultSerializer, 201: ScanResultSerializer})
    @idempotent
    def post(self, request):
        scan = _Scan()
        try:
            return self._post(request, scan)
        except Exception as exc:  # logged, then answered by the one exception handler
            response = self.handle_exception(exc)
            error = (response.data or {}).get("error") or {} if isinstance(response.data, dict) else {}
            services.scan_record(actor=request.user, status_code=response.status_code,
                                 error_code=error.get("code") or "error", **scan.log_fields())
            return response

    def _post(self, request, scan: _Scan) -> Response:
        if not hasattr(request.data, "get"):
            raise serializers.ValidationError(_("Send an object with a code or an image."), code="not_an_object")
        action = request.data.get("action") or ScanAction.LOOKUP
        scan.action = action if action in ScanAction.values else ScanAction.LOOKUP
        if request.data.get("image") not in (None, ""):
            scan.source = ScanLog.Source.IMAGE
        code = request.data.get("code")
        scan.raw = "" if code is None else str(code)  # logged as sent, even if refused below
        data = ScanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scan.action = data.validated_data["action"]
        image = data.validated_data.get("image")
        if image is not None:
            return self._photo(request, scan, image)
        scan.raw = data.validated_data.get("code", scan.raw)
        payload = codec.parse(scan.raw)
        scan.payload = payload
        return self._act(request, scan, payload)

    def _act(self, request, scan: _Scan, payload, decoded: dict | None = None) -> Response:
        read_run_together = scan.action == ScanAction.LOOKUP
        # A lot_too_long that may be a lot and serial run together: the lookup tries the
        # registered lots (and refuses it as the codec did when none fits).
        if not payload.ok and not (read_run_together and codec.lot_serial_readings(payload)):
            raise CodeUnreadable.of(payload)
        context = _context(request, scan.action)
        scan.context = {k: getattr(v, "pk", v) for k, v in context.items() if k in LOGGED_CONTEXT}
        scan.lookup = selectors.code_lookup(user=request.user, payload=payload, read_run_together=read_run_together,
                                            site_id=getattr(context.get("visit"), "organisation_id", None))
        result = services.scan_act(action=scan.action, actor=request.user, lookup=scan.lookup, context=context,
                                   idempotency_key=scoped_key(request))
        code = SUCCESS_STATUS.get(scan.action, status.HTTP_200_OK)
        log = services.scan_record(actor=request.user, status_code=code, result=result, **scan.log_fields())
        body = {"scan": log.pk, "action": scan.action, "source": scan.source, "raw": scan.raw,
                **scan.lookup.as_dict()}
        if decoded is not None:
            body["decoded"] = decoded
        if result is not None:
            body["result"] = _result_body(scan.action, result)
        return Response(body, status=code)

    def _photo(self, request, scan: _Scan, prepared) -> Response:
        scan.image_sha256 = prepared.sha256
        found = decode_image(prepared.image, max_side=PHOTO_MAX_SIDE)  # the pixels the upload check decoded
        if scan.action != ScanAction.LOOKUP:
            if len(found) != 1:
                raise ImageCodeCount(details={"found": len(found), "codes": [c.text for c in found]})
            code = found[0]
            scan.raw, scan.payload, scan.symbology, scan.decoder = code.text, code.payload, code.symbology, code.decoder
            return self._act(request, scan, code.payload, decoded=code.as_dict())
        image_info = {"sha256": prepared.sha256, "width": prepared.width, "height": prepared.height}
        if not found:
            services.scan_record(actor=request.user, status_code=200, **scan.log_fields())
            return Response({"action": scan.action, "source": scan.source, "image": image_info, "codes": []})
        results = []
        for code in found:
            item = code.as_dict()
            lookup = (selectors.code_lookup(user=request.user, payload=code.payload,
                                            read_run_together=scan.action == ScanAction.LOOKUP)
                      if code.payload.ok else None)
            log = services.scan_record(
                actor=request.user, action=scan.action, source=scan.source, raw=code.text, payload=code.payload,
                lookup=lookup, symbology=code.symbology, decoder=code.decoder, image_sha256=prepared.sha256,
                status_code=200 if lookup is not None else 400,
                error_code="" if lookup is not None else code.payload.code)
            item["scan"] = log.pk
            item["lookup"] = lookup.as_dict() if lookup is not None else None
            results.append(item)
        return Response({"action": scan.action, "source": scan.source, "image": image_info, "codes": results})


# --- the log ------------------------------------------------------------------------------------------------


class ScanLogSerializer(serializers.ModelSerializer):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True, default=None)
    username = serializers.CharField(source="user.username", read_only=True, default=None)
    anomalies = serializers.SerializerMethodField()

    class Meta:
        model = ScanLog
        fields = ["id", "user", "username", "organisation", "organisation_name", "scanned_at", "source", "raw",
                  "symbology", "decoder", "image_sha256", "payload", "payload_kind", "action", "context", "outcome",
                  "status_code", "error_code", "entity", "unknown", "flags", "product", "batch", "pack_code",
                  "device", "shipment", "dispense", "anomalies"]
        read_only_fields = fields

    def get_anomalies(self, log) -> list[str]:
        return [a.kind for a in log.anomalies.all()]


class ScanLogFilter(django_filters.FilterSet):
    scanned_after = django_filters.IsoDateTimeFilter(field_name="scanned_at", lookup_expr="gte")
    scanned_before = django_filters.IsoDateTimeFilter(field_name="scanned_at", lookup_expr="lt")
    flag = django_filters.CharFilter(method="filter_flag", label="scans carrying this flag")

    class Meta:
        model = ScanLog
        fields = ["unknown", "action", "outcome", "organisation", "user", "entity", "payload_kind", "error_code",
                  "batch", "pack_code", "device"]

    def filter_flag(self, queryset, name, value):
        return queryset.filter(flags__icontains=f'"{value}"')


class ScanLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The scan log: every scan, refusals and unknown codes included (`?unknown=true`)."""

    serializer_class = ScanLogSerializer
    filterset_class = ScanLogFilter
    ordering_fields = ["scanned_at", "id"]

    def get_queryset(self):
        return selectors.scan_logs(self.request.user).prefetch_related("anomalies")

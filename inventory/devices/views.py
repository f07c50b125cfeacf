"""Device endpoints: thin views over services (writes) and selectors (reads).

Members see their own organisation's devices; inspectors and office administrators their
jurisdiction's. Who may act is decided in `inventory.devices.permissions`, called by the
services.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.uploads import UploadLimitMixin
from inventory.devices import labels, register, selectors, services
from inventory.devices import serializers as s
from inventory.devices.filters import DeviceExamFilter, DeviceFilter, DeviceRefusalFilter
from inventory.devices.permissions import sees_patient


class DeviceViewSet(UploadLimitMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`/api/devices/`: filing (POST, multipart), list and detail; lifecycle actions."""

    serializer_class = s.DeviceSerializer
    filterset_class = DeviceFilter
    ordering_fields = ["filed_at", "purchased_on", "days_late", "serial_number"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        return selectors.device_list(user=self.request.user)

    def _out(self, device, code=status.HTTP_200_OK):
        device = self.get_queryset().filter(pk=device.pk).first() or device
        return Response(s.DeviceSerializer(device, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request={"multipart/form-data": s.DeviceFileSerializer}, responses={201: s.DeviceSerializer})
    def create(self, request, *args, **kwargs):
        data = s.DeviceFileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_file(actor=request.user, **data.validated_data)
        return self._out(device, status.HTTP_201_CREATED)

    # The device list's filters are not the events' (a filter the device does not match
    # would 404 it): the device by its id, its events paginated.
    @extend_schema(responses=s.DeviceEventSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def events(self, request, pk=None):
        device = self.get_object()
        page = self.paginate_queryset(selectors.device_events(device=device))
        return self.get_paginated_response(s.DeviceEventSerializer(page, many=True).data)

    def _act(self, serializer_class, service, **extra):
        device = self.get_object()
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        device = service(actor=self.request.user, device=device, **data.validated_data, **extra)
        return self._out(device)

    @extend_schema(request=s.DeviceSealSerializer, responses=s.DeviceSerializer)
    @action(detail=True, methods=["post"])
    def seal(self, request, pk=None):
        return self._act(s.DeviceSealSerializer, services.device_seal)

    @extend_schema(request=s.DeviceSealSerializer, responses=s.DeviceSerializer)
    @action(detail=True, methods=["post"])
    def unseal(self, request, pk=None):
        return self._act(s.DeviceSealSerializer, services.device_unseal)

    @extend_schema(request=s.DeviceTransferSerializer, responses=s.DeviceSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        return self._act(s.DeviceTransferSerializer, services.device_transfer)

    @extend_schema(request=s.DeviceScrapSerializer, responses=s.DeviceSerializer)
    @action(detail=True, methods=["post"])
    def scrap(self, request, pk=None):
        return self._act(s.DeviceScrapSerializer, services.device_scrap)

    @extend_schema(request=s.DeviceOperatorSerializer, responses=s.DeviceSerializer)
    @action(detail=True, methods=["post"], url_path="add-operator")
    def add_operator(self, request, pk=None):
        return self._act(s.DeviceOperatorSerializer, services.device_operator_add)

    @extend_schema(request=s.DeviceOperatorSerializer, responses=s.DeviceSerializer)
    @action(detail=True, methods=["post"], url_path="remove-operator")
    def remove_operator(self, request, pk=None):
        return self._act(s.DeviceOperatorSerializer, services.device_operator_remove)

    @extend_schema(request={"multipart/form-data": s.DevicePhotosSerializer}, responses={201: s.DeviceSerializer})
    @action(detail=True, methods=["post"])
    def photos(self, request, pk=None):
        device = self.get_object()
        data = s.DevicePhotosSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_photos_add(actor=request.user, device=device, photos=data.validated_data["photos"],
                                            person=data.validated_data.get("person"))
        return self._out(device, status.HTTP_201_CREATED)

    @extend_schema(responses=s.DeviceEventSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="late-filings", filter_backends=[])  # takes no filters
    def late_filings(self, request):
        """Filings made more than 7 days after purchase (or after a transfer), latest duty
        first: each is a finding for the office."""
        page = self.paginate_queryset(selectors.late_filings(user=request.user))
        return self.get_paginated_response(s.DeviceEventSerializer(page, many=True).data)


class DeviceRefusalViewSet(viewsets.ReadOnlyModelViewSet):
    """Refused filings, transfers and exams (`?act=exam`), searchable by code
    (`?code=device_duplicate_filing`), serial and device."""

    serializer_class = s.DeviceRefusalSerializer
    filterset_class = DeviceRefusalFilter
    ordering_fields = ["attempted_at"]

    def get_queryset(self):
        return selectors.refusal_list(user=self.request.user)


class DeviceExamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        viewsets.GenericViewSet):
    """`/api/device-exams/`: the exam register. Lists mask the patient; the detail shows the
    patient in full to the holder's staff and the jurisdiction's inspectors, and every such
    read is on the audit trail. No update, no delete: the register is append-only."""

    filterset_class = DeviceExamFilter
    ordering_fields = ["performed_at", "recorded_at"]

    def get_queryset(self):
        return selectors.exam_list(user=self.request.user)

    def get_serializer_class(self):
        if self.action == "create":
            return s.ExamWriteSerializer
        if self.action == "retrieve":
            return s.ExamDetailSerializer
        return s.ExamListSerializer

    @extend_schema(request=s.ExamWriteSerializer, responses={201: s.ExamDetailSerializer})
    def create(self, request, *args, **kwargs):
        data = s.ExamWriteSerializer(data=request.data)
        data.fields["device"].queryset = selectors.devices_for_exams(user=request.user)
        data.is_valid(raise_exception=True)
        exam = services.exam_record(actor=request.user, **data.validated_data)
        return Response(s.ExamDetailSerializer(exam, context={"sees_patient": True}).data,
                        status=status.HTTP_201_CREATED)

    def retrieve(self, request, *args, **kwargs):
        exam = self.get_object()
        full = sees_patient(request.user, exam.holder)
        if full:
            services.exam_sensitive_read(actor=request.user, exam=exam)
        return Response(s.ExamDetailSerializer(exam, context={"sees_patient": full}).data)


class DeviceLabelView(APIView):
    """`GET /api/devices/{id}/label.svg|png`: the asset label (Code 128 of the asset tag, with
    kind, model, serial and holder)."""

    @extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.STR, (200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request, pk: int, fmt: str):
        device = get_object_or_404(selectors.device_list(user=request.user), pk=pk)
        if fmt == "svg":
            return HttpResponse(labels.render_svg(device), content_type="image/svg+xml")
        return HttpResponse(labels.render_png(device), content_type="image/png")


class DeviceRegisterView(APIView):
    """`GET /api/devices/register.xlsx|csv`: the unified register (统一登记造册) of what the user
    may see, with the list's filters (jurisdiction, kind, status, late...)."""

    @extend_schema(responses={(200, register.XLSX_TYPE): OpenApiTypes.BINARY, (200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, fmt: str):
        filterset = DeviceFilter(request.query_params, queryset=selectors.device_list(user=request.user))
        if not filterset.is_valid():  # as the list answers: a filter it cannot read is 400, never "everything"
            raise translate_validation(filterset.errors)
        devices = filterset.qs.order_by("holder__jurisdiction__code", "holder__name", "id")
        if fmt == "xlsx":
            body, content_type = register.to_xlsx(devices), register.XLSX_TYPE
        else:
            body, content_type = register.to_csv(devices), "text/csv; charset=utf-8"
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="device-register.{fmt}"'
        return response

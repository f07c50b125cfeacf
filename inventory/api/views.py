"""Drug-chain endpoints: thin views over `inventory.services` and `inventory.selectors`.

Every POST that changes stock honours `Idempotency-Key` (backend.idempotency)."""

from __future__ import annotations

from django.db.models import Q
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from backend import visibility
from backend.errors import InvalidInput
from backend.idempotency import idempotent, scoped_key
from inventory import selectors, services
from inventory.api import filters as f
from inventory.api import serializers as s
from inventory.models import (
    Batch,
    DispenseRefusal,
    Disposal,
    DrugProduct,
    Intake,
    Seizure,
    Shipment,
    ShipmentRefusal,
)


class DrugProductViewSet(viewsets.ReadOnlyModelViewSet):
    """The catalogue of termination drugs (reference data, maintained in the admin)."""

    queryset = DrugProduct.objects.all()
    serializer_class = s.DrugProductSerializer
    filterset_class = f.DrugProductFilter
    ordering_fields = ["generic_name", "strength"]


class BatchViewSet(viewsets.ReadOnlyModelViewSet):
    """Batches (registered at intake). `expiring_within=N`: not yet expired, expiring in N days."""

    queryset = Batch.objects.select_related("product")
    serializer_class = s.BatchSerializer
    filterset_class = f.BatchFilter
    ordering_fields = ["expiry_date", "lot_number", "created_at"]


class StockBalanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Balances per holder + batch (+ in transit). With `as_of=YYYY-MM-DD` they are summed
    from the ledger up to the end of that day instead of read from the cached positions."""

    serializer_class = s.StockPositionSerializer
    filterset_class = f.StockBalanceFilter
    ordering_fields = ["quantity", "holder", "batch"]

    def get_queryset(self):
        return selectors.stock_position_rows(self.request.user).order_by("holder_id", "batch_id", "in_transit")

    @extend_schema(parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE)])
    def list(self, request, *args, **kwargs):
        as_of = request.query_params.get("as_of")
        if not as_of:
            return super().list(request, *args, **kwargs)
        try:
            on = parse_date(as_of)
        except ValueError:  # well formed but impossible: 2026-02-30, 2026-13-01
            on = None
        if on is None:
            raise InvalidInput(_("as_of is a date: YYYY-MM-DD."), code="invalid_date", details={"param": "as_of"})
        # The list's own filters read the parameters (ids within 64 bits, strict booleans);
        # the ledger sum takes them as a Q.
        lookups = {"holder": "holder_id", "batch": "batch_id", "product": "batch__product_id", "in_transit": "in_transit"}
        form = self.filterset_class({k: v for k, v in request.query_params.items() if k in lookups}).form
        if not form.is_valid():
            param = next(iter(form.errors))
            if param == "in_transit":
                raise InvalidInput(_("in_transit is true or false."), code="invalid_filter", details={"param": param})
            raise InvalidInput(_("%(p)s is an id.") % {"p": param}, code="invalid_filter")
        q = Q(**{lookups[k]: v for k, v in form.cleaned_data.items() if k in lookups and v is not None})
        rows = [dict(row, as_of=on) for row in selectors.stock_balances_as_of(request.user, on, filters=q)]
        page = self.paginate_queryset(rows)
        data = s.BalanceAsOfSerializer(page if page is not None else rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)


class StockMovementViewSet(viewsets.ReadOnlyModelViewSet):
    """The ledger: filter by holder + batch for a stock card (each row then carries
    `balance_after`, the running balance of its bucket); by kind and dates."""

    serializer_class = s.StockMovementSerializer
    filterset_class = f.StockMovementFilter
    ordering_fields = ["occurred_at", "id"]

    def get_queryset(self):
        qs = selectors.stock_movements(self.request.user)
        params = self.request.query_params
        if self.action == "list" and params.get("holder") and params.get("batch"):  # a stock card
            qs = selectors.with_running_balance(qs)
        return qs

    @extend_schema(request=s.MovementCorrectSerializer, responses={201: s.StockMovementSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def correct(self, request, pk=None):
        """Cancel a single-leg movement with a compensating row pointing at it."""
        movement = self.get_object()
        data = s.MovementCorrectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        correction = services.movement_correct(actor=request.user, movement=movement, **data.validated_data)
        return Response(s.StockMovementSerializer(correction).data, status=status.HTTP_201_CREATED)


class IntakeViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """A wholesaler's receipts from manufacturers."""

    filterset_class = f.IntakeFilter
    ordering_fields = ["received_at", "id"]

    def get_queryset(self):
        qs = Intake.objects.select_related("batch")
        return visibility.scope(qs, self.request.user, "wholesaler")

    def get_serializer_class(self):
        return s.IntakeWriteSerializer if self.action == "create" else s.IntakeSerializer

    @extend_schema(request=s.IntakeWriteSerializer, responses=s.IntakeSerializer)
    @idempotent
    def create(self, request, *args, **kwargs):
        data = s.IntakeWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        batch = v.pop("batch", None)
        receipt = {"quantity": v["quantity"], "invoice_number": v["invoice_number"],
                   "supplier_name": v["supplier_name"], "received_at": v.get("received_at"),
                   "pack_codes": v.get("pack_codes", []), "idempotency_key": scoped_key(request)}
        if batch is None:
            intake = services.intake_record_new_lot(
                actor=request.user, product=v["product"], lot_number=v["lot_number"],
                expiry_printed=v["expiry_printed"], manufactured_on=v.get("manufactured_on"), **receipt)
        else:
            intake = services.intake_record(actor=request.user, batch=batch, **receipt)
        return Response(s.IntakeSerializer(intake).data, status=status.HTTP_201_CREATED)


class ShipmentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Shipments a user's organisation sent or received (authorities: their jurisdiction).
    POST drafts one; `dispatch`, `receive` and `reject` move it on."""

    filterset_class = f.ShipmentFilter
    ordering_fields = ["created_at", "dispatched_at", "id"]

    def get_queryset(self):
        qs = Shipment.objects.select_related("sender", "recipient").prefetch_related(
            "lines__batch", "lines__discrepancy")
        return visibility.scope(qs, self.request.user, "sender", "recipient")

    def get_serializer_class(self):
        return s.ShipmentWriteSerializer if self.action == "create" else s.ShipmentSerializer

    def _out(self, shipment, code=status.HTTP_200_OK):
        shipment = self.get_queryset().get(pk=shipment.pk)
        return Response(s.ShipmentSerializer(shipment).data, status=code)

    @extend_schema(request=s.ShipmentWriteSerializer, responses=s.ShipmentSerializer)
    @idempotent
    def create(self, request, *args, **kwargs):
        data = s.ShipmentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shipment = services.shipment_create(actor=request.user, **data.validated_data)
        return self._out(shipment, status.HTTP_201_CREATED)

    @extend_schema(request=s.ShipmentDispatchSerializer, responses=s.ShipmentSerializer)
    @action(detail=True, methods=["post"], url_path="dispatch", url_name="dispatch")
    @idempotent
    def dispatch_shipment(self, request, pk=None):
        shipment = self.get_object()
        data = s.ShipmentDispatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shipment = services.shipment_dispatch(actor=request.user, shipment=shipment,
                                              idempotency_key=scoped_key(request), **data.validated_data)
        return self._out(shipment)

    @extend_schema(request=s.ShipmentReceiveSerializer, responses=s.ShipmentSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def receive(self, request, pk=None):
        shipment = self.get_object()
        data = s.ShipmentReceiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shipment = services.shipment_receive(actor=request.user, shipment=shipment,
                                             lines=data.validated_data.get("lines"),
                                             occurred_at=data.validated_data.get("occurred_at"),
                                             idempotency_key=scoped_key(request))
        return self._out(shipment)

    @extend_schema(request=s.ShipmentRejectSerializer, responses=s.ShipmentSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def reject(self, request, pk=None):
        shipment = self.get_object()
        data = s.ShipmentRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shipment = services.shipment_reject(actor=request.user, shipment=shipment,
                                            idempotency_key=scoped_key(request), **data.validated_data)
        return self._out(shipment)


class ShipmentRefusalViewSet(viewsets.ReadOnlyModelViewSet):
    """Refused dispatches (who, to whom, what, when, why), for inspectors."""

    serializer_class = s.ShipmentRefusalSerializer
    filterset_class = f.ShipmentRefusalFilter
    ordering_fields = ["attempted_at", "id"]

    def get_queryset(self):
        qs = ShipmentRefusal.objects.select_related("sender", "recipient")
        return visibility.scope(qs, self.request.user, "sender", "recipient")


class DispenseViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The use register. Lists mask the patient; the detail shows the full entry to the
    institution's own pharmacists and physicians and the jurisdiction's inspectors, and
    every such read is written to the audit trail. Wholesalers see no dispenses."""

    filterset_class = f.DispenseFilter
    ordering_fields = ["occurred_at", "id"]

    def get_queryset(self):
        return selectors.dispenses_visible(self.request.user).prefetch_related("emergency_physicians")

    def get_serializer_class(self):
        if self.action == "create":
            return s.DispenseWriteSerializer
        return s.DispenseDetailSerializer if self.action == "retrieve" else s.DispenseListSerializer

    def retrieve(self, request, *args, **kwargs):
        dispense = self.get_object()
        if selectors.may_see_patient(request.user, dispense):
            services.dispense_sensitive_read(actor=request.user, dispense=dispense)
            return Response(s.DispenseDetailSerializer(dispense).data)
        return Response(s.DispenseListSerializer(dispense).data)

    @extend_schema(request=s.DispenseWriteSerializer, responses=s.DispenseDetailSerializer)
    @idempotent
    def create(self, request, *args, **kwargs):
        data = s.DispenseWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispense = services.dispense_record(actor=request.user, idempotency_key=scoped_key(request),
                                            **data.validated_data)
        return Response(s.DispenseDetailSerializer(dispense).data, status=status.HTTP_201_CREATED)


class DispenseRefusalViewSet(viewsets.ReadOnlyModelViewSet):
    """Refused dispenses (institution not authorized, physician not licensed that day)."""

    serializer_class = s.DispenseRefusalSerializer
    filterset_fields = ["institution", "code", "physician"]
    ordering_fields = ["attempted_at", "id"]

    def get_queryset(self):
        return visibility.scope(DispenseRefusal.objects.all(), self.request.user, "institution")


class DisposalViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.DisposalSerializer
    filterset_class = f.DisposalFilter
    ordering_fields = ["occurred_at", "id"]

    def get_queryset(self):
        return visibility.scope(Disposal.objects.all(), self.request.user, "holder")

    @idempotent
    def create(self, request, *args, **kwargs):
        data = s.DisposalSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        disposal = services.disposal_record(actor=request.user, idempotency_key=scoped_key(request),
                                            **data.validated_data)
        return Response(s.DisposalSerializer(disposal).data, status=status.HTTP_201_CREATED)


class SeizureViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Stock seized by inspectors (moves to the inspector's authority)."""

    serializer_class = s.SeizureSerializer
    filterset_class = f.SeizureFilter
    ordering_fields = ["occurred_at", "id"]

    def get_queryset(self):
        return visibility.scope(Seizure.objects.all(), self.request.user, "holder", "authority")

    @idempotent
    def create(self, request, *args, **kwargs):
        data = s.SeizureSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        seizure = services.seizure_record(actor=request.user, idempotency_key=scoped_key(request),
                                          **data.validated_data)
        return Response(s.SeizureSerializer(seizure).data, status=status.HTTP_201_CREATED)

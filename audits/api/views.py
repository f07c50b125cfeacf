"""Reconciliation and monthly filings: thin views over `audits.counts`, `audits.closing`,
`audits.filings`, `audits.reconciliation` and `audits.forms`."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audits import closing, counts, filings, forms, periods, reconciliation
from audits.api import serializers as s
from audits.errors import NotPermitted
from audits.models import CountSession, SalesFiling, SignedClosing
from backend import visibility
from backend.api.filters import jurisdiction_by_code
from backend.api.serializers import ErrorSerializer
from backend.errors import InvalidInput
from backend.idempotency import idempotent
from backend.models import Jurisdiction, Organisation
from scanning import selectors as scan_selectors

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _month(request) -> object:
    return periods.parse_month(request.query_params.get("month"))


def _organisation_param(request, name: str = "organisation") -> Organisation:
    value = request.query_params.get(name)
    if not value:
        if request.user.organisation_id and not request.user.is_authority:
            return visibility.organisation_of(request.user)
        raise InvalidInput(_("Name the %(name)s (an id).") % {"name": name}, code="invalid_filter")
    if not (value.isascii() and value.isdigit() and len(value) <= 18):  # an id that fits a bigint
        raise InvalidInput(_("%(name)s is an id.") % {"name": name}, code="invalid_filter")
    org = visibility.scope(Organisation.objects.select_related("jurisdiction"), request.user, "").filter(
        pk=int(value)).first()
    if org is None:
        raise NotPermitted(_("You may not see this organisation."))
    return org


def _jurisdiction_scope(request) -> tuple[str | None, int | None, Jurisdiction | None]:
    """(jurisdiction prefix, organisation id, jurisdiction): authorities reconcile a
    jurisdiction within theirs; members see only their own organisation's side."""
    user = request.user
    code = request.query_params.get("jurisdiction")
    if user.is_authority or visibility.sees_everything(user):
        if code:
            jurisdiction = jurisdiction_by_code(code)
            if jurisdiction is None:
                raise InvalidInput(_("Unknown jurisdiction %(code)s.") % {"code": code}, code="invalid_filter")
            if not visibility.in_jurisdiction(user, jurisdiction):
                raise NotPermitted(_("%(code)s is outside your jurisdiction.") % {"code": code})
        else:
            if user.organisation_id is None:
                raise InvalidInput(_("Name the jurisdiction."), code="invalid_filter")
            jurisdiction = user.organisation.jurisdiction
        return jurisdiction.prefix, None, jurisdiction
    if not user.organisation_id or not user.role:
        raise NotPermitted()
    return None, user.organisation_id, user.organisation.jurisdiction


# --- counts --------------------------------------------------------------------------------


class CountSessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Count sessions (账物相符). POST opens one; then `lines`, `scan`, `close`, `approve`."""

    serializer_class = s.CountSessionSerializer
    filterset_fields = ["holder", "status"]
    ordering_fields = ["opened_at"]

    def get_queryset(self):
        qs = CountSession.objects.select_related("holder").prefetch_related("lines__batch__product")
        return visibility.scope(qs, self.request.user, "holder")

    @extend_schema(request=s.CountOpenSerializer, responses=s.CountSessionSerializer)
    def create(self, request):
        data = s.CountOpenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        holder = None
        if data.validated_data.get("holder"):
            holder = visibility.scope(Organisation.objects.all(), request.user, "").filter(
                pk=data.validated_data["holder"]).first()
            if holder is None:
                raise NotPermitted(_("You may not count this holder's stock."))
        session = counts.count_session_open(actor=request.user, holder=holder, note=data.validated_data["note"])
        return Response(s.CountSessionSerializer(self.get_queryset().get(pk=session.pk)).data,
                        status=status.HTTP_201_CREATED)

    def _session_response(self, session, code=status.HTTP_200_OK):
        return Response(s.CountSessionSerializer(self.get_queryset().get(pk=session.pk)).data, status=code)

    @extend_schema(request=s.CountLineInputSerializer, responses=s.CountSessionSerializer)
    @action(detail=True, methods=["post"])
    def lines(self, request, pk=None):
        from inventory.models import Batch

        session = self.get_object()
        data = s.CountLineInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = get_object_or_404(Batch, pk=data.validated_data["batch"])
        counts.count_line_set(actor=request.user, session=session, batch=batch, counted=data.validated_data["counted"])
        return self._session_response(session)

    @extend_schema(request=s.CountScanSerializer, responses=s.CountSessionSerializer)
    @action(detail=True, methods=["post"])
    def scan(self, request, pk=None):
        session = self.get_object()
        data = s.CountScanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = scan_selectors.count_scan_pack_code(user=request.user, raw=data.validated_data["code"])
        counts.count_line_scan(actor=request.user, session=session, code=code)
        return self._session_response(session)

    @extend_schema(request=s.CountCloseSerializer, responses=s.CountSessionSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        session = self.get_object()
        data = s.CountCloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reasons = {r["batch"]: (r["reason"], r["note"]) for r in data.validated_data["reasons"]}
        counts.count_session_close(actor=request.user, session=session, reasons=reasons)
        return self._session_response(session)

    @extend_schema(request=None, responses=s.CountSessionSerializer)
    @action(detail=True, methods=["post"])
    @idempotent  # posts the variances to the ledger, like every stock-changing POST
    def approve(self, request, pk=None):
        session = self.get_object()
        counts.count_session_approve(actor=request.user, session=session)
        return self._session_response(session)


# --- monthly closings ----------------------------------------------------------------------


class SignedClosingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Signed monthly closings (immutable). `preview` computes a month as it stands;
    `sign` (POST) is the custodian's sign-off. PUT/PATCH/DELETE answer 409 `period_signed`."""

    serializer_class = s.SignedClosingSerializer
    filterset_fields = ["holder"]

    def get_queryset(self):
        qs = SignedClosing.objects.select_related("holder").prefetch_related("lines")
        qs = visibility.scope(qs, self.request.user, "holder")
        month = self.request.query_params.get("month")
        return qs.filter(month=periods.parse_month(month)) if month else qs

    @extend_schema(request=None, responses={409: OpenApiResponse(ErrorSerializer, "always: `period_signed`")})
    def update(self, request, *args, **kwargs):
        closing.closing_change(actor=request.user, closing=self.get_object())

    partial_update = update

    @extend_schema(responses={409: OpenApiResponse(ErrorSerializer, "always: `period_signed`")})
    def destroy(self, request, *args, **kwargs):
        closing.closing_change(actor=request.user, closing=self.get_object())

    @extend_schema(parameters=[OpenApiParameter("month", OpenApiTypes.STR, required=True),
                               OpenApiParameter("holder", OpenApiTypes.INT)],
                   responses=s.ClosingPreviewSerializer)
    @action(detail=False, methods=["get"])
    def preview(self, request):
        month = _month(request)
        holder = _organisation_param(request, "holder")
        rows = closing.closing_preview(user=request.user, holder=holder, month=month)
        signed = SignedClosing.objects.filter(holder=holder, month=month).values_list("pk", flat=True).first()
        return Response({"holder": holder.pk, "month": month.strftime("%Y-%m"), "signed": signed, "lines": rows})

    @extend_schema(request=s.ClosingSignSerializer, responses={201: s.SignedClosingSerializer})
    @action(detail=False, methods=["post"])
    def sign(self, request):
        data = s.ClosingSignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        signed = closing.closing_sign(actor=request.user, month=periods.parse_month(data.validated_data["month"]),
                                      statement=data.validated_data["statement"])
        return Response(s.SignedClosingSerializer(signed).data, status=status.HTTP_201_CREATED)


# --- sales filings -------------------------------------------------------------------------


class SalesFilingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Wholesalers' monthly sales summaries. POST JSON `{month, rows: [...]}` or multipart
    `month` + `file` (CSV or XLSX with the template's Chinese headers); `amendment_reason`
    makes a new version of a filed month; `no_sales: true` (no rows, no file) files a month
    without sales (a nil return). Invalid rows: 400 `filing_rows_invalid` with every
    row error in `details.rows`, nothing stored. PUT/PATCH/DELETE answer 409 `filing_submitted`."""

    serializer_class = s.SalesFilingSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_fields = ["wholesaler", "late", "version"]

    def get_queryset(self):
        qs = filings.filings_visible(self.request.user)
        month = self.request.query_params.get("month")
        return qs.filter(month=periods.parse_month(month)) if month else qs

    @extend_schema(request=s.SalesFilingInputSerializer, responses=s.SalesFilingSerializer)
    def create(self, request):
        data = s.SalesFilingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        month = periods.parse_month(data.validated_data["month"])
        upload = data.validated_data.get("file")
        if upload is not None:
            head = upload.read(4)
            upload.seek(0)
            digest = filings.file_digest(upload)
            if head.startswith(b"PK\x03\x04"):
                rows, source = filings.rows_from_xlsx(upload), SalesFiling.Source.XLSX
            else:
                rows, source = filings.rows_from_csv(upload.file), SalesFiling.Source.CSV
        else:
            rows, source, digest = filings.rows_from_json(request.data.get("rows") or []), SalesFiling.Source.JSON, ""
        filing = filings.sales_filing_submit(actor=request.user, month=month, rows=rows, source=source,
                                             amendment_reason=data.validated_data["amendment_reason"],
                                             file_sha256=digest, no_sales=data.validated_data["no_sales"])
        return Response(s.SalesFilingSerializer(filing).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={409: OpenApiResponse(ErrorSerializer, "always: `filing_submitted`")})
    def update(self, request, *args, **kwargs):
        filings.sales_filing_change(actor=request.user, filing=self.get_object())

    partial_update = update

    @extend_schema(responses={409: OpenApiResponse(ErrorSerializer, "always: `filing_submitted`")})
    def destroy(self, request, *args, **kwargs):
        filings.sales_filing_change(actor=request.user, filing=self.get_object())

    @extend_schema(responses=s.SalesFilingLineSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])  # the filing by its id, not the list's filters
    def lines(self, request, pk=None):
        filing = self.get_object()
        page = self.paginate_queryset(filing.lines.all())
        return self.get_paginated_response(s.SalesFilingLineSerializer(page, many=True).data)


class SalesFilingTemplateView(APIView):
    """The upload template (Chinese headers), as CSV (UTF-8 with BOM) or XLSX."""

    @extend_schema(responses={200: OpenApiTypes.BINARY})
    def get(self, request, fmt: str):
        if fmt == "xlsx":
            return _download(filings.template_xlsx(), XLSX, "sales-filing-template.xlsx")
        return _download(filings.template_csv(), "text/csv; charset=utf-8", "sales-filing-template.csv")


class FilingStatusView(APIView):
    """Who filed which form for the month, and who is late (`month`, `jurisdiction`)."""

    @extend_schema(parameters=[OpenApiParameter("month", OpenApiTypes.STR, required=True),
                               OpenApiParameter("jurisdiction", OpenApiTypes.STR)],
                   responses={200: s.FilingStatusSerializer})
    def get(self, request):
        month = _month(request)
        _prefix, _org, jurisdiction = _jurisdiction_scope(request)
        rows = filings.filing_status(user=request.user, jurisdiction=jurisdiction, month=month)
        return Response(s.FilingStatusSerializer({"month": month.strftime("%Y-%m"), "jurisdiction": jurisdiction.code,
                                                  "results": rows}).data)


# --- reconciliation ------------------------------------------------------------------------


class ReconciliationView(APIView):
    """The month's reconciliation (账账相符 and 账物相符): `month=2026-10&jurisdiction=430421`.
    Authorities get their jurisdiction (what is found is recorded for the alerts once the
    month's filings are due); members get their own organisation's side."""

    @extend_schema(parameters=[OpenApiParameter("month", OpenApiTypes.STR, required=True),
                               OpenApiParameter("jurisdiction", OpenApiTypes.STR)],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        month = _month(request)
        prefix, org_id, jurisdiction = _jurisdiction_scope(request)
        result = reconciliation.reconcile(month, jurisdiction_prefix=prefix, organisation_id=org_id)
        # Recorded (for the alerts) once the month's filings are due, as the daily rule does:
        # before that, what a wholesaler has not filed yet is no discrepancy.
        if org_id is None and periods.filings_due(month, jurisdiction):
            result["recorded"] = reconciliation.reconciliation_record(result, jurisdiction_code=jurisdiction.code)
        result["jurisdiction"] = jurisdiction.code if org_id is None else None
        return Response(result)


class ReconciliationExportView(APIView):
    @extend_schema(parameters=[OpenApiParameter("month", OpenApiTypes.STR, required=True),
                               OpenApiParameter("jurisdiction", OpenApiTypes.STR)],
                   responses={200: OpenApiTypes.BINARY})
    def get(self, request):
        month = _month(request)
        prefix, org_id, jurisdiction = _jurisdiction_scope(request)
        result = reconciliation.reconcile(month, jurisdiction_prefix=prefix, organisation_id=org_id)
        name = f"reconciliation-{jurisdiction.code if org_id is None else org_id}-{month:%Y-%m}.xlsx"
        return _download(reconciliation.reconciliation_xlsx(result), XLSX, name)


# --- statutory forms -----------------------------------------------------------------------


class FormView(APIView):
    """A statutory monthly form: /api/forms/<usage-register|drug-summary|sales-summary>.<xlsx|pdf>
    ?month=2026-10&organisation=<id> (default: your own organisation)."""

    @extend_schema(parameters=[OpenApiParameter("month", OpenApiTypes.STR, required=True),
                               OpenApiParameter("organisation", OpenApiTypes.INT)],
                   responses={200: OpenApiTypes.BINARY})
    def get(self, request, kind: str, fmt: str):
        month = _month(request)
        organisation = _organisation_param(request)
        form = forms.build(kind, user=request.user, organisation=organisation, month=month)
        if fmt == "pdf":
            return _download(forms.render_pdf(form), "application/pdf", form.filename + ".pdf")
        return _download(forms.render_xlsx(form), XLSX, form.filename + ".xlsx")

"""Sweep endpoints: thin views over `audits.sweeps.services` (writes), `selectors` (reads),
`sync` (the offline batch) and `reports` (PDF and XLSX).

| endpoint | what |
| --- | --- |
| `/api/sweeps/` | plan (POST), list, detail with teams and targets; `generate-targets`, `targets` (ad hoc), `teams`, `assign`, `finish` |
| `/api/visits/` | open (POST `{target}`), list, detail (checklist, ticks, findings, photos, count); `sync`, `count`, `close` |
| `/api/findings/` | record (POST, online), list, detail; `seal`, `seize`, `rectification`, `verify-rectification` |
| `/api/cases/` | open from a finding (POST), list, detail; `follow-up` |
| `/api/visits/{id}/report.pdf|xlsx`, `/api/sweeps/{id}/report.pdf|xlsx` | the reports |
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audits.sweeps import reports, selectors, services, sync
from audits.sweeps import serializers as s
from audits.sweeps.models import FindingAction, Team
from backend.idempotency import idempotent, scoped_key
from backend.models import Jurisdiction
from backend.uploads import UploadLimitMixin

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _invalid(field: str, message, code: str = "does_not_exist"):
    raise serializers.ValidationError({field: [serializers.ErrorDetail(str(message), code=code)]})


def _jurisdiction(pk, field="jurisdiction") -> Jurisdiction | None:
    if pk is None:
        return None
    return Jurisdiction.objects.filter(pk=pk).first() or _invalid(field, _("Unknown jurisdiction."))


def _validated(serializer_class, data) -> dict:
    shape = serializer_class(data=data)
    shape.is_valid(raise_exception=True)
    return dict(shape.validated_data)


class _Base(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    def _out(self, instance, code=status.HTTP_200_OK):
        instance = self.get_queryset().get(pk=instance.pk)
        return Response(self.get_serializer_class()(instance, context=self.get_serializer_context()).data,
                        status=code)


class SweepViewSet(_Base):
    """Joint enforcement sweeps of the office (authorities of the jurisdiction only)."""

    serializer_class = s.SweepSerializer
    filterset_fields = ["status", "jurisdiction"]
    ordering_fields = ["period_start", "created_at"]

    def get_queryset(self):
        return selectors.sweep_list(user=self.request.user)

    @extend_schema(request=s.SweepPlanSerializer, responses={201: s.SweepSerializer})
    @idempotent
    def create(self, request, *args, **kwargs):
        data = _validated(s.SweepPlanSerializer, request.data)
        data["jurisdiction"] = _jurisdiction(data["jurisdiction"])
        sweep = services.sweep_plan(actor=request.user, **data)
        return self._out(sweep, status.HTTP_201_CREATED)

    @extend_schema(request=s.GenerateTargetsSerializer, responses=s.SweepSerializer)
    @action(detail=True, methods=["post"], url_path="generate-targets")
    def generate_targets(self, request, pk=None):
        sweep = self.get_object()
        data = _validated(s.GenerateTargetsSerializer, request.data)
        services.targets_generate(actor=request.user, sweep=sweep, sources=data["sources"] or None)
        return self._out(sweep)

    def _team(self, sweep, pk) -> Team | None:
        if pk is None:
            return None
        return sweep.teams.filter(pk=pk).first() or _invalid("team", _("No such team in this sweep."))

    @extend_schema(request=s.TargetAddSerializer, responses={201: s.SweepSerializer})
    @action(detail=True, methods=["post"])
    def targets(self, request, pk=None):
        sweep = self.get_object()
        data = _validated(s.TargetAddSerializer, request.data)
        organisation = None
        if data["organisation"] is not None:
            organisation = selectors.organisations_in(request.user, data["organisation"]) or _invalid(
                "organisation", _("Unknown organisation."))
        services.target_add(actor=request.user, sweep=sweep, organisation=organisation, site_name=data["site_name"],
                            site_address=data["site_address"], jurisdiction=_jurisdiction(data["jurisdiction"]),
                            team=self._team(sweep, data["team"]))
        return self._out(sweep, status.HTTP_201_CREATED)

    @extend_schema(request=s.TeamCreateSerializer, responses={201: s.SweepSerializer})
    @action(detail=True, methods=["post"])
    def teams(self, request, pk=None):
        sweep = self.get_object()
        data = _validated(s.TeamCreateSerializer, request.data)
        # Users of the administrator's jurisdiction only: another county's are unknown, by id.
        users = selectors.users_in(request.user, data["members"], sweep=sweep)
        unknown = sorted(set(data["members"]) - set(users))
        if unknown:
            _invalid("members", _("Unknown users: %(ids)s.") % {"ids": unknown})
        leader = None
        if data["leader"] is not None:  # a known user who is not a member: the service's refusal
            leader = users.get(data["leader"]) or selectors.users_in(request.user, [data["leader"]], sweep=sweep).get(
                data["leader"]) or _invalid("leader", _("Unknown users: %(ids)s.") % {"ids": [data["leader"]]})
        services.team_create(actor=request.user, sweep=sweep, name=data["name"], members=list(users.values()),
                             leader=leader)
        return self._out(sweep, status.HTTP_201_CREATED)

    @extend_schema(request=s.AssignSerializer, responses=s.SweepSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        sweep = self.get_object()
        data = _validated(s.AssignSerializer, request.data)
        target = sweep.targets.filter(pk=data["target"]).first() or _invalid("target", _("No such target."))
        services.target_assign(actor=request.user, target=target, team=self._team(sweep, data["team"]))
        return self._out(sweep)

    @extend_schema(request=None, responses=s.SweepSerializer)
    @action(detail=True, methods=["post"])
    def finish(self, request, pk=None):
        sweep = services.sweep_finish(actor=request.user, sweep=self.get_object())
        return self._out(sweep)


class VisitViewSet(UploadLimitMixin, _Base):
    """Visits: open one at a target, work it (the `sync` batch, or `POST /api/scan/` with
    `action=inspect`), count its stock, close it."""

    filterset_fields = ["sweep", "status", "organisation", "team"]
    ordering_fields = ["opened_at", "closed_at"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        if self.action == "list":
            return selectors.visit_list(user=self.request.user)
        return selectors.visit_detail(user=self.request.user)

    def get_serializer_class(self):
        return s.VisitSerializer if self.action == "list" else s.VisitDetailSerializer

    @extend_schema(request=s.VisitOpenSerializer, responses={201: s.VisitDetailSerializer})
    @idempotent
    def create(self, request, *args, **kwargs):
        data = _validated(s.VisitOpenSerializer, request.data)
        target = selectors.target_list(user=request.user).filter(pk=data["target"]).first() or _invalid(
            "target", _("Unknown target."))
        visit = services.visit_open(actor=request.user, target=target, note=data["note"])
        return self._out(visit, status.HTTP_201_CREATED)

    @extend_schema(request=s.SyncSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    @idempotent
    def sync(self, request, pk=None):
        """A batch of queued items; answers per item (see audits.sweeps.sync)."""
        visit = self.get_object()
        data = _validated(s.SyncSerializer, request.data)
        results = sync.visit_sync(actor=request.user, visit=visit, items=data["items"])
        summary = {key: sum(1 for r in results if r["status"] == key) for key in (sync.CREATED, sync.DUPLICATE,
                                                                                  sync.ERROR)}
        return Response({"visit": visit.pk, "results": results, **summary})

    @extend_schema(request=None, responses={201: s.VisitDetailSerializer})
    @action(detail=True, methods=["post"])
    def count(self, request, pk=None):
        """Open a count session of the site's stock (book vs shelf); then work it through
        `/api/counts/{id}/` or `POST /api/scan/` with `action=count`."""
        visit = services.visit_count_open(actor=request.user, visit=self.get_object())
        return self._out(visit, status.HTTP_201_CREATED)

    @extend_schema(request=s.VisitCloseSerializer, responses=s.VisitDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = _validated(s.VisitCloseSerializer, request.data)
        visit = services.visit_close(actor=request.user, visit=self.get_object(), note=data["note"])
        return self._out(visit)


class FindingViewSet(_Base):
    """Findings: the jurisdiction's authorities see theirs; an inspected organisation its own
    findings and rectification orders (never another site's)."""

    serializer_class = s.FindingSerializer
    filterset_fields = ["visit", "rule", "severity", "organisation"]
    ordering_fields = ["found_at", "recorded_at"]

    def get_queryset(self):
        return selectors.finding_list(user=self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(),
                "member": selectors.findings_visible_to_member(self.request.user)}

    @extend_schema(request=s.FindingCreateSerializer, responses={201: s.FindingSerializer})
    @idempotent
    def create(self, request, *args, **kwargs):
        data = _validated(s.FindingCreateSerializer, request.data)
        visit = selectors.visit_list(user=request.user).filter(pk=data.pop("visit")).first() or _invalid(
            "visit", _("Unknown visit."))
        finding = services.finding_record(actor=request.user, visit=visit, **data)
        return self._out(finding, status.HTTP_201_CREATED if finding.was_created else status.HTTP_200_OK)

    @extend_schema(request=s.SealSerializer, responses={201: s.FindingSerializer})
    @action(detail=True, methods=["post"])
    def seal(self, request, pk=None):
        from inventory.devices.selectors import device_list

        finding = self.get_object()
        data = _validated(s.SealSerializer, request.data)
        device = device_list(user=request.user).filter(pk=data["device"]).first() or _invalid(
            "device", _("Unknown device."))
        services.finding_seal_device(actor=request.user, finding=finding, device=device, reason=data["reason"])
        return self._out(finding, status.HTTP_201_CREATED)

    @extend_schema(request=s.SeizeSerializer, responses={201: s.FindingSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def seize(self, request, pk=None):
        from inventory.models import Batch

        finding = self.get_object()
        data = _validated(s.SeizeSerializer, request.data)
        batch = Batch.objects.filter(pk=data["batch"]).first() or _invalid("batch", _("Unknown batch."))
        services.finding_seize_stock(actor=request.user, finding=finding, batch=batch, quantity=data["quantity"],
                                     note=data["note"], off_books=data["off_books"],
                                     idempotency_key=scoped_key(request))
        return self._out(finding, status.HTTP_201_CREATED)

    @extend_schema(request=s.RectificationSerializer, responses={201: s.FindingSerializer})
    @action(detail=True, methods=["post"])
    def rectification(self, request, pk=None):
        finding = self.get_object()
        data = _validated(s.RectificationSerializer, request.data)
        services.finding_order_rectification(actor=request.user, finding=finding, **data)
        return self._out(finding, status.HTTP_201_CREATED)

    @extend_schema(request=s.VerifyRectificationSerializer, responses={201: s.FindingSerializer})
    @action(detail=True, methods=["post"], url_path="verify-rectification")
    def verify_rectification(self, request, pk=None):
        finding = self.get_object()
        data = _validated(s.VerifyRectificationSerializer, request.data)
        order = FindingAction.objects.filter(pk=data["order"]).first() or _invalid("order", _("Unknown rectification order."))
        services.finding_verify_rectification(actor=request.user, finding=finding, order=order, note=data["note"])
        return self._out(finding, status.HTTP_201_CREATED)


class CaseViewSet(_Base):
    """Cases (两非案件) opened from findings, with their follow-up."""

    serializer_class = s.CaseSerializer
    filterset_fields = ["status", "organisation"]
    ordering_fields = ["opened_at"]

    def get_queryset(self):
        return selectors.case_list(user=self.request.user)

    @extend_schema(request=s.CaseOpenSerializer, responses={201: s.CaseSerializer})
    @idempotent
    def create(self, request, *args, **kwargs):
        data = _validated(s.CaseOpenSerializer, request.data)
        finding = selectors.finding_list(user=request.user).filter(pk=data.pop("finding")).first() or _invalid(
            "finding", _("Unknown finding."))
        case = services.case_open(actor=request.user, finding=finding, **data)
        return self._out(case, status.HTTP_201_CREATED)

    @extend_schema(request=s.FollowUpSerializer, responses=s.CaseSerializer)
    @action(detail=True, methods=["post"], url_path="follow-up")
    def follow_up(self, request, pk=None):
        case = self.get_object()
        data = _validated(s.FollowUpSerializer, request.data)
        case = services.case_follow_up(actor=request.user, case=case, **data)
        return self._out(case)


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class VisitReportView(APIView):
    """`GET /api/visits/{id}/report.pdf|xlsx`: the visit report (检查记录)."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, (200, XLSX): OpenApiTypes.BINARY})
    def get(self, request, pk: int, fmt: str):
        visit = get_object_or_404(selectors.visit_detail(user=request.user), pk=pk)
        report = reports.visit_report(visit)
        if fmt == "pdf":
            return _download(reports.render_pdf(report), "application/pdf", f"visit-{visit.pk}.pdf")
        return _download(reports.render_xlsx(report), XLSX, f"visit-{visit.pk}.xlsx")


class SweepReportView(APIView):
    """`GET /api/sweeps/{id}/report.pdf|xlsx`: the sweep summary, with the audit trail's
    chain head at the time of generation."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, (200, XLSX): OpenApiTypes.BINARY})
    def get(self, request, pk: int, fmt: str):
        sweep = get_object_or_404(selectors.sweep_list(user=request.user), pk=pk)
        report = reports.sweep_report(sweep)
        if fmt == "pdf":
            return _download(reports.render_pdf(report), "application/pdf", f"sweep-{sweep.pk}.pdf")
        return _download(reports.render_xlsx(report), XLSX, f"sweep-{sweep.pk}.xlsx")

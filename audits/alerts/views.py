"""`/api/alerts/`: the office's alerts. Thin views over `selectors.alert_list` (who sees
what: see its docstring) and the services (who may acknowledge and resolve: the office
administrators of the alert's jurisdiction)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from audits.alerts import selectors, services
from audits.alerts import serializers as s
from audits.alerts.filters import AlertFilter


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts of the user's jurisdiction and below, newest first; filter by `jurisdiction`,
    `type`, `severity`, `status`. Raised by the rules (after each write, and by
    `manage.py run_alert_rules`), never through the API."""

    serializer_class = s.AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["raised_at", "severity", "type", "status"]

    def get_queryset(self):
        return selectors.alert_list(user=self.request.user)

    def _act(self, serializer_class, service):
        alert = self.get_object()
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        alert = service(actor=self.request.user, alert=alert, **data.validated_data)
        return Response(s.AlertSerializer(self.get_queryset().get(pk=alert.pk)).data)

    @extend_schema(request=s.AlertAcknowledgeSerializer, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """open -> acknowledged (office administrators of the alert's jurisdiction)."""
        return self._act(s.AlertAcknowledgeSerializer, services.alert_acknowledge)

    @extend_schema(request=s.AlertResolveSerializer, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """open or acknowledged -> resolved, with a note (office administrators)."""
        return self._act(s.AlertResolveSerializer, services.alert_resolve)

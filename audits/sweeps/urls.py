"""Sweep routes. backend/urls.py calls `register(router)` and includes `urlpatterns` under
"api/" before the router, so that `report.pdf` is not taken for a format suffix."""

from django.urls import re_path

from audits.sweeps import views


def register(router) -> None:
    router.register("sweeps", views.SweepViewSet, basename="sweep")
    router.register("visits", views.VisitViewSet, basename="visit")
    router.register("findings", views.FindingViewSet, basename="finding")
    router.register("cases", views.CaseViewSet, basename="case")


urlpatterns = [
    re_path(r"^visits/(?P<pk>\d+)/report\.(?P<fmt>pdf|xlsx)$", views.VisitReportView.as_view(), name="visit-report"),
    re_path(r"^sweeps/(?P<pk>\d+)/report\.(?P<fmt>pdf|xlsx)$", views.SweepReportView.as_view(), name="sweep-report"),
]

"""Routes of the reconciliation and filing work (issue 6). `register(router)` adds the
viewsets; `urlpatterns` (included under /api/ before the router) the downloads."""

from django.urls import path, re_path

from audits.api import views


def register(router) -> None:
    router.register("counts", views.CountSessionViewSet, basename="count-session")
    router.register("closings", views.SignedClosingViewSet, basename="closing")
    router.register("filings/sales", views.SalesFilingViewSet, basename="sales-filing")


urlpatterns = [
    re_path(r"^filings/sales/template\.(?P<fmt>csv|xlsx)$", views.SalesFilingTemplateView.as_view(),
            name="sales-filing-template"),
    path("filings/status/", views.FilingStatusView.as_view(), name="filing-status"),
    path("reconciliations/", views.ReconciliationView.as_view(), name="reconciliation"),
    path("reconciliations/export.xlsx", views.ReconciliationExportView.as_view(), name="reconciliation-export"),
    re_path(r"^forms/(?P<kind>usage-register|drug-summary|sales-summary)\.(?P<fmt>xlsx|pdf)$",
            views.FormView.as_view(), name="statutory-form"),
]

import os

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from audits.alerts import urls as alert_urls
from audits.api import urls as audit_urls
from audits.sweeps import urls as sweep_urls
from audits.views import AuditEntryViewSet
from backend.api import views
from inventory.api import views as inventory_views
from inventory.devices import urls as device_urls
from scanning import api as scanning_api
from scanning import label_urls as scanning_label_urls

router = DefaultRouter()
router.register("jurisdictions", views.JurisdictionViewSet, basename="jurisdiction")
router.register("organisations", views.OrganisationViewSet, basename="organisation")
router.register("people", views.PersonViewSet, basename="person")
router.register("licences", views.LicenceViewSet, basename="licence")
router.register("audit-trail", AuditEntryViewSet, basename="audit-entry")
# inventory (issue 3: drug chain of custody)
router.register("drugs", inventory_views.DrugProductViewSet, basename="drug")
router.register("batches", inventory_views.BatchViewSet, basename="batch")
router.register("stock/balances", inventory_views.StockBalanceViewSet, basename="stock-balance")
router.register("stock/movements", inventory_views.StockMovementViewSet, basename="stock-movement")
router.register("intakes", inventory_views.IntakeViewSet, basename="intake")
router.register("shipments", inventory_views.ShipmentViewSet, basename="shipment")
router.register("shipment-refusals", inventory_views.ShipmentRefusalViewSet, basename="shipment-refusal")
router.register("dispenses", inventory_views.DispenseViewSet, basename="dispense")
router.register("dispense-refusals", inventory_views.DispenseRefusalViewSet, basename="dispense-refusal")
router.register("disposals", inventory_views.DisposalViewSet, basename="disposal")
router.register("seizures", inventory_views.SeizureViewSet, basename="seizure")
# inventory.devices (issue 4: device registry)
device_urls.register(router)
# audits (issue 6: reconciliation and monthly filings)
audit_urls.register(router)
# audits.alerts (issue 7: the office's alerts)
alert_urls.register(router)
# audits.sweeps (issue 7: joint enforcement sweeps)
sweep_urls.register(router)
# scanning (issue 5: the scan endpoint and its log)
router.register("scans", scanning_api.ScanLogViewSet, basename="scan-log")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),  # session login/logout for the browsable API
    path("api/auth/token/", views.TokenView.as_view(), name="auth-token"),
    path("api/me/", views.MeView.as_view(), name="me"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/", include(device_urls.urlpatterns)),  # before the router: register.xlsx, label.svg
    path("api/scan/", scanning_api.ScanView.as_view(), name="scan"),
    path("api/", include(scanning_label_urls.urlpatterns)),  # before the router: batch label.svg, sheet.html
    path("api/", include(sweep_urls.urlpatterns)),  # before the router: report.pdf|xlsx
    path("api/", include(audit_urls.urlpatterns)),  # before the router: filing templates, exports, forms
    path("api/", include(router.urls)),
]

handler400 = "backend.errors.handler400"
handler404 = "backend.errors.handler404"
handler500 = "backend.errors.handler500"

if os.environ.get("BENCH_FLOOR") == "1":  # bench/dispense.py: the floor it measures against
    from bench.floor import FloorView

    urlpatterns.insert(0, path("api/bench/floor/<int:pk>/", FloorView.as_view(), name="bench-floor"))

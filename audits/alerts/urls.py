"""Alert routes: backend/urls.py calls `register(router)`."""

from audits.alerts import views


def register(router) -> None:
    router.register("alerts", views.AlertViewSet, basename="alert")

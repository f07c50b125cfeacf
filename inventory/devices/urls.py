"""Device routes. backend/urls.py calls `register(router)` and includes `urlpatterns` under
"api/" before the router, so that `register.xlsx` and `label.svg` are not taken for format
suffixes of the router's detail routes."""

from django.urls import path, re_path

from inventory.devices import views


def register(router) -> None:
    router.register("devices", views.DeviceViewSet, basename="device")
    router.register("device-exams", views.DeviceExamViewSet, basename="device-exam")
    router.register("device-refusals", views.DeviceRefusalViewSet, basename="device-refusal")


urlpatterns = [
    re_path(r"^devices/register\.(?P<fmt>xlsx|csv)$", views.DeviceRegisterView.as_view(), name="device-register"),
    path("devices/<int:pk>/label.svg", views.DeviceLabelView.as_view(), {"fmt": "svg"}, name="device-label-svg"),
    path("devices/<int:pk>/label.png", views.DeviceLabelView.as_view(), {"fmt": "png"}, name="device-label-png"),
]

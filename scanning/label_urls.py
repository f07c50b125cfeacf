"""Label routes, included by backend/urls.py under "api/" before the router (so that
`label.svg` and `sheet.html` are not taken for format suffixes of the router's routes)."""

from django.urls import re_path

from scanning import label_views

urlpatterns = [
    re_path(r"^batches/(?P<pk>[0-9]+)/label\.(?P<fmt>svg|png)$", label_views.BatchLabelView.as_view(),
            name="batch-label"),
    re_path(r"^labels/sheet\.(?P<fmt>html|pdf)$", label_views.LabelSheetView.as_view(), name="label-sheet"),
]

"""Paths under /api/: the trailing slash is optional, and an unknown path is the JSON 404.

Every API route is written with its trailing slash (`/api/dispenses/`). A client that leaves
it off (`POST /api/dispenses`) would get CommonMiddleware's APPEND_SLASH answer: a 301 to
the slashed URL (which loses a POST's body), or under DEBUG a RuntimeError page. Here such a
path is served as the route it names; paths that need no slash (`register.xlsx`,
`label.svg`) are left alone, and the URL names and `reverse()` keep their slashed form.

Under DEBUG Django answers an unresolved URL with its technical HTML page instead of
`handler404`: under /api/ it is the error envelope (`not_found`) whatever DEBUG says.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import is_valid_path

PREFIX = "/api/"


class ApiPathMiddleware:
    """Before CommonMiddleware (which would redirect or raise first)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if not path.startswith(PREFIX):
            return self.get_response(request)
        urlconf = getattr(request, "urlconf", None)
        if not path.endswith("/") and not is_valid_path(path, urlconf) and is_valid_path(path + "/", urlconf):
            request.path_info = path + "/"
            request.path = request.path + "/"
        response = self.get_response(request)
        if response.status_code == 404 and settings.DEBUG and not is_valid_path(request.path_info, urlconf):
            from backend.errors import handler404

            return handler404(request)
        return response

"""The benchmark floor: a bare authenticated DRF endpoint reading one row by primary key.

Mounted at /api/bench/floor/<pk>/ only when the environment has BENCH_FLOOR=1 (see
backend/urls.py), so production never serves it."""

from rest_framework.response import Response
from rest_framework.views import APIView

from backend.models import Organisation


class FloorView(APIView):
    def get(self, request, pk: int):
        row = Organisation.objects.values("id", "name").get(pk=pk)
        return Response(row)

"""Registry endpoints: thin views over services (writes) and visibility (reads)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from backend import services, visibility
from backend.api import serializers as s
from backend.api.filters import LicenceFilter, OrganisationFilter, PersonFilter
from backend.errors import Forbidden
from backend.models import Jurisdiction, Licence, Organisation, Person
from backend.uploads import UploadLimitMixin


class TokenView(APIView):
    """Exchange username + password for an API token (`Authorization: Token <token>`)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def get_authenticate_header(self, request):
        # Without authentication classes DRF would turn a failed sign-in into 403; bad
        # credentials are 401, and the scheme to use afterwards is Token.
        return "Token"

    @extend_schema(request=s.TokenRequestSerializer, responses=s.TokenSerializer)
    def post(self, request):
        data = s.TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, username=data.validated_data["username"],
                            password=data.validated_data["password"])
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("Unable to log in with the provided credentials."),
                                       code="invalid_credentials")
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request):
        return Response(s.MeSerializer(request.user).data)


def _require_office_admin(user, jurisdiction) -> None:
    if not visibility.is_office_admin(user):
        raise Forbidden(_("Only office administrators may do this."), code="office_admin_required")
    if jurisdiction is not None and not visibility.in_jurisdiction(user, jurisdiction):
        raise Forbidden(_("%(place)s is outside your jurisdiction.") % {"place": jurisdiction},
                        code="outside_jurisdiction")


class RegistryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """List, read, create, update; never delete (history stays)."""

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_create_service(serializer.validated_data)
        return Response(self.output(instance), status=status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_update_service(instance, serializer.validated_data)
        return Response(self.output(instance))

    def output(self, instance):
        return self.get_serializer(instance).data


class JurisdictionViewSet(RegistryViewSet):
    """Administrative divisions: public reference data, readable by every signed-in user;
    written by office administrators within their own jurisdiction."""

    queryset = Jurisdiction.objects.select_related("parent")
    serializer_class = s.JurisdictionSerializer
    filterset_fields = ["level", "parent", "code"]
    ordering_fields = ["code", "name"]

    def perform_create_service(self, data):
        _require_office_admin(self.request.user, data.get("parent"))
        if data.get("parent") is None and not visibility.sees_everything(self.request.user):
            raise Forbidden(_("Only a superuser may add a top-level division."), code="outside_jurisdiction")
        return services.jurisdiction_create(actor=self.request.user, **data)

    def perform_update_service(self, instance, data):
        _require_office_admin(self.request.user, instance)
        if "parent" in data:
            _require_office_admin(self.request.user, data["parent"])
        if "code" in data:  # a new code must stay within the user's jurisdiction too
            _require_office_admin(self.request.user, Jurisdiction(code=data["code"], name=data["code"]))
        return services.jurisdiction_update(actor=self.request.user, jurisdiction=instance, **data)


class OrganisationViewSet(RegistryViewSet):
    serializer_class = s.OrganisationSerializer
    filterset_class = OrganisationFilter
    ordering_fields = ["name", "kind", "created_at"]
    search_fields = ["name", "credit_code"]

    def get_queryset(self):
        qs = Organisation.objects.select_related("jurisdiction")
        return visibility.scope(qs, self.request.user, "")

    def perform_create_service(self, data):
        _require_office_admin(self.request.user, data.get("jurisdiction"))
        return services.organisation_create(actor=self.request.user, **data)

    def perform_update_service(self, instance, data):
        _require_office_admin(self.request.user, instance.jurisdiction)
        if "jurisdiction" in data:
            _require_office_admin(self.request.user, data["jurisdiction"])
        return services.organisation_update(actor=self.request.user, organisation=instance, **data)


@extend_schema_view(  # written with PersonWrite, answered with the detail (the full resident ID)
    create=extend_schema(responses={201: s.PersonDetailSerializer}),
    update=extend_schema(responses=s.PersonDetailSerializer),
    partial_update=extend_schema(responses=s.PersonDetailSerializer),
)
class PersonViewSet(UploadLimitMixin, RegistryViewSet):
    """People working at organisations. Lists mask the resident ID; the detail view shows it
    to office administrators, inspectors of the jurisdiction and the person's own organisation,
    and every such read is written to the audit trail."""

    filterset_class = PersonFilter
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        qs = Person.objects.select_related("organisation", "organisation__jurisdiction")
        return visibility.scope(qs, self.request.user, "organisation")

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return s.PersonWriteSerializer
        if self.action == "retrieve":
            return s.PersonDetailSerializer
        return s.PersonListSerializer

    def retrieve(self, request, *args, **kwargs):
        person = self.get_object()
        services.person_sensitive_read(actor=request.user, person=person)
        return Response(s.PersonDetailSerializer(person, context=self.get_serializer_context()).data)

    def output(self, instance):
        return s.PersonDetailSerializer(instance, context=self.get_serializer_context()).data

    def _check_write(self, organisation):
        user = self.request.user
        if visibility.is_office_admin(user):
            if organisation is None or visibility.in_jurisdiction(user, organisation.jurisdiction):
                return
            raise Forbidden(_("%(place)s is outside your jurisdiction.") % {"place": organisation.jurisdiction},
                            code="outside_jurisdiction")
        if user.is_authority:
            raise Forbidden(_("Inspectors read the registry; office administrators change it."),
                            code="office_admin_required")
        if not visibility.is_member_of(user, organisation):
            raise Forbidden(_("You may only register people of your own organisation."),
                            code="own_organisation_only")

    def perform_create_service(self, data):
        self._check_write(data.get("organisation"))
        return services.person_create(actor=self.request.user, **data)

    def perform_update_service(self, instance, data):
        self._check_write(instance.organisation)
        if "organisation" in data:
            self._check_write(data["organisation"])
        return services.person_update(actor=self.request.user, person=instance, **data)


class LicenceViewSet(UploadLimitMixin, RegistryViewSet):
    """Licences, certificates and approvals. Office administrators create and change them;
    an organisation's staff may upload scans of its own licences but change nothing else."""

    serializer_class = s.LicenceSerializer
    filterset_class = LicenceFilter
    ordering_fields = ["valid_from", "valid_until", "kind"]

    def get_queryset(self):
        qs = Licence.objects.select_related(
            "holder_organisation__jurisdiction", "holder_person__organisation__jurisdiction",
        )
        return visibility.scope(qs, self.request.user, "holder_organisation", "holder_person__organisation")

    @staticmethod
    def _holder_jurisdiction(data, instance=None):
        org = data.get("holder_organisation", getattr(instance, "holder_organisation", None))
        person = data.get("holder_person", getattr(instance, "holder_person", None))
        if org is not None:
            return org.jurisdiction
        if person is not None and person.organisation is not None:
            return person.organisation.jurisdiction
        return None

    def perform_create_service(self, data):
        _require_office_admin(self.request.user, self._holder_jurisdiction(data))
        return services.licence_create(actor=self.request.user, **data)

    def update(self, request, *args, partial=False, **kwargs):
        user = request.user
        if visibility.is_office_admin(user):
            return super().update(request, *args, partial=partial, **kwargs)
        licence = self.get_object()
        if user.is_authority:
            raise Forbidden(_("Inspectors read the registry; office administrators change it."),
                            code="office_admin_required")
        if not hasattr(request.data, "keys"):  # a list or a string: DRF's 400, as everywhere else
            s.LicenceScanSerializer(licence, data=request.data, partial=True).is_valid(raise_exception=True)
        locked = set(request.data.keys()) - {"scan"}
        if locked:
            raise Forbidden(
                _("Your organisation may upload a scan of its licence but not change %(fields)s; "
                  "ask the governance office.") % {"fields": ", ".join(sorted(locked))},
                code="licence_fields_locked", details={"fields": sorted(locked)},
            )
        serializer = s.LicenceScanSerializer(licence, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        licence = services.licence_update(actor=user, licence=licence, **serializer.validated_data)
        return Response(self.get_serializer(licence).data)

    def perform_update_service(self, instance, data):
        _require_office_admin(self.request.user, self._holder_jurisdiction({}, instance))
        if "holder_organisation" in data or "holder_person" in data:
            _require_office_admin(self.request.user, self._holder_jurisdiction(data, instance))
        return services.licence_update(actor=self.request.user, licence=instance, **data)

    @extend_schema(request=s.LicenceRevokeSerializer, responses=s.LicenceSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        licence = self.get_object()
        _require_office_admin(request.user, self._holder_jurisdiction({}, licence))
        data = s.LicenceRevokeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        licence = services.licence_revoke(actor=request.user, licence=licence, **data.validated_data)
        return Response(self.get_serializer(licence).data)

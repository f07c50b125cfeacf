"""backend.fastsql: its instances are the ORM's, field for field, on both databases; its
insert writes what `save()` writes; the serializer and auth helpers built on it keep DRF's
behaviour (codes, messages) and share nothing between requests."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from audits.models import AuditEntry
from backend import fastsql
from backend.api.fields import LeanFieldsMixin, PrimaryKeyField
from backend.authentication import token_with_user
from backend.models import Licence, Organisation, Person, User
from inventory.api.serializers import DispenseWriteSerializer, iso_datetime
from inventory.models import Batch, DrugProduct, StockMovement
from tests.conftest import error_of

pytestmark = pytest.mark.django_db


def same_fields(a, b) -> None:
    assert type(a) is type(b)
    for field in type(a)._meta.concrete_fields:
        assert getattr(a, field.attname) == getattr(b, field.attname), field.name


@pytest.fixture
def batch(county):
    product = DrugProduct.objects.create(generic_name="米非司酮片", strength="25 mg", form="tablet", pack_size=6,
                                         counting_unit="片", manufacturer="m", gtins=["06901234567892"])
    return Batch.objects.create(product=product, lot_number="L1", expiry_printed="281000",
                                expiry_date=dt.date(2028, 10, 31), manufactured_on=dt.date(2026, 10, 1))


def test_get_equals_the_orm(county, batch):
    for model, pk in ((Batch, batch.pk), (Organisation, county.hospital.pk), (Person, county.physician.person.pk),
                      (User, county.inspector.pk), (DrugProduct, batch.product_id)):
        fast = fastsql.get(model, pk)
        same_fields(fast, model.objects.get(pk=pk))
        assert fast._state.adding is False and fast._state.db == "default"
    assert fastsql.get(Batch, 10**12) is None


def test_get_with_loads_the_foreign_key_without_another_query(county):
    with CaptureQueriesContext(connection) as queries:
        org = fastsql.get_with(Organisation, county.hospital.pk, "jurisdiction")
        assert org.jurisdiction.code == "430421"
    assert len(queries) == 1
    same_fields(org.jurisdiction, county.hospital.jurisdiction)


def test_fetch_keeps_the_meta_ordering(county):
    # Licences order newest valid_from first, then id: make a later-created one the newest.
    first, second = Licence.objects.order_by("id")[:2]
    Licence.objects.filter(pk=second.pk).update(valid_from=first.valid_from + dt.timedelta(days=30))
    sql = (f"SELECT {fastsql.columns(Licence, 't')} FROM {fastsql.table(Licence)} t "  # noqa: S608
           f"ORDER BY {fastsql.ordering(Licence, 't')}")
    ids = [lic.pk for lic in fastsql.fetch(Licence, sql)]
    assert ids == list(Licence.objects.values_list("pk", flat=True))
    assert ids[0] == second.pk and ids != sorted(ids)  # not merely in id order


def test_insert_writes_what_save_writes(county, batch):
    from inventory.models import Intake

    now = timezone.now()
    intake = Intake.objects.create(wholesaler=county.wholesaler, supplier_name="s", batch=batch, quantity=5,
                                   invoice_number="i", received_at=now, recorded_by=county.clerk)
    movement = StockMovement(holder=county.wholesaler, batch=batch, quantity=5, kind="intake", occurred_at=now,
                             actor=county.clerk, note="fast", intake=intake)
    fastsql.insert(movement)
    assert movement.pk is not None and movement._state.adding is False
    stored = StockMovement.objects.get(pk=movement.pk)
    same_fields(movement, stored)
    assert stored.recorded_at is not None  # auto_now_add ran
    assert stored.occurred_at == now


def test_insert_sends_post_save_to_listeners(county):
    seen = []

    def listener(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    post_save.connect(listener, sender=AuditEntry, dispatch_uid="test_fastsql")
    try:
        entry = fastsql.insert(AuditEntry(seq=10**9, created_at=timezone.now(), action="create", object_type="x",
                                          object_id="1", body="{}", prev_hash="p" * 64, hash="h" * 64))
    finally:
        post_save.disconnect(dispatch_uid="test_fastsql", sender=AuditEntry)
    assert seen == [(entry.pk, True)]


def test_token_with_user_loads_organisation_and_jurisdiction(county):
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=county.inspector).key
    with CaptureQueriesContext(connection) as queries:
        token = token_with_user(key)
        assert token.user.username == "inspector"
        assert token.user.organisation.name == "衡阳县综合治理办公室"
        assert token.user.jurisdiction_prefix == "430421"
    assert len(queries) == 1
    assert token_with_user("0" * 40) is None


def test_a_user_without_organisation_signs_in(db, client_for):
    admin = User.objects.create_superuser("root", password="x" * 12)
    assert client_for(admin).get("/api/me/").status_code == 200


def test_bad_and_inactive_tokens_get_drf_errors(county, api, client_for):
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = api.get("/api/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"
    client = client_for(county.inspector)
    county.inspector.is_active = False
    county.inspector.save()
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


class _BatchRef(serializers.Serializer):
    batch = PrimaryKeyField(queryset=Batch.objects.all())


@pytest.mark.parametrize(("value", "code"), [
    ("abc", "incorrect_type"), (True, "incorrect_type"), (1.5, "incorrect_type"), ([1], "incorrect_type"),
    (10**30, "does_not_exist"), (-(10**30), "does_not_exist"), (10**12, "does_not_exist"),
])
def test_primary_key_field_refuses_like_drf(batch, value, code):
    data = _BatchRef(data={"batch": value})
    assert not data.is_valid()
    assert data.errors["batch"][0].code == code


@pytest.mark.parametrize("value", ["PK", "PK_STR", "PK_FLOAT"])
def test_primary_key_field_accepts_ids(batch, value):
    given = {"PK": batch.pk, "PK_STR": str(batch.pk), "PK_FLOAT": float(batch.pk)}[value]
    data = _BatchRef(data={"batch": given})
    assert data.is_valid(), data.errors
    same_fields(data.validated_data["batch"], batch)


def test_lean_fields_are_not_shared_between_serializers():
    first, second = DispenseWriteSerializer(), DispenseWriteSerializer()
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    # the many=True field holds a child that binding mutates: copied too
    assert first.fields["emergency_physicians"].child_relation is not second.fields["emergency_physicians"].child_relation


def test_lean_fields_validate_as_drf_fields_do():
    class Plain(serializers.Serializer):
        n = serializers.IntegerField(min_value=1)
        kind = serializers.ChoiceField(choices=[("a", "A")])

    class Lean(LeanFieldsMixin, Plain):
        pass

    for data in ({"n": 0, "kind": "b"}, {"n": "x"}, {"n": 3, "kind": "a"}):
        plain, lean = Plain(data=data), Lean(data=data)
        assert plain.is_valid() == lean.is_valid()
        assert plain.errors == lean.errors
        assert plain.validated_data == lean.validated_data


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC"])
def test_iso_datetime_is_drfs_output(settings, zone):
    settings.TIME_ZONE = zone
    timezone.deactivate()
    value = dt.datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)
    assert iso_datetime(value, timezone.get_current_timezone()) == serializers.DateTimeField().to_representation(value)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="data-modifying WITH is PostgreSQL's")
def test_insert_after_a_statement_inserts_once_per_returned_row(county, batch):
    from inventory.models import Intake

    now = timezone.now()
    intake = Intake.objects.create(wholesaler=county.wholesaler, supplier_name="s", batch=batch, quantity=5,
                                   invoice_number="i", received_at=now, recorded_by=county.clerk)

    def movement():
        return StockMovement(holder=county.wholesaler, batch=batch, quantity=5, kind="intake", occurred_at=now,
                             intake=intake)

    table = fastsql.table(Organisation)
    nothing = fastsql.insert(movement(), after=(f"p AS (SELECT 1 FROM {table} WHERE id = %s)", [-1]))  # noqa: S608
    assert nothing is None
    one = fastsql.insert(movement(), after=(f"p AS (SELECT 1 FROM {table} WHERE id = %s)", [county.hospital.pk]))  # noqa: S608
    same_fields(one, StockMovement.objects.get(pk=one.pk))
    assert StockMovement.objects.filter(batch=batch).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_fastsql_statements_are_prepared_and_the_orms_are_not(county, client_for):
    """DB_PREPARED_STATEMENTS (default on): the token's four-table join, sent by every
    authenticated request, is planned once per connection; a queryset is planned per call
    (client-side binding), as a query over skewed data needs."""
    from backend.authentication import _token_sql
    from backend.models import Jurisdiction

    if not fastsql.prepares(connection):
        pytest.skip("DB_PREPARED_STATEMENTS=0")

    def prepared(pattern: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [pattern])
            return cursor.fetchone()[0]

    with CaptureQueriesContext(connection) as logged:
        assert client_for(county.pharmacist).get("/api/me/").status_code == 200
    assert prepared(_token_sql().replace("%s", "$1")) == 1
    # Django's query log still names every statement, prepared ones included.
    assert _token_sql().replace("%s", "$1") in [q["sql"] for q in logged.captured_queries]
    for _ in range(10):
        Jurisdiction.objects.filter(code="no-such-code-4711").count()
    assert prepared("%no-such-code-4711%") == prepared("%backend_jurisdiction%WHERE%code%") == 0

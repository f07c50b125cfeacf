"""The few hot-path reads and inserts without the ORM's per-call query compilation.

Building and compiling a queryset costs 150-400 µs of Python per call (the query itself,
on an index, costs PostgreSQL 10-50 µs); a dispense made twelve such calls. The SQL here is
written once per model from `_meta` (so a new field is picked up without editing it), run
through Django's cursor (its placeholders, its connection, its transaction), and the rows
become model instances with `Model.from_db` after Django's own converters, exactly as a
queryset would return them. The same text runs on PostgreSQL and SQLite.

Use it only where a profile shows the ORM's overhead matters (the counter's scan and
dispense); everything else stays on querysets. `insert` sends `post_save` when anything
listens, so a receiver (the alerts) cannot tell it from `save()`.

On PostgreSQL these statements are also prepared (`cursor`): their text is fixed, so each
connection parses and plans each one once instead of on every call (the token's four-table
join: ~1.3 -> ~0.4 ms on a 2-core machine). Only these: the ORM's queries keep Django's
client-side binding and are planned per call, which is what a query over skewed data (one
wholesaler holding most of the ledger) needs; a generic plan chosen for one holder would
be wrong for the next.
"""

from __future__ import annotations

import functools

from django.db import connections, router
from django.db.models import Model
from django.db.models.signals import post_save


def prepares(connection) -> bool:
    """Whether `cursor(connection)` prepares: PostgreSQL with DB_PREPARED_STATEMENTS on
    (backend/settings.py)."""
    return connection.vendor == "postgresql" and connection.settings_dict["OPTIONS"].get("prepare_threshold") is not None


def cursor(connection):
    """A cursor for this module's fixed statements (and the few like them elsewhere: the
    ledger's posting, the audit append, the scan lookup). On PostgreSQL with prepared
    statements on (settings: DB_PREPARED_STATEMENTS), the server binds the parameters and
    the statement is prepared on the connection at its first use; otherwise Django's own
    cursor. Either way Django's wrapper: its error translation, query logging and
    execute_wrappers."""
    if not prepares(connection):
        return connection.cursor()
    # Django's BaseDatabaseWrapper._cursor() with this cursor class for create_cursor().
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _preparing_cursor_class()(connection.connection)
        _match_timezone(connection, raw)
        return connection._prepare_cursor(raw)


@functools.cache
def _preparing_cursor_class():
    """Defined on first use: the PostgreSQL backend is not imported on SQLite."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        """Server-side binding, every statement prepared at first use (psycopg keeps up to
        `prepared_max`, 100, per connection; this module sends about ten)."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)

        def _maybe_prepare_gen(self, pgq, *, prepare=None, binary=None):
            # psycopg records the statement only when it is sent unprepared; Django's query
            # log (DEBUG, CaptureQueriesContext) reads it, so record it here too: the text
            # with $1... placeholders.
            self._query = pgq
            return (yield from super()._maybe_prepare_gen(pgq, prepare=prepare, binary=binary))

    return PreparingCursor


def _match_timezone(connection, raw) -> None:
    """What Django's create_cursor() does for psycopg 3: the cursor loads timestamps in
    the connection wrapper's time zone when the connection's loader disagrees."""
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if connection.timezone != loader.timezone:
        register_tzloader(connection.timezone, raw)


def _alias(model, write: bool = False) -> str:
    return router.db_for_write(model) if write else router.db_for_read(model)


def cached(connection, key, build):
    """`build()`, once per connection wrapper (one per thread: converters are bound to its
    `ops`) and `key`: SQL text built from model metadata."""
    cache = connection.__dict__.setdefault("_fastsql_cache", {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


def _shape(connection, model, alias: str):
    """(column list, attnames, converters per column) for selecting `model` as table `alias`."""
    return cached(connection, ("shape", model, alias), lambda: _build_shape(connection, model, alias))


def _build_shape(connection, model, alias: str):
    qn = connection.ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(f"{qn(alias)}.{qn(f.column)}" for f in fields)
    converters = []
    for f in fields:
        col = f.get_col(alias)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        converters.append((found, col) if found else None)
    return columns, tuple(f.attname for f in fields), tuple(converters)


def columns(model, alias: str) -> str:
    """The quoted column list of `model` as table `alias`, in `_meta.concrete_fields` order."""
    return _shape(connections[_alias(model)], model, alias)[0]


def width(model) -> int:
    return len(model._meta.concrete_fields)


def instance(model, row, offset: int = 0, alias: str = "t"):
    """The `model` instance from `row[offset:offset + width(model)]`, or None when its
    primary key is NULL (a LEFT JOIN that matched nothing)."""
    db = _alias(model)
    connection = connections[db]
    _columns, attnames, converters = _shape(connection, model, alias)
    values = list(row[offset:offset + len(attnames)])
    pk_index = model._meta.concrete_fields.index(model._meta.pk)
    if values[pk_index] is None:
        return None
    for i, conv in enumerate(converters):
        if conv is not None:
            found, col = conv
            for converter in found:
                values[i] = converter(values[i], col, connection)
    return model.from_db(db, attnames, values)


def fetch(model, sql: str, params=(), *, alias: str = "t") -> list:
    """Run `sql` (which selects `columns(model, alias)` first) and return the instances."""
    connection = connections[_alias(model)]
    with cursor(connection) as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    return [instance(model, row, 0, alias) for row in rows]


def ordering(model, alias: str) -> str:
    """`model.Meta.ordering` (plain field names, "-" for descending) as an ORDER BY list."""
    qn = connections[_alias(model)].ops.quote_name
    parts = []
    for name in model._meta.ordering or ["pk"]:
        descending = name.startswith("-")
        name = name.lstrip("-")
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        parts.append(f"{qn(alias)}.{qn(field.column)}{' DESC' if descending else ''}")
    return ", ".join(parts)


def table(model) -> str:
    connection = connections[_alias(model)]
    return connection.ops.quote_name(model._meta.db_table)


def get(model, pk):
    """`model.objects.filter(pk=pk).first()` without the queryset."""
    return get_with(model, pk)


def _insert_sql(connection, model) -> tuple[str, tuple, bool]:
    return cached(connection, ("insert", model), lambda: _build_insert_sql(connection, model))


def _build_insert_sql(connection, model) -> tuple[str, tuple, bool]:
    qn = connection.ops.quote_name
    fields = tuple(f for f in model._meta.concrete_fields if not f.generated and f is not model._meta.auto_field)
    returning = bool(model._meta.auto_field) and connection.features.can_return_columns_from_insert
    sql = (f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    if returning:
        sql += f" RETURNING {qn(model._meta.auto_field.column)}"
    return sql, fields, returning


def insert(obj: Model, *, after: tuple[str, list] | None = None) -> Model | None:
    """`obj.save()` for a new row (force_insert), compiled once per model: each field's
    `pre_save` (auto_now_add, defaults already set) and `get_db_prep_save`, as the ORM's
    insert compiler does; the new primary key set on `obj`.

    `after=("p AS (<statement> RETURNING ...)", params)` (PostgreSQL): the row is inserted in
    the same statement, once per row `p` returns, as `WITH p AS (...) INSERT ... SELECT
    ... FROM p`; None when `p` returned nothing (nothing inserted)."""
    model = type(obj)
    db = _alias(model, write=True)
    connection = connections[db]
    sql, fields, returning = _insert_sql(connection, model)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]
    if after is not None:
        if connection.vendor != "postgresql" or not returning:
            raise NotImplementedError("insert(after=...) needs PostgreSQL")
        source, source_params = after
        head, _, tail = sql.partition(" VALUES (")
        values, _, returning_clause = tail.partition(")")
        sql = f"WITH {source} {head} SELECT {values} FROM p{returning_clause}"
        params = [*source_params, *params]
    with cursor(connection) as cur:
        cur.execute(sql, params)
        if model._meta.auto_field:
            if returning:
                row = cur.fetchone()
                if row is None:
                    return None
                pk = row[0]
            else:
                pk = connection.ops.last_insert_id(cur, model._meta.db_table, model._meta.auto_field.column)
            setattr(obj, model._meta.auto_field.attname, pk)
    return mark_inserted(obj, db)


def mark_inserted(obj: Model, db: str) -> Model:
    """What `save()` does after its INSERT: the instance is saved in `db`, and post_save
    (created) reaches whatever listens."""
    obj._state.adding = False
    obj._state.db = db
    if post_save.has_listeners(type(obj)):
        post_save.send(sender=type(obj), instance=obj, created=True, update_fields=None, raw=False, using=db)
    return obj


def _build_get_sql(connection, model, related: tuple[str, ...]) -> str:
    qn = connection.ops.quote_name
    selected, joins = [_shape(connection, model, "t")[0]], []
    for i, name in enumerate(related):
        field = model._meta.get_field(name)
        rel, alias = field.related_model, f"r{i}"
        selected.append(_shape(connection, rel, alias)[0])
        joins.append(f"LEFT JOIN {qn(rel._meta.db_table)} {alias} "
                     f"ON {alias}.{qn(field.target_field.column)} = t.{qn(field.column)}")
    return (f"SELECT {', '.join(selected)} FROM {qn(model._meta.db_table)} t {' '.join(joins)} "
            f"WHERE t.{qn(model._meta.pk.column)} = %s")


def get_with(model, pk, *related: str):
    """`model.objects.select_related(*related).filter(pk=pk).first()` for forward foreign
    keys one level deep, in one precompiled SELECT."""
    connection = connections[_alias(model)]
    sql = cached(connection, ("get", model, related), lambda: _build_get_sql(connection, model, related))
    with cursor(connection) as cur:
        cur.execute(sql, [pk])
        row = cur.fetchone()
    if row is None:
        return None
    obj = instance(model, row, 0, "t")
    offset = width(model)
    for i, name in enumerate(related):
        field = model._meta.get_field(name)
        field.set_cached_value(obj, instance(field.related_model, row, offset, f"r{i}"))
        offset += width(field.related_model)
    return obj

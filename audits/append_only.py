"""Database-level immutability for append-only tables (PostgreSQL).

Use from a migration:

    from audits.append_only import AppendOnly
    operations = [AppendOnly("inventory_stockmovement")]

On PostgreSQL a BEFORE UPDATE OR DELETE row trigger and a BEFORE TRUNCATE statement trigger
raise, so not even raw SQL from the application role can rewrite history. On SQLite the
operation does nothing: the application never issues such statements, and the hash chain
detects tampering anyway.

`RefuseTruncate(table)` adds only the TRUNCATE trigger, for tables made append-only before
AppendOnly refused TRUNCATE. Both are idempotent (a trigger is dropped before it is created).

The one way past the TRUNCATE trigger short of disabling it is `SET LOCAL
append_only.allow_truncate = 'on'` in the same transaction: as deliberate as `ALTER TABLE ...
DISABLE TRIGGER`, and used only by the test suite's flush between transactional tests
(tests/conftest.py).
"""

from django.db import migrations

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION refuse_change_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

TRUNCATE_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION refuse_truncate_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('append_only.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% on % refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

ALLOW_TRUNCATE_SQL = "SET LOCAL append_only.allow_truncate = 'on'"


def _trigger_name(table: str) -> str:
    return f"{table}_append_only"


def _truncate_trigger_name(table: str) -> str:
    return f"{table}_append_only_truncate"


def _create_truncate_trigger(schema_editor, table: str) -> None:
    schema_editor.execute(TRUNCATE_FUNCTION_SQL, params=None)  # the body has a literal %
    schema_editor.execute(f'DROP TRIGGER IF EXISTS "{_truncate_trigger_name(table)}" ON "{table}"')
    schema_editor.execute(
        f'CREATE TRIGGER "{_truncate_trigger_name(table)}" BEFORE TRUNCATE ON "{table}" '
        f"FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate_append_only()"
    )


def _drop_truncate_trigger(schema_editor, table: str) -> None:
    schema_editor.execute(f'DROP TRIGGER IF EXISTS "{_truncate_trigger_name(table)}" ON "{table}"')


class AppendOnly(migrations.RunPython):
    def __init__(self, table: str):
        self.table = table
        super().__init__(self._forward, self._backward, elidable=False)

    def _forward(self, apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(FUNCTION_SQL, params=None)  # the body has a literal %
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{_trigger_name(self.table)}" ON "{self.table}"')
        schema_editor.execute(
            f'CREATE TRIGGER "{_trigger_name(self.table)}" BEFORE UPDATE OR DELETE ON "{self.table}" '
            f"FOR EACH ROW EXECUTE FUNCTION refuse_change_append_only()"
        )
        _create_truncate_trigger(schema_editor, self.table)

    def _backward(self, apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{_trigger_name(self.table)}" ON "{self.table}"')
        _drop_truncate_trigger(schema_editor, self.table)

    def describe(self):
        return f"Make {self.table} append-only (PostgreSQL triggers)"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.table], {})


class RefuseTruncate(migrations.RunPython):
    """The TRUNCATE trigger alone, for a table an earlier AppendOnly already protects row by row."""

    def __init__(self, table: str):
        self.table = table
        super().__init__(self._forward, self._backward, elidable=False)

    def _forward(self, apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            _create_truncate_trigger(schema_editor, self.table)

    def _backward(self, apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            _drop_truncate_trigger(schema_editor, self.table)

    def describe(self):
        return f"Refuse TRUNCATE on {self.table} (PostgreSQL trigger)"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.table], {})

"""Database-level immutability for append-only tables (PostgreSQL).

Use from a migration:

    from audits.append_only import AppendOnly
    operations = [AppendOnly("inventory_stockmovement")]

On PostgreSQL a BEFORE UPDATE OR DELETE trigger raises, so not even raw SQL from the
application role can rewrite history. On SQLite the operation does nothing: the
application never issues such statements, and the hash chain detects tampering anyway.
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


def _trigger_name(table: str) -> str:
    return f"{table}_append_only"


class AppendOnly(migrations.RunPython):
    def __init__(self, table: str):
        self.table = table
        super().__init__(self._forward, self._backward, elidable=False)

    def _forward(self, apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(FUNCTION_SQL, params=None)  # the body has a literal %
        schema_editor.execute(
            f'CREATE TRIGGER "{_trigger_name(self.table)}" BEFORE UPDATE OR DELETE ON "{self.table}" '
            f"FOR EACH ROW EXECUTE FUNCTION refuse_change_append_only()"
        )

    def _backward(self, apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{_trigger_name(self.table)}" ON "{self.table}"')

    def describe(self):
        return f"Make {self.table} append-only (PostgreSQL trigger)"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.table], {})

"""Reading and verifying the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from audits.chain import HEADER_FIELDS, entry_hash
from audits.models import GENESIS_HASH, AuditEntry


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        return f"entry #{self.seq} (id {self.entry_id}): {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_seq: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def head(self) -> str:
        return f"{self.head_seq}:{self.head_hash}"


REASONS = {
    "seq": "sequence numbers are not contiguous from 1 here: entries were deleted, inserted or reordered",
    "link": "previous-hash link broken: an entry before it was deleted, inserted or reordered",
    "hash": "content does not match its hash: the entry was edited",
}


def _pg_header_sql() -> str:
    def part(expr: str) -> str:
        return f"(CASE WHEN ({expr}) IS NULL THEN '-;' ELSE length({expr})::text || ':' || ({expr}) || ';' END)"

    exprs = []
    for name in HEADER_FIELDS:
        if name == "created_at":
            exprs.append(part("""to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""))
        else:
            exprs.append(part(f"{name}::text"))
    return " || ".join(exprs)


def _first_problem_postgresql() -> tuple[int, int, str] | None:
    """The whole check inside PostgreSQL (its sha256, the same formula as audits.chain), in
    two passes over one snapshot:

    - hashes: each hash equal to SHA-256(header from the columns + "\\n" + body). Row by
      row with no ordering, so PostgreSQL spreads it over parallel workers (`seq + 0` keeps
      the planner from walking the seq index instead);
    - order: seq contiguous from 1, each prev_hash equal to the previous entry's hash. A
      window over (seq, hash, prev_hash) only, which is cheap.

    The first problem is the one with the lowest seq (order before hash at the same seq)."""
    table = AuditEntry._meta.db_table
    hashes = f"""
        SELECT min(seq + 0) FROM {table}
        WHERE encode(sha256(convert_to({_pg_header_sql()} || E'\\n' || body, 'UTF8')), 'hex') <> hash
    """  # noqa: S608 (no user input: table and column names are ours)
    order = f"""
        WITH c AS (
            SELECT id, seq, prev_hash,
                   row_number() OVER (ORDER BY seq) AS rn,
                   lag(hash, 1, %s) OVER (ORDER BY seq) AS actual_prev
            FROM {table}
        )
        SELECT seq, id, CASE WHEN seq <> rn THEN 'seq' ELSE 'link' END
        FROM c WHERE seq <> rn OR prev_hash <> actual_prev
        ORDER BY seq LIMIT 1
    """  # noqa: S608
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:  # both passes see one snapshot, whatever is appended meanwhile
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute(order, [GENESIS_HASH])
        order_problem = cursor.fetchone()
        cursor.execute(hashes)
        (bad_seq,) = cursor.fetchone()
        if bad_seq is not None and (order_problem is None or bad_seq < order_problem[0]):
            cursor.execute(f"SELECT id FROM {table} WHERE seq = %s ORDER BY id LIMIT 1", [bad_seq])  # noqa: S608
            return bad_seq, cursor.fetchone()[0], "hash"
        return order_problem


def _first_problem_python(chunk_size: int) -> tuple[int, int, str] | None:
    expected_prev, expected_seq = GENESIS_HASH, 1
    columns = ("id", *HEADER_FIELDS, "body", "hash")
    rows = AuditEntry.objects.order_by("seq").values_list(*columns).iterator(chunk_size=chunk_size)
    for row in rows:
        entry = dict(zip(columns, row, strict=True))
        seq, entry_id = entry["seq"], entry["id"]
        if seq != expected_seq:
            return seq, entry_id, "seq"
        if entry["prev_hash"] != expected_prev:
            return seq, entry_id, "link"
        if entry_hash(entry, entry["body"]) != entry["hash"]:
            return seq, entry_id, "hash"
        expected_prev = entry["hash"]
        expected_seq += 1
    return None


def chain_head() -> tuple[int, str]:
    """(seq, hash) of the last entry; (0, GENESIS_HASH) for an empty chain."""
    return AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first() or (0, GENESIS_HASH)


def audit_chain_head() -> str:
    """The chain head now, as "seq:hash". Printed on monthly forms and reports, it lets
    anyone check later, with `verify_audit_trail --against <head>`, that nothing written
    up to the moment of printing was rewritten since."""
    seq, hash_ = chain_head()
    return f"{seq}:{hash_}"


def chain_check_text(head: str) -> str:
    """How a reader checks a printed head (the tail of the line forms and reports print)."""
    return f"核验：manage.py verify_audit_trail --against {head}"


def audit_chain_verify(*, against: str | None = None, independent: bool = False,
                       chunk_size: int = 10000) -> ChainReport:
    """Check the whole chain; name the first entry that was edited, deleted, inserted or
    reordered. On PostgreSQL the check runs in the database unless `independent`, which
    recomputes every hash in Python (as on SQLite). `against` ("seq:hash", a head printed
    earlier, e.g. on a monthly form) must still be in the chain with the same hash."""
    against_seq = against_hash = None
    if against:
        try:
            raw_seq, against_hash = against.split(":", 1)
            against_seq = int(raw_seq)
        except ValueError:
            return ChainReport(0, 0, GENESIS_HASH, ChainProblem(None, None, f"bad head {against!r}: expected seq:hash"))

    if connection.vendor == "postgresql" and not independent:
        found = _first_problem_postgresql()
    else:
        found = _first_problem_python(chunk_size)

    total = AuditEntry.objects.count()
    good = AuditEntry.objects.order_by("seq")
    if found is not None:
        good = good.filter(seq__lt=found[0])
    head = good.reverse().values_list("seq", "hash").first() or (0, GENESIS_HASH)
    problem = ChainProblem(found[0], found[1], REASONS[found[2]]) if found else None

    if problem is None and against_seq is not None:
        printed = AuditEntry.objects.filter(seq=against_seq).values_list("id", "hash").first()
        if printed is None:
            problem = ChainProblem(against_seq, None, "the printed head is no longer in the chain")
        elif printed[1] != against_hash:
            problem = ChainProblem(against_seq, printed[0],
                                   "differs from the printed head: the chain was rewritten up to here")
    return ChainReport(total, head[0], head[1], problem)

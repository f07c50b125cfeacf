from django.core.management.base import BaseCommand, CommandError

from audits.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the hash chain of the audit trail; exit non-zero naming the first bad entry."

    def add_arguments(self, parser):
        parser.add_argument("--against", help="a chain head printed earlier (on a form or report), as seq:hash")
        parser.add_argument("--independent", action="store_true",
                            help="recompute every hash in Python rather than in the database")

    def handle(self, *args, against=None, independent=False, **options):
        report = audit_chain_verify(against=against, independent=independent)
        if not report.ok:
            raise CommandError(f"audit trail broken at {report.problem} "
                               f"({report.entries} entries; last good head {report.head})")
        self.stdout.write(f"audit trail intact: {report.entries} entries, head {report.head}")

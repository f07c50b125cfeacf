import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from audits.alerts import rules


class Command(BaseCommand):
    help = ("Run the time-based alert rules (spikes, expired stock, licences, late filings...) and sweep the "
            "event sources for missed alerts. Idempotent: what is already raised is not raised again.")

    def add_arguments(self, parser):
        parser.add_argument("--today", help="evaluate as of this date (YYYY-MM-DD); default: today")
        parser.add_argument("--rule", action="append", choices=sorted(rules.RULES), dest="only",
                            help="run only this rule (repeatable)")

    def handle(self, *args, today=None, only=None, **options):
        day = None
        if today:
            try:
                day = dt.date.fromisoformat(today)
            except ValueError:
                raise CommandError(f"--today must be YYYY-MM-DD, not {today!r}") from None
        result = rules.run(today=day, only=only)
        total = 0
        for name, counts in result.items():
            total += counts["new"]
            self.stdout.write(f"{name:<30} found {counts['found']:>5}  new {counts['new']:>5}")
        self.stdout.write(self.style.SUCCESS(f"{total} new alerts"))

from django.core.management.base import BaseCommand

from backend.demo import DEMO_LOGINS, DEMO_PASSWORD, seed_registry


class Command(BaseCommand):
    help = "Build the demo county (idempotent: a second run changes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD, help="password for new demo users")

    def handle(self, *args, password=DEMO_PASSWORD, **options):
        # Imported here: each app's demo builds on the registry and on the apps before it.
        from audits.alerts.demo import seed_alerts
        from audits.demo import seed_reconciliation
        from audits.sweeps.demo import seed_sweep
        from inventory.demo import seed_drug_chain
        from inventory.devices.demo import seed_devices

        demo = seed_registry(password=password)
        seed_drug_chain(demo)
        seed_reconciliation(demo)
        seed_devices(demo)
        seed_sweep(demo)
        seed_alerts(demo)  # last: the alert rules run over everything seeded before
        self.stdout.write(self.style.SUCCESS(f"Demo county 衡阳县 (430421) is ready. Logins (password: {password}):"))
        for username, what in DEMO_LOGINS:
            self.stdout.write(f"  {username:<12} {what}")

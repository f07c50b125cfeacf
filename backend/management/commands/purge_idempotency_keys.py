from django.core.management.base import BaseCommand

from backend.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key answers older than IDEMPOTENCY_KEEP_HOURS (default 24); run daily."

    def handle(self, *args, **options):
        self.stdout.write(f"deleted {purge_expired()} idempotency keys")

"""`watchtime revokekey`: revoke a key by name."""

from django.core.management.base import BaseCommand, CommandError

from watchtime.apikeys.services import apikey_revoke
from watchtime.errors import DomainError


class Command(BaseCommand):
    help = "Revoke an API key by name (effective within 10 seconds on every API process)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        try:
            apikey_revoke(name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"revoked {name}")

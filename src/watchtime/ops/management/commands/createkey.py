"""`watchtime createkey`: issue a key and print it once."""

from django.core.management.base import BaseCommand, CommandError

from watchtime.apikeys.models import SCOPES
from watchtime.apikeys.services import apikey_create
from watchtime.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key and print it once (it cannot be shown again)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", action="append", choices=SCOPES, required=True, dest="scopes")

    def handle(self, *args, name, scopes, **options):
        try:
            key, raw_key = apikey_create(name=name, scopes=scopes)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(f"created key {key.name!r} (prefix {key.prefix}) with scopes {key.scopes}; store it now:")
        self.stdout.write(raw_key)

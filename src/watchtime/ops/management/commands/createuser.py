"""`watchtime createuser NAME [--admin]`: a dashboard user, its password read from the terminal or stdin."""

import getpass
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Create a dashboard user (or set an existing user's password): a reader of every figure; with --admin, "
            "also the admin site and a viewer's export and erasure. The password is asked for, or read from stdin.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--admin", action="store_true", help="may export and erase viewers, and use /admin/")

    def handle(self, *args, username, admin, **options):
        password = self._password()
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first() or user_model(username=username)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        user.set_password(password)
        user.is_active = True
        user.is_staff = user.is_superuser = admin
        user.save()
        role = "an admin" if admin else "a dashboard reader"
        self.stderr.write(f"{username} is {role}: sign in at /dashboard/login/")

    def _password(self) -> str:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("The two passwords differ.")
        if not password:
            raise CommandError("No password given (type it, or pipe it on stdin).")
        return password

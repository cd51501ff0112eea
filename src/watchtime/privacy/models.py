"""Erasures, kept as a hash of the user name (never the name): what stops events of an erased user
that were already queued from bringing anything back, and, with `suppress`, every later one."""

import hashlib

from django.db import models


def user_hash(username: str) -> str:
    return hashlib.sha256(f"watchtime-erasure:{username}".encode()).hexdigest()


class Erasure(models.Model):
    user_hash = models.CharField(max_length=64, primary_key=True)
    erased_at_us = models.BigIntegerField(help_text="Events received up to then are refused.")
    suppress = models.BooleanField(default=False, help_text="Refuse every event of the user, until lifted.")

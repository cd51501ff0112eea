"""API key issuing, revocation and the shared per-key rate counter."""

import hashlib
import hmac
import logging
import secrets
import time

from django.db import connection, transaction
from django.utils import timezone

from watchtime.apikeys import KEY_PREFIX, SCOPES, split_key
from watchtime.apikeys.models import ApiKey, RateWindow
from watchtime.errors import DomainError
from watchtime.patterns import SLUG_RE

logger = logging.getLogger(__name__)


def hash_key(raw_key: str) -> str:
    # Keys are 190-bit random strings, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _check_scopes(scopes) -> str:
    scopes = sorted(set(scopes))
    unknown = set(scopes) - set(SCOPES)
    if not scopes or unknown:
        raise DomainError("invalid", f"Scopes must be some of {', '.join(SCOPES)}.")
    return ",".join(scopes)


def _check_name(name: str) -> None:
    if not SLUG_RE.match(name):
        raise DomainError("invalid", "A key name is 1-100 letters, digits, '-' or '_'.")


@transaction.atomic
def apikey_create(*, name: str, scopes) -> tuple[ApiKey, str]:
    """A new key; the raw key is returned once and never stored."""
    _check_name(name)
    if ApiKey.objects.filter(name=name).exists():
        raise DomainError("conflict", f"A key named {name!r} already exists.", status=409)
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey.objects.create(name=name, prefix=prefix, key_hash=hash_key(raw_key), scopes=_check_scopes(scopes))
    return key, raw_key


@transaction.atomic
def apikey_ensure(*, name: str, raw_key: str, scopes) -> ApiKey:
    """Install a key chosen elsewhere (bootstrap from a Secret); idempotent across restarts.

    A revoked key stays revoked when the same key is ensured again, so the next deploy cannot
    bring back a leaked key; a different key under the name replaces it.
    """
    parts = split_key(raw_key)
    if parts is None:
        raise DomainError("invalid", "A bootstrap key must look like wt_<prefix>_<secret of 16+ chars>.")
    prefix, _ = parts
    digest = hash_key(raw_key)
    existing = ApiKey.objects.select_for_update().filter(name=name).first()
    revoked_at = existing.revoked_at if existing is not None and existing.key_hash == digest else None
    key, _created = ApiKey.objects.update_or_create(
        name=name,
        defaults={"prefix": prefix, "key_hash": digest, "scopes": _check_scopes(scopes), "revoked_at": revoked_at},
    )
    if revoked_at is not None:
        logger.warning("API key %r (prefix %s) stays revoked; install a new key to replace it", name, prefix)
    return key


def apikey_revoke(*, name: str) -> ApiKey:
    key = ApiKey.objects.filter(name=name).first()
    if key is None:
        raise DomainError("not_found", f"No key named {name!r}.", status=404)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    return key


def apikey_verify(*, raw_key: str) -> ApiKey | None:
    parts = split_key(raw_key)
    if parts is None:
        return None
    key = ApiKey.objects.filter(prefix=parts[0], revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw_key)):
        return None
    return key


def rate_window_hit(*, key_prefix: str, window_seconds: int) -> tuple[int, float]:
    """Count one request in the key's current window; returns (count, seconds left in window)."""
    now = time.time()
    window = int(now // window_seconds) * window_seconds
    table = connection.ops.quote_name(RateWindow._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key_prefix, window_start, count) VALUES (%s, %s, 1) "
            "ON CONFLICT (key_prefix, window_start) DO UPDATE SET count = "
            f"{table}.count + 1 RETURNING count",
            [key_prefix, window],
        )
        (count,) = cursor.fetchone()
        if count == 1:  # first hit of a window: forget windows long past
            cursor.execute(f"DELETE FROM {table} WHERE key_prefix = %s AND window_start < %s", [key_prefix, window - 3600])
    return count, window + window_seconds - now

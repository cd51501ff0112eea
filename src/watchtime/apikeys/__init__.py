"""API keys `wt_<prefix>_<secret>` with scopes, and the per-key rate.

The helpers here import nothing from Django, so settings can check its values at start.
"""

SCOPES = ("ingest", "read", "admin")
KEY_PREFIX = "wt_"
RATE_UNITS = {"s": 1, "m": 60, "h": 3600}


def split_key(raw_key: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key `wt_<prefix>_<secret>`, else None."""
    if not raw_key.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = raw_key[len(KEY_PREFIX) :].partition("_")
    if not sep or not 4 <= len(prefix) <= 16 or len(secret) < 16 or not (prefix.isascii() and prefix.isalnum()):
        return None
    return prefix, secret


def parse_rate(rate: str) -> tuple[int, int] | None:
    """'200/s' -> (200, 1); empty -> None (no limit). Raises ValueError when malformed."""
    if not rate:
        return None
    count, _, unit = rate.partition("/")
    if not count.isdigit() or int(count) < 1 or unit not in RATE_UNITS:
        raise ValueError(f"{rate!r} is not a rate like 200/s, 1000/m or 50000/h")
    return int(count), RATE_UNITS[unit]

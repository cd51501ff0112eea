"""The one place that reads the process environment.

Every setting comes from here so defaults, parsing and error messages are uniform, and a
malformed value stops the process at start with a message naming the variable.
"""

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


class ConfigurationError(Exception):
    """A configuration value is missing or malformed; the process must not start."""


def get_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def get_bool(name: str, default: bool = False) -> bool:
    """`true` or `false` (any case): the one vocabulary of every boolean variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean (use true or false)")


def get_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name}={value} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name}={value} must be at most {maximum}")
    return value


def get_optional_int(name: str, *, minimum: int) -> int | None:
    """An integer, or None when the variable is unset or empty."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    return get_int(name, 0, minimum=minimum)


def get_float(name: str, default: float, *, minimum: float, maximum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if not minimum <= value <= maximum:
        raise ConfigurationError(f"{name}={value} must be from {minimum} to {maximum}")
    return value


def get_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


@dataclass(frozen=True)
class ServiceUrl:
    """A parsed service URL whose credentials may be overridden by separate variables."""

    scheme: str
    host: str
    port: int | None
    path: str
    username: str
    password: str


def get_service_url(
    name: str, *, schemes: set[str], user_var: str, password_var: str
) -> ServiceUrl | None:
    """Parse URL variable `name`; `user_var`/`password_var` override its credentials.

    Separate credential variables let a chart take them from Secret keys, so a password with
    URL metacharacters needs no escaping.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{name} is malformed: {exc}") from None
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ConfigurationError(f"{name} must use one of the schemes {allowed}, got {parts.scheme!r}")
    if not parts.hostname:
        raise ConfigurationError(f"{name} has no host name")
    return ServiceUrl(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        path=unquote(parts.path.lstrip("/")),
        username=os.environ.get(user_var) or unquote(parts.username or ""),
        password=os.environ.get(password_var) or unquote(parts.password or ""),
    )

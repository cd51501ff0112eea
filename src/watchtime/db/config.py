"""settings.DATABASES from the environment: the primary of DATABASE_URL (PostgreSQL, or SQLite:
a path, else a file under the var directory) and the read replica of DATABASE_READ_URL."""

from pathlib import Path

from watchtime import env


def databases(var_dir: Path) -> dict:
    """{"default": the primary, "replica": the read replica, when one is configured}."""
    primary = _database(var_dir)
    return {"default": primary, **_replica(primary)}


def _database(var_dir: Path) -> dict:
    raw = env.get_str("DATABASE_URL").strip()
    if raw.startswith("sqlite:///"):  # sqlite:////absolute/path.sqlite3
        return _sqlite(Path(raw.removeprefix("sqlite://")))
    if (database := _postgres("DATABASE_URL")) is not None:
        return database
    var_dir.mkdir(parents=True, exist_ok=True)
    return _sqlite(var_dir / "watchtime.sqlite3")


def _postgres(name: str) -> dict | None:
    if (url := env.get_service_url(name, schemes={"postgres", "postgresql"}, user_var="DATABASE_USER",
                                   password_var="DATABASE_PASSWORD")) is None:
        return None
    if not url.path:
        raise env.ConfigurationError(f"{name} names no database (postgres://host:5432/NAME)")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path,
        "USER": url.username,
        "PASSWORD": url.password,
        "HOST": url.host,
        "PORT": url.port or 5432,
        # Persistent connections: a new PostgreSQL connection costs more than most requests.
        "CONN_MAX_AGE": env.get_int("DATABASE_CONN_MAX_AGE", 300, minimum=0),
        # No health check per request: api.middleware.DatabaseReconnectMiddleware runs a read that met
        # a dropped connection once more instead.
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": {
            "connect_timeout": env.get_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1),
            # Notice a silently dead peer (network partition) in ~1 min instead of TCP's hours.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
        "TEST": {"NAME": f"test_{url.path}"},
    }


def _replica(primary: dict) -> dict:
    """{"replica": the read replica of DATABASE_READ_URL} (docs/operations.md, "Read replica"), or nothing."""
    if (replica := _postgres("DATABASE_READ_URL")) is None:
        return {}
    if primary["ENGINE"] != replica["ENGINE"]:  # a replica of SQLite cannot be
        raise env.ConfigurationError("DATABASE_READ_URL needs a PostgreSQL DATABASE_URL")
    # Credentials the URL lacks are the primary's; read-only even where the URL reaches a primary.
    replica.update(USER=replica["USER"] or primary["USER"], PASSWORD=replica["PASSWORD"] or primary["PASSWORD"])
    replica["OPTIONS"]["options"] = "-c default_transaction_read_only=on"
    return {"replica": {**replica, "TEST": {"MIRROR": "default"}}}  # tests read the test database


def _sqlite(path: Path) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers wait instead of failing
        # with "database is locked" half-way through a transaction.
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
    }

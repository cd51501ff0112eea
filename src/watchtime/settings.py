"""Django settings, all read from the environment through `watchtime.env`.

Safe defaults for a laptop (SQLite under ./var, events applied in-process); production
(DJANGO_DEBUG=false, the default) refuses to start without its secret key.
"""

import re
from pathlib import Path

from watchtime import __version__, apikeys, env
from watchtime.db.config import databases
from watchtime.rule import zones

PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(env.get_str("WATCHTIME_VAR_DIR", "var")).resolve()

DEBUG = env.get_bool("DJANGO_DEBUG", False)

SECRET_KEY = env.get_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise env.ConfigurationError(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false "
            "(use `watchtime dev` for a local instance)"
        )
    SECRET_KEY = "insecure-dev-only-key-never-used-in-production"

ALLOWED_HOSTS = env.get_list(
    "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.get_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets in the image: /docs/ works air-gapped
    "django_prometheus",
    "watchtime.events",
    "watchtime.analytics",
    "watchtime.privacy",
    "watchtime.apikeys",
    "watchtime.ops",  # no models: the management commands
    "watchtime.dashboard",  # no models: the dashboard's templates, static files and template filters
]

MIDDLEWARE = [
    # First, so that every answer (a 413 or 503 from further in included) can be read by an allowed page.
    "corsheaders.middleware.CorsMiddleware",
    "watchtime.api.middleware.ProbeMiddleware",
    "watchtime.api.middleware.RequestIdMiddleware",
    "watchtime.api.middleware.BodySizeLimitMiddleware",
    "watchtime.api.middleware.NulCharacterMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "watchtime.api.middleware.AdminSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "watchtime.api.middleware.AdminAuthenticationMiddleware",
    "watchtime.api.middleware.AdminMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "watchtime.api.middleware.RequestMetricsMiddleware",
    "watchtime.api.middleware.DatabaseReconnectMiddleware",
]

ROOT_URLCONF = "watchtime.urls"
WSGI_APPLICATION = "watchtime.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = databases(VAR_DIR)
# Only the read endpoints use it (watchtime.db.router); without a replica, no router at all.
DATABASE_ROUTERS = ["watchtime.db.router.ReplicaRouter"] if "replica" in DATABASES else []
# Replica reads fall back to the primary while the replica trails it by more (0: no limit).
DATABASE_READ_MAX_LAG_SECONDS = env.get_int("DATABASE_READ_MAX_LAG_SECONDS", 30, minimum=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "events.CustomUser"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.get_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
# Hashed names (collectstatic writes them and a manifest; WhiteNoise serves them compressed, cached a
# year): a page names exactly the files it was built with.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "watchtime.static_storage.StaticStorage"},
}
LOGIN_URL = "dashboard:login"

# --- HTTP hardening (TLS is terminated by the ingress, which sets X-Forwarded-Proto) -------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.get_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.get_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.get_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Two `check --deploy` warnings that do not apply: the HTTP->HTTPS redirect is the ingress's job
# (the pod speaks plain HTTP to it, to probes and to in-cluster clients; DJANGO_SECURE_SSL_REDIRECT
# exists for other set-ups), and HSTS preload commits the whole domain, so its owner opts in with
# DJANGO_SECURE_HSTS_PRELOAD.
SILENCED_SYSTEM_CHECKS = ["security.W008", "security.W021"]
X_FRAME_OPTIONS = "DENY"
# A 1000-event batch is well under 1 MiB; anything larger is refused with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["watchtime.api.parsers.StrictJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["watchtime.apikeys.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["watchtime.apikeys.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["watchtime.apikeys.throttling.ApiKeyRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "watchtime.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "watchtime API",
    "DESCRIPTION": "Exact per-user, per-movie and per-user-movie watch time from player heartbeats.",
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- CORS: player pages on other origins send heartbeats (docs/api.md, "Tracking a player") -------------
CORS_ALLOWED_ORIGINS = env.get_list("WATCHTIME_CORS_ALLOWED_ORIGINS")
for _origin in CORS_ALLOWED_ORIGINS:
    if not re.fullmatch(r"https?://[^/?#\s]+", _origin):
        raise env.ConfigurationError(
            f"WATCHTIME_CORS_ALLOWED_ORIGINS: {_origin!r} is not an origin (scheme://host[:port], no path)"
        )
CORS_URLS_REGEX = r"^/(?!admin/|dashboard/|sdk/)"  # the admin and dashboard: same-origin only; /sdk/ allows every origin itself
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = ("authorization", "content-type", "x-request-id")
CORS_EXPOSE_HEADERS = ("Retry-After", "X-Request-ID")  # the SDK honours Retry-After on 429/503
CORS_ALLOW_CREDENTIALS = False  # API keys, never cookies

# --- watchtime ---------------------------------------------------------------------------------
WATCHTIME_MAX_CREDIT_SECONDS = env.get_int("WATCHTIME_MAX_CREDIT_SECONDS", 120, minimum=1)
WATCHTIME_MAX_STEP_SECONDS = env.get_int("WATCHTIME_MAX_STEP_SECONDS", 15, minimum=1)
# The analytics definitions (docs/analytics.md). The view gap and the retention resolution shape
# what is stored: changing them needs `watchtime recompute`. The thresholds apply when reading.
WATCHTIME_VIEW_GAP_SECONDS = env.get_int("WATCHTIME_VIEW_GAP_SECONDS", 1800, minimum=1)
WATCHTIME_RETENTION_RESOLUTION_SECONDS = env.get_int("WATCHTIME_RETENTION_RESOLUTION_SECONDS", 10, minimum=1, maximum=3600)
WATCHTIME_VIEW_MIN_SECONDS = env.get_int("WATCHTIME_VIEW_MIN_SECONDS", 10, minimum=0)
WATCHTIME_COMPLETION_RATIO = env.get_float("WATCHTIME_COMPLETION_RATIO", 0.9, minimum=0.0, maximum=1.0)
WATCHTIME_COMPLETED_PERCENT = env.get_int("WATCHTIME_COMPLETED_PERCENT", 90, minimum=1, maximum=100)
# Days of per-minute concurrent viewers kept; `watchtime maintain` folds older minutes into peaks
# per UTC quarter hour, kept as long as the other rollups.
WATCHTIME_CONCURRENCY_MINUTE_DAYS = env.get_int("WATCHTIME_CONCURRENCY_MINUTE_DAYS", 7, minimum=1, maximum=366)
# Days of the event log kept (by key: ts, else received_at); unset keeps it forever. Older events
# are refused (too_old) and `watchtime maintain` prunes them, folding what every figure needs.
WATCHTIME_EVENT_RETENTION_DAYS = env.get_optional_int("WATCHTIME_EVENT_RETENTION_DAYS", minimum=1)
# Live: a stream whose newest heartbeat (credited) was received within this many seconds (docs/analytics.md).
WATCHTIME_LIVE_WINDOW_SECONDS = env.get_int("WATCHTIME_LIVE_WINDOW_SECONDS", 30, minimum=1, maximum=3600)
# Signs the embeddable live counter's read-only tokens (`watchtime livetoken`); rotating it revokes them all.
WATCHTIME_LIVE_TOKEN_KEY = env.get_str("WATCHTIME_LIVE_TOKEN_KEY")
if not WATCHTIME_LIVE_TOKEN_KEY:
    if not DEBUG:
        raise env.ConfigurationError("WATCHTIME_LIVE_TOKEN_KEY is required when DJANGO_DEBUG is false")
    WATCHTIME_LIVE_TOKEN_KEY = "insecure-dev-only-live-token-key"
# The analytics answers' zone when a request names none (`tz`): an IANA name.
WATCHTIME_TIME_ZONE = env.get_str("WATCHTIME_TIME_ZONE", "UTC")
if not zones.is_zone(WATCHTIME_TIME_ZONE):
    raise env.ConfigurationError(f"WATCHTIME_TIME_ZONE: {WATCHTIME_TIME_ZONE!r} is not an IANA time zone name (Asia/Kathmandu)")

_rabbitmq = env.get_service_url(
    "RABBITMQ_URL", schemes={"amqp", "amqps"}, user_var="RABBITMQ_USERNAME", password_var="RABBITMQ_PASSWORD"
)
# None selects the embedded mode: accepted events are applied inside the request.
RABBITMQ = (
    None
    if _rabbitmq is None
    else {
        "host": _rabbitmq.host,
        "port": _rabbitmq.port or (5671 if _rabbitmq.scheme == "amqps" else 5672),
        "virtual_host": _rabbitmq.path or "/",
        "username": _rabbitmq.username or "guest",
        "password": _rabbitmq.password or "guest",
        "ssl": _rabbitmq.scheme == "amqps",
        "queue": env.get_str("WATCHTIME_QUEUE", "watch-time"),
        "publish_timeout": env.get_int("WATCHTIME_PUBLISH_TIMEOUT_SECONDS", 5, minimum=1),
        "prefetch": env.get_int("WATCHTIME_CONSUMER_PREFETCH", 4000, minimum=1),
        "batch_size": env.get_int("WATCHTIME_CONSUMER_BATCH_SIZE", 2000, minimum=1),
        # Group commit: the events of concurrent requests go out as one message of at most this many
        # events (1000: what a message of the previous release's consumers may hold) ...
        "group_items": env.get_int("WATCHTIME_PUBLISH_GROUP_EVENTS", 1000, minimum=1, maximum=1000),
        # ... or once its first request has waited this long (while none awaits a confirm: at once).
        "group_wait": env.get_int("WATCHTIME_PUBLISH_GROUP_MILLISECONDS", 10, minimum=0, maximum=1000) / 1000,
    }
)
WATCHTIME_METRICS_PORT = env.get_int("WATCHTIME_METRICS_PORT", 9100, minimum=0)
# The consumer's /livez fails when its loop has not ticked for this long (wedged, e.g. on a hung query).
WATCHTIME_CONSUMER_LIVENESS_SECONDS = env.get_int("WATCHTIME_CONSUMER_LIVENESS_SECONDS", 60, minimum=1)

WATCHTIME_AUTH = env.get_bool("WATCHTIME_AUTH", True)
if not WATCHTIME_AUTH and not DEBUG:
    raise env.ConfigurationError("WATCHTIME_AUTH=false is only allowed with DJANGO_DEBUG=true")
WATCHTIME_BOOTSTRAP_API_KEY = env.get_str("WATCHTIME_BOOTSTRAP_API_KEY")
if WATCHTIME_BOOTSTRAP_API_KEY and apikeys.split_key(WATCHTIME_BOOTSTRAP_API_KEY) is None:
    raise env.ConfigurationError(
        "WATCHTIME_BOOTSTRAP_API_KEY must look like wt_<prefix of 4-16 letters/digits>_<secret of 16+ characters>"
    )
WATCHTIME_BOOTSTRAP_API_KEY_SCOPES = env.get_list("WATCHTIME_BOOTSTRAP_API_KEY_SCOPES", ["ingest", "read"])
if not set(WATCHTIME_BOOTSTRAP_API_KEY_SCOPES) <= set(apikeys.SCOPES):
    raise env.ConfigurationError(f"WATCHTIME_BOOTSTRAP_API_KEY_SCOPES must be some of {', '.join(apikeys.SCOPES)}")
WATCHTIME_RATE_LIMIT = env.get_str("WATCHTIME_RATE_LIMIT")
try:
    apikeys.parse_rate(WATCHTIME_RATE_LIMIT)
except ValueError as exc:
    raise env.ConfigurationError(f"WATCHTIME_RATE_LIMIT: {exc}") from None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "watchtime.jsonlog.JsonFormatter"}},
    "filters": {"drop_503": {"()": "watchtime.jsonlog.DropServiceUnavailable"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": env.get_str("WATCHTIME_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # One access line per request comes from gunicorn; Django's own 4xx warnings would double it.
        "django.request": {"level": "ERROR", "filters": ["drop_503"]},
        # A request for a Host not in ALLOWED_HOSTS already gets a 400 in the access log; Django
        # would add an ERROR with a traceback, so any scanner on the internet could flood the logs.
        "django.security.DisallowedHost": {"level": "CRITICAL"},
        "pika": {"level": "WARNING"},
    },
}

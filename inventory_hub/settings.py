"""Settings for Inventory Hub, all read from the environment in this one place.

With nothing set the hub runs embedded: SQLite (IMMEDIATE transactions) and Celery's
file-system broker under ./var. Production sets DATABASE_URL (PostgreSQL) and REDIS_URL.
See the configuration table in README.md.
"""

import ipaddress
import logging
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from foundation import var
from foundation.retries import is_retry_wait

BASE_DIR = Path(__file__).resolve().parent.parent
# Paths only: importing the settings writes nothing (see foundation.var).
VAR_DIR = var.var_dir()

logger = logging.getLogger("inventory_hub.settings")


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = var.kept_secret("SECRET_KEY")
FIELD_ENCRYPTION_KEY = var.kept_secret("FIELD_ENCRYPTION_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "template_partials",
    "ledger",
    "channels",
    "dashboard",
    "simulator",
    "certify",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the path or the query: a NUL in either is a 400.
    "foundation.middleware.RefuseNulCharacters",
    # /webhooks/ goes straight to its view from here (foundation/middleware.py).
    "foundation.middleware.MachineEndpointsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "inventory_hub.urls"
WSGI_APPLICATION = "inventory_hub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # inventory_hub/templates overrides third-party pages (the Swagger UI under the CSP).
        "DIRS": [BASE_DIR / "templates", BASE_DIR / "inventory_hub" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of one of
    # them failing with "database is locked" half-way through a stock operation.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        # A publish fails fast when Redis is down or hung (see queueing.py): one connection
        # attempt instead of kombu's retry loop, and socket timeouts so a Redis that stops
        # answering cannot hold a web request.
        "max_retries": 0,
        "socket_connect_timeout": 2,
        "socket_timeout": 2,
    }
else:
    BROKER_DIR = var.broker_dir()  # its folders are made by foundation.var.prepare()
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Exchange tables: kombu's default is ./control, wherever the process started.
        "control_folder": str(BROKER_DIR / "control"),
    }

# --- Cache ------------------------------------------------------------------------------
# Shared by every gunicorn worker, because it counts failed API tokens per client (see
# foundation/authentication.py): Redis when there is one, else files under ./var (a
# per-process memory cache would let each worker count on its own).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "inventory-hub",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the database connection before and after every task unless
# this is set, so each task paid for a new PostgreSQL backend (a fork, authentication and
# cold catalogue caches for its first statements: most of a small task's cost). Workers
# keep their connections instead, and `inventory_hub.celery` applies CONN_MAX_AGE and the
# health checks around each task as Django does around each request.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "channels.tasks.process_event": {"queue": "intake"},
    "channels.tasks.process_inbox": {"queue": "intake"},
    "channels.tasks.sweep_inbox": {"queue": "intake"},
    # Long-polls SQS: never on the intake worker, where it would hold up the sales it
    # feeds into the inbox.
    "channels.tasks.poll_amazon_notifications": {"queue": "default"},
    "channels.tasks.drain_outbox": {"queue": "propagate"},
    "channels.tasks.sweep_outbox": {"queue": "propagate"},
    "channels.tasks.reconcile_channel": {"queue": "reconcile"},
    "channels.tasks.reconcile_due": {"queue": "reconcile"},
    "channels.tasks.send_digest": {"queue": "default"},
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish must not hang a web request when the broker is down: the inbox and outbox
# rows are durable and the beat sweepers re-enqueue them.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# Workers and beat reconnect forever after a broker outage (0 would make them exit).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Settled inbox rows (and so their dedupe keys) are kept at least this long; never < 30.
INBOX_RETENTION_DAYS = int(os.environ.get("INBOX_RETENTION_DAYS", "30"))
# Deliveries applied per transaction by the intake worker: bigger batches cost less per
# delivery, smaller ones hold stock-level locks for less time.
INBOX_BATCH_SIZE = max(1, int(os.environ.get("INBOX_BATCH_SIZE", "20")))
# How many workers process the inbox at once: the intake workers' total concurrency (the
# Procfile runs one). Extra workers wait their turn; fewer slots than processes only idles
# the surplus.
INBOX_PROCESSORS = max(1, int(os.environ.get("INBOX_PROCESSORS", "1")))
# A web process folds the wake-ups of the deliveries it stores within this many
# milliseconds into one Redis call (channels/intake/wake.py); 0 wakes on every delivery.
INTAKE_WAKE_WINDOW_MS = max(0, int(os.environ.get("INTAKE_WAKE_WINDOW_MS", "5")))
# Benchmark-only routes (bench/views.py); never on in production.
BENCH_ROUTES = env_bool("BENCH_ROUTES", False)
if BENCH_ROUTES:
    # The benchmarks' baseline views beside the hub's own URLs; production code never
    # imports bench/ (a name in a setting is no import).
    ROOT_URLCONF = "bench.urls"
OUTBOX_CLAIM_LEASE_SECONDS = float(os.environ.get("OUTBOX_CLAIM_LEASE_SECONDS", "90"))
# Channels may point at loopback, private, link-local or other non-public addresses only
# when this is on (the simulator on 127.0.0.1: `make run`, the tests, the benchmarks).
# Off, such an endpoint is refused when saved and before every request (foundation.egress).
CHANNEL_ALLOW_PRIVATE_NETWORKS = env_bool("CHANNEL_ALLOW_PRIVATE_NETWORKS", False)


def _retry_schedule(raw: str) -> list[float]:
    try:
        waits = [float(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        waits = []
    if not waits or not all(is_retry_wait(wait) for wait in waits):
        raise ImproperlyConfigured(
            f"OUTBOX_RETRY_SCHEDULE_SECONDS={raw!r}: give the waits between push attempts in "
            "seconds, comma separated, each above 0 and up to 7 days (e.g. 30,120,600)."
        )
    return waits


# Waits between push attempts; after the last, the entry is dead (the DLQ). A channel may
# set its own (settings.retry_schedule_seconds). 8 attempts over about a day by default.
OUTBOX_RETRY_SCHEDULE_SECONDS = _retry_schedule(
    os.environ.get("OUTBOX_RETRY_SCHEDULE_SECONDS", "30,120,600,1800,3600,10800,21600,43200")
)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sweep-inbox": {"task": "channels.tasks.sweep_inbox", "schedule": 30.0},
    "sweep-outbox": {"task": "channels.tasks.sweep_outbox", "schedule": 2.0},
    "poll-amazon": {"task": "channels.tasks.poll_amazon_notifications", "schedule": 5.0},
    "purge-inbox": {"task": "channels.tasks.purge_inbox", "schedule": 3600.0},
    # Looks each minute for channels whose reconcile is due (each has its own interval)
    # and for a digest not yet sent today; both are cheap when nothing is due.
    "reconcile-due": {"task": "channels.tasks.reconcile_due", "schedule": 60.0},
    "digest-due": {"task": "channels.tasks.send_digest", "schedule": 300.0},
}

# --- Reconciliation, drift and the daily digest (DESIGN lessons 6 and 7) ----------------
# A channel's interval is its reconcile_interval_minutes (60 by default); once a day, from
# this hour (UTC), its next pass covers the whole catalogue, rediscovering listings the
# channel did not carry.
RECONCILE_FULL_PASS_HOUR = int(os.environ.get("RECONCILE_FULL_PASS_HOUR", "3")) % 24
# Listings read per adapter call (the adapter splits further to its channel's limit).
RECONCILE_BATCH_SIZE = max(1, int(os.environ.get("RECONCILE_BATCH_SIZE", "250")))
# The share of a channel's token bucket reads may never dip into: live pushes keep it.
RECONCILE_TOKEN_RESERVE = min(
    0.9, max(0.0, float(os.environ.get("RECONCILE_TOKEN_RESERVE", "0.5")))
)
# Severity tiers of |delta|: minor up to DRIFT_MINOR_MAX, major up to DRIFT_MAJOR_MAX,
# critical above.
DRIFT_MINOR_MAX = int(os.environ.get("DRIFT_MINOR_MAX", "2"))
DRIFT_MAJOR_MAX = int(os.environ.get("DRIFT_MAJOR_MAX", "10"))
# The auto-fix gate, applied by the hub whatever investigator gave the verdict:
# confidence >= DRIFT_AUTO_FIX_CONFIDENCE and |delta| <= DRIFT_AUTO_FIX_MAX_DELTA.
DRIFT_AUTO_FIX_CONFIDENCE = float(os.environ.get("DRIFT_AUTO_FIX_CONFIDENCE", "0.85"))
DRIFT_AUTO_FIX_MAX_DELTA = int(os.environ.get("DRIFT_AUTO_FIX_MAX_DELTA", "5"))
# "rules" (default) or "model": an OpenAI-compatible chat endpoint the merchant runs,
# e.g. http://127.0.0.1:8080/v1; its answers outside the schema fall back to the rules.
DRIFT_INVESTIGATOR = os.environ.get("DRIFT_INVESTIGATOR", "rules")
DRIFT_MODEL_URL = os.environ.get("DRIFT_MODEL_URL", "")
DRIFT_MODEL_NAME = os.environ.get("DRIFT_MODEL_NAME", "")
DRIFT_MODEL_API_KEY = os.environ.get("DRIFT_MODEL_API_KEY", "")
DRIFT_MODEL_TIMEOUT = float(os.environ.get("DRIFT_MODEL_TIMEOUT", "20"))
# The daily digest goes out from this hour (UTC); /healthz calls it missed
# DIGEST_GRACE_MINUTES later.
DIGEST_HOUR = int(os.environ.get("DIGEST_HOUR", "7")) % 24
DIGEST_GRACE_MINUTES = int(os.environ.get("DIGEST_GRACE_MINUTES", "60"))

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "foundation.authentication.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["foundation.permissions.RolePermission"],
    # drf-spectacular's, documenting the error answers of every operation.
    "DEFAULT_SCHEMA_CLASS": "foundation.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "foundation.errors.api_exception_handler",
    # JSON with limits (size, depth, text the database can store); forms as DRF has them.
    "DEFAULT_PARSER_CLASSES": [
        "foundation.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # ?limit= (1-1000) and ?offset=, checked: a 400 rather than a guess or a 500.
    "DEFAULT_PAGINATION_CLASS": "foundation.pagination.Pagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Inventory Hub API",
    "DESCRIPTION": "Stock truth, reservations, channels, drift and the dead-letter queue.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from our own static files (drf-spectacular-sidecar): /api/docs/
    # works offline and under the Content-Security-Policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema's address to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "ChannelKindEnum": "channels.models.ChannelKind",
        "MovementKindEnum": "ledger.models.MovementKind",
        "MovementRequestKindEnum": "api.stock.MOVEMENT_KINDS",
        "OutboxStatusEnum": "channels.models.OutboxStatus",
        "DriftStatusEnum": "channels.models.DriftStatus",
        "ReservationStatusEnum": "ledger.models.ReservationStatus",
        "IncidentStatusEnum": "ledger.models.IncidentStatus",
    },
}

# --- Auth, static, i18n ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username + address is refused before a password is checked.
    "foundation.authentication.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = var.static_root()
# WhiteNoise serves from the app folders too (WHITENOISE_USE_FINDERS); the root is made by
# foundation.var.prepare() so that it does not warn before collectstatic has run.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security ---------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]


def _proxy_ssl_header(raw: str) -> tuple[str, str] | None:
    """`HTTP_X_FORWARDED_PROTO,https`: the header a TLS-terminating proxy sets, and its value.

    Unset by default: without a proxy that overwrites the header, any client could send it
    and pass a plain-HTTP request off as HTTPS.
    """
    if not raw.strip():
        return None
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) != 2 or not parts[0].startswith("HTTP_") or not parts[1]:
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER={raw!r}: give the header as Django sees it and the value "
            "that means HTTPS, e.g. HTTP_X_FORWARDED_PROTO,https"
        )
    return (parts[0], parts[1])


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
# How many proxies in front of the app append to X-Forwarded-For; 0 = trust REMOTE_ADDR
# only. Login lockouts, token throttling and the /metrics network rule use the address
# this yields (foundation/client_ip.py).
TRUSTED_PROXY_COUNT = max(0, int(os.environ.get("TRUSTED_PROXY_COUNT", "0")))
# Secure-only cookies whenever DEBUG is off, including behind a TLS proxy with
# SECURE_SSL_REDIRECT=0. Browsers accept Secure cookies from http://localhost and
# http://127.0.0.1, so a local DEBUG=0 run over HTTP still logs in; any other plain-HTTP
# host needs SESSION_COOKIE_SECURE=0 and CSRF_COOKIE_SECURE=0 (and then is not private).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# HSTS is sent on HTTPS responses only (as the request sees it: behind a proxy, set
# SECURE_PROXY_SSL_HEADER), so a local run over plain HTTP never pins localhost to HTTPS.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024 + 1024

# Scripts and styles only from our own static files. NONCE lets the few third-party pages
# that inline their start-up code (the Swagger UI) mark those blocks; it appears in the
# header only on pages that use it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Login lockout (django-axes): a username tried from one address is locked for the
# cool-off after AXES_FAILURE_LIMIT wrong passwords, on the login page and the admin alike.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "foundation.client_ip.client_ip"
# Failed API tokens per client address: past the limit within the window, a wrong token
# is answered 429 instead of 401 (foundation/authentication.py).
AUTH_TOKEN_FAILURE_LIMIT = int(os.environ.get("AUTH_TOKEN_FAILURE_LIMIT", "20"))
AUTH_TOKEN_FAILURE_WINDOW_SECONDS = int(os.environ.get("AUTH_TOKEN_FAILURE_WINDOW_SECONDS", "300"))


def _networks(name: str, raw: str) -> list[str]:
    networks = [part.strip() for part in raw.split(",") if part.strip()]
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}={raw!r}: {exc}; give CIDRs, comma separated (e.g. 10.0.0.0/8,::1)"
            ) from None
    return networks


# /metrics, and the detailed /healthz, answer a request that carries this token
# (`Authorization: Bearer <token>`) or comes from one of these networks; others get 403.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = _networks(
    "METRICS_ALLOWED_NETWORKS", os.environ.get("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1")
)

# --- Email ------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if not os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "inventory-hub@localhost")
DIGEST_RECIPIENTS = env_list("DIGEST_RECIPIENTS", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

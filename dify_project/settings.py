"""Project settings, read once from the environment (django-environ).

Two runtime modes (DESIGN.md section 4):

* embedded default: no DATABASE_URL / REDIS_URL. SQLite (WAL) under ``var/``, local-memory cache,
  in-memory channel layer, Celery on a filesystem broker under ``var/`` started by ``make run``.
* scaled: DATABASE_URL (PostgreSQL) and REDIS_URL set. Redis cache, channels-redis, Celery on Redis.

Code reads ``django.conf.settings``, never ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# An optional .env file beside manage.py, for operators who prefer it to exported variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _embedded_secret_key() -> str:
    """A first-run secret kept under var/, so the embedded mode needs no set-up and survives restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Runtime mode --------------------------------------------------------------------------------

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="dify")
RUNTIME_MODE = "scaled" if (DATABASE_URL or REDIS_URL) else "embedded"

if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db.sqlite3"),
            "OPTIONS": {
                # WAL lets readers run beside the one writer; IMMEDIATE avoids upgrade deadlocks. The WAL
                # is copied back every 10,000 pages (40 MB) rather than SQLite's 1,000: pages written again
                # meanwhile (index and full-text pages) are copied once, which made indexing ~12% faster
                # (bench/knowledge.py, 20k segments).
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
                    " PRAGMA wal_autocheckpoint=10000;"
                ),
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
# Connections are reused (also by the async database pool, see dify_project/db.py) and health-checked.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="") or None}
if not DATABASE_URL and not DATABASES["default"]["TEST"]["NAME"]:
    # Tests on SQLite use a file like the embedded mode does (WAL, busy timeout), not Django's default
    # shared-cache memory database, whose table locks fail at once where a file database would wait.
    DATABASES["default"]["TEST"]["NAME"] = str(VAR_DIR / f"test_db_{os.getpid()}.sqlite3")
# Threads (hence at most this many connections per process) for database work of async views and runs.
DB_ASYNC_THREADS = env.int("DB_ASYNC_THREADS", default=8)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": REDIS_KEY_PREFIX},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dify"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Running apps ------------------------------------------------------------------------------------
# Where runs execute: "web" (a task on the ASGI process's event loop) or "celery" (the `workflow` queue).
APP_RUN_EXECUTOR = env.str("APP_RUN_EXECUTOR", default="web")
if APP_RUN_EXECUTOR not in ("web", "celery"):
    raise ImproperlyConfigured("APP_RUN_EXECUTOR must be 'web' or 'celery'")
if APP_RUN_EXECUTOR == "celery" and not REDIS_URL:
    # Events of a run in a worker reach the web process through Redis Streams.
    raise ImproperlyConfigured("APP_RUN_EXECUTOR=celery needs REDIS_URL")
RUN_EVENTS_TTL = env.int("RUN_EVENTS_TTL", default=600)  # seconds a finished run's events stay readable
# How long run event streams ride out an unreachable Redis (a restart, a fail-over): writers keep their
# events and retry, readers wait; past it a reader ends with an `error` event.
RUN_EVENTS_REDIS_RETRY_SECONDS = env.int("RUN_EVENTS_REDIS_RETRY_SECONDS", default=30)
APP_MAX_ACTIVE_REQUESTS = env.int("APP_MAX_ACTIVE_REQUESTS", default=0)  # 0: unlimited (Dify's default)
APP_DEFAULT_ACTIVE_REQUESTS = env.int("APP_DEFAULT_ACTIVE_REQUESTS", default=0)
APP_MAX_EXECUTION_TIME = env.int("APP_MAX_EXECUTION_TIME", default=1200)
WORKFLOW_MAX_EXECUTION_STEPS = env.int("WORKFLOW_MAX_EXECUTION_STEPS", default=500)
WORKFLOW_MAX_EXECUTION_TIME = env.int("WORKFLOW_MAX_EXECUTION_TIME", default=1200)
WORKFLOW_CALL_MAX_DEPTH = env.int("WORKFLOW_CALL_MAX_DEPTH", default=5)
SSE_PING_INTERVAL = env.float("SSE_PING_INTERVAL", default=10.0)
# Requests made for a user (HTTP-request nodes, API tools, the web scraper, DSL and file imports by URL,
# model endpoints) may reach only public addresses (the SSRF guard, `netguard`); the allow-lists admit
# hosts (exact, or `.example.com`) and CIDR networks besides. HTTP_REQUEST_BLOCK_PRIVATE_NETWORKS is the
# deprecated name of SSRF_PROTECTION: false in either turns the guard off.
HTTP_REQUEST_BLOCK_PRIVATE_NETWORKS = env.bool("HTTP_REQUEST_BLOCK_PRIVATE_NETWORKS", default=True)
SSRF_PROTECTION = env.bool("SSRF_PROTECTION", default=HTTP_REQUEST_BLOCK_PRIVATE_NETWORKS)
SSRF_ALLOWED_HOSTS = env.list("SSRF_ALLOWED_HOSTS", default=[])
SSRF_ALLOWED_NETWORKS = env.list("SSRF_ALLOWED_NETWORKS", default=[])
SSRF_DEFAULT_TIMEOUT = env.float("SSRF_DEFAULT_TIMEOUT", default=30.0)  # seconds, when a feature sets none
SSRF_MAX_RESPONSE_BYTES = env.int("SSRF_MAX_RESPONSE_BYTES", default=10 * 1024 * 1024)
SSRF_MAX_REDIRECTS = env.int("SSRF_MAX_REDIRECTS", default=5)
SERVICE_API_QUERY_MAX_LENGTH = env.int("SERVICE_API_QUERY_MAX_LENGTH", default=100_000)
# Code nodes run in a bubblewrap sandbox with a seccomp filter (`workflows.engine.sandbox`). Where the host
# cannot provide it they fail with `code_sandbox_unavailable`; `process` runs code as the server's own
# user instead, which is only safe when every workflow editor is trusted with every workspace's secrets.
CODE_EXECUTION_ISOLATION = env.str("CODE_EXECUTION_ISOLATION", default="sandbox")
if CODE_EXECUTION_ISOLATION not in ("sandbox", "process"):
    raise ImproperlyConfigured("CODE_EXECUTION_ISOLATION must be 'sandbox' or 'process'")
CODE_EXECUTION_TIMEOUT = env.float("CODE_EXECUTION_TIMEOUT", default=15.0)  # seconds per call
CODE_EXECUTION_MEMORY_MB = env.int("CODE_EXECUTION_MEMORY_MB", default=512)
CODE_EXECUTION_MAX_OUTPUT_BYTES = env.int("CODE_EXECUTION_MAX_OUTPUT_BYTES", default=10 * 1024 * 1024)
# The packages user code may import (requirements-sandbox.txt), installed by `make` with the interpreter
# it names in `.interpreter`; CODE_SANDBOX_PYTHON overrides that interpreter.
CODE_SANDBOX_PACKAGES = env.str("CODE_SANDBOX_PACKAGES", default=str(BASE_DIR / ".sandbox" / "python"))
_SANDBOX_MARKER = Path(CODE_SANDBOX_PACKAGES) / ".interpreter"
CODE_SANDBOX_PYTHON = env.str(
    "CODE_SANDBOX_PYTHON",
    default=_SANDBOX_MARKER.read_text().strip() if _SANDBOX_MARKER.is_file() else "",
)
CODE_SANDBOX_POOL_SIZE = env.int("CODE_SANDBOX_POOL_SIZE", default=2)  # warm workers per language
# User code reaches the network only through the egress broker, under the SSRF rules above; false: none.
CODE_SANDBOX_EGRESS = env.bool("CODE_SANDBOX_EGRESS", default=True)
# Dify plugins (the plugins app): packages, environments and plugin data under PLUGIN_ROOT; PLUGIN_PYTHON
# builds each plugin's venv; PLUGIN_PIP_ARGS are added to its `pip install` (e.g. --find-links, a cache
# dir); a call to a plugin is cut after PLUGIN_CALL_TIMEOUT seconds.
PLUGIN_ROOT = Path(env.str("PLUGIN_ROOT", default=str(VAR_DIR / "plugins")))
PLUGIN_ENVS_DIR = Path(env.str("PLUGIN_ENVS_DIR", default=str(PLUGIN_ROOT / "envs")))
PLUGIN_PYTHON = env.str("PLUGIN_PYTHON", default=sys.executable)
PLUGIN_PIP_ARGS = env.list("PLUGIN_PIP_ARGS", default=[])
PLUGIN_CALL_TIMEOUT = env.float("PLUGIN_CALL_TIMEOUT", default=120.0)
PLUGIN_START_TIMEOUT = env.float("PLUGIN_START_TIMEOUT", default=60.0)
PLUGIN_MAX_PACKAGE_BYTES = env.int("PLUGIN_MAX_PACKAGE_BYTES", default=50 * 1024 * 1024)
# sandbox: each plugin runs under bubblewrap (host filesystem hidden but for its own files); process: a
# plain subprocess with its own environment. See plugins/runtime/sandbox.py.
PLUGIN_ISOLATION = env.str("PLUGIN_ISOLATION", default="sandbox")
if PLUGIN_ISOLATION not in ("sandbox", "process"):
    raise ImproperlyConfigured("PLUGIN_ISOLATION must be 'sandbox' or 'process'")
# Sandboxed plugins have no network of their own; true: HTTP(S) through the egress broker under the SSRF
# rules above (as CODE_SANDBOX_EGRESS); false: no network at all. PLUGIN_ISOLATION=process ignores it.
PLUGIN_EGRESS = env.bool("PLUGIN_EGRESS", default=True)
# Knowledge search: `auto` picks sqlite-vec on SQLite and pgvector on PostgreSQL when they load, else exact
# cosine search in the database; `sqlite-vec`, `pgvector`, `exact` or `qdrant` force one.
VECTOR_STORE = env.str("VECTOR_STORE", default="auto")
# sqlite-vec: each process keeps recently searched datasets' vectors in memory up to this many MiB
# (exact search, ~10x vec0's scan); a larger dataset is searched by vec0 itself.
KNOWLEDGE_VECTOR_MEMORY_MB = env.int("KNOWLEDGE_VECTOR_MEMORY_MB", default=1024)
# `qdrant`: vectors in Qdrant (full text stays in the database). QDRANT_URL names a server or cluster;
# without it, Qdrant runs in this process at QDRANT_PATH (a directory, or `:memory:` for nothing kept),
# one process per directory: QDRANT_LOCAL_ENGINE `edge` (Qdrant Edge, the engine itself) or `client`
# (qdrant-client's local mode, a numpy brute force). Each engine has its own default directory: their
# formats differ (a shard per directory vs the client's collection/ tree), so switching engines never
# opens the other's files.
QDRANT_URL = env.str("QDRANT_URL", default="")
QDRANT_API_KEY = env.str("QDRANT_API_KEY", default="")
QDRANT_LOCAL_ENGINE = env.str("QDRANT_LOCAL_ENGINE", default="edge").lower()
QDRANT_PATH = env.str(
    "QDRANT_PATH", default=str(VAR_DIR / ("qdrant" if QDRANT_LOCAL_ENGINE == "client" else "qdrant-edge"))
)
QDRANT_COLLECTION_PREFIX = env.str("QDRANT_COLLECTION_PREFIX", default="dify")
# Exported app files carry knowledge-base ids encrypted for this workspace, as Dify's do.
DSL_EXPORT_ENCRYPT_DATASET_ID = env.bool("DSL_EXPORT_ENCRYPT_DATASET_ID", default=True)
# Connections to model providers per process (each streaming answer holds one while it streams).
MODEL_HTTP_MAX_CONNECTIONS = env.int("MODEL_HTTP_MAX_CONNECTIONS", default=2048)
MODEL_HTTP_MAX_KEEPALIVE = env.int("MODEL_HTTP_MAX_KEEPALIVE", default=128)

# --- Celery --------------------------------------------------------------------------------------

_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or (REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Each domain's tasks on its own queue, so workers can be sized per kind of work.
CELERY_TASK_ROUTES = {
    "apps.run_app": {"queue": "workflow"},
    "knowledge.*": {"queue": "indexing"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Django --------------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "django_celery_beat",
    "dify_project",
    "accounts",
    "files",
    "providers",
    "knowledge",
    "workflows",
    "apps",
    "plugins",
]

# Django's own middleware, as subclasses that skip the thread round trips Django makes for each hook under
# ASGI (see dify_project/middleware.py); behaviour is Django's.
MIDDLEWARE = [
    "dify_project.middleware.SecurityMiddleware",
    "dify_project.middleware.StaticFilesMiddleware",
    "dify_project.middleware.SessionMiddleware",
    "dify_project.middleware.CommonMiddleware",
    "dify_project.middleware.CsrfViewMiddleware",
    "dify_project.middleware.AuthenticationMiddleware",
    "dify_project.middleware.MessageMiddleware",
    "dify_project.middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dify_project.urls"
WSGI_APPLICATION = "dify_project.wsgi.application"
ASGI_APPLICATION = "dify_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

AUTH_USER_MODEL = "accounts.Account"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env.str("STORAGE_LOCAL_PATH", default=str(VAR_DIR / "storage")))

# Upload limits in MB (Dify's defaults).
UPLOAD_FILE_SIZE_LIMIT = env.int("UPLOAD_FILE_SIZE_LIMIT", default=15)
UPLOAD_IMAGE_FILE_SIZE_LIMIT = env.int("UPLOAD_IMAGE_FILE_SIZE_LIMIT", default=10)
UPLOAD_VIDEO_FILE_SIZE_LIMIT = env.int("UPLOAD_VIDEO_FILE_SIZE_LIMIT", default=100)
UPLOAD_AUDIO_FILE_SIZE_LIMIT = env.int("UPLOAD_AUDIO_FILE_SIZE_LIMIT", default=50)
WORKFLOW_FILE_UPLOAD_LIMIT = env.int("WORKFLOW_FILE_UPLOAD_LIMIT", default=10)
FILES_URL = env.str("FILES_URL", default="")
# Public base URLs shown in the console (API base of an app, web-app links); empty: the request's own host.
SERVICE_API_URL = env.str("SERVICE_API_URL", default="")
APP_WEB_URL = env.str("APP_WEB_URL", default="")
CONSOLE_WEB_URL = env.str("CONSOLE_WEB_URL", default="")
# The console API's public base (OAuth redirect URIs such as MCP's callback); empty: the request's host.
CONSOLE_API_URL = env.str("CONSOLE_API_URL", default="")

# Request bodies: DRF parses JSON itself, these bound what Django buffers in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=15 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- DRF and OpenAPI -----------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ConsoleTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Dify ignores Accept: an unmatched header gets JSON (or the stream), never 406.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "dify_project.api.negotiation.LenientContentNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        "dify_project.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "dify_project.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Dify-compatible platform API",
    "DESCRIPTION": "Console API (/console/api) and Service API (/v1), wire-compatible with Dify.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Accounts and console auth (Dify's defaults) -------------------------------------------------

ACCESS_TOKEN_EXPIRE = timedelta(minutes=env.int("ACCESS_TOKEN_EXPIRE_MINUTES", default=60))
REFRESH_TOKEN_EXPIRE = timedelta(days=env.int("REFRESH_TOKEN_EXPIRE_DAYS", default=30))
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_DURATION", default=86400)
# Login, set-up, password-reset and refresh attempts per client address per minute (0: none); the address
# is the socket's peer unless TRUSTED_PROXY_COUNT proxies of yours add X-Forwarded-For in front.
LOGIN_RATE_LIMIT_PER_MINUTE = env.int("LOGIN_RATE_LIMIT_PER_MINUTE", default=30)
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
INVITE_EXPIRY = timedelta(hours=env.int("INVITE_EXPIRY_HOURS", default=72))
INIT_PASSWORD = env.str("INIT_PASSWORD", default="")

# --- Secrets at rest ------------------------------------------------------------------------------
# Fernet keys, newest first. Values are encrypted with the first and decrypted with any, so a key is
# rotated by prepending a new one and running `manage.py rotate_secrets`. Unset: derived from SECRET_KEY.
SECRETS_ENCRYPTION_KEYS = env.list("SECRETS_ENCRYPTION_KEYS", default=[])

# --- Logging --------------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# --- Operations: scheduled maintenance, rate limits, metrics (issue 12; README "Operations") ----------
INSTALLED_APPS.append("operations")
# Each maintenance task is a django-celery-beat PeriodicTask (admin: Periodic tasks), created or updated
# by `manage.py setup_periodic_tasks` (run by `run_platform` at start). A schedule is a crontab
# "minute hour day-of-month month day-of-week" in CELERY_TIMEZONE; an edit in the admin stays until the
# setting itself changes.
# Retention: runs, node executions, app logs, messages and conversations older than RETENTION_DAYS are
# deleted in batches of RETENTION_BATCH_SIZE rows. A workspace overrides the days with
# `retention_days` in its custom_config (admin: Workspaces); 0 there keeps its history forever.
RETENTION_ENABLED = env.bool("RETENTION_ENABLED", default=True)
RETENTION_DAYS = env.int("RETENTION_DAYS", default=30)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
RETENTION_SCHEDULE = env.str("RETENTION_SCHEDULE", default="15 3 * * *")
# Upload and tool files whose owner (uploader, end user, conversation) is gone, older than the grace period.
ORPHAN_FILES_CLEANUP_ENABLED = env.bool("ORPHAN_FILES_CLEANUP_ENABLED", default=True)
ORPHAN_FILES_GRACE_HOURS = env.int("ORPHAN_FILES_GRACE_HOURS", default=24)
ORPHAN_FILES_SCHEDULE = env.str("ORPHAN_FILES_SCHEDULE", default="45 3 * * *")
# Documents with no indexing progress for STUCK_DOCUMENTS_AFTER_MINUTES are queued again, at most
# STUCK_DOCUMENTS_MAX_REQUEUES times, then failed with a reason (the owner can retry them).
STUCK_DOCUMENTS_RECOVERY_ENABLED = env.bool("STUCK_DOCUMENTS_RECOVERY_ENABLED", default=True)
STUCK_DOCUMENTS_AFTER_MINUTES = env.int("STUCK_DOCUMENTS_AFTER_MINUTES", default=30)
STUCK_DOCUMENTS_MAX_REQUEUES = env.int("STUCK_DOCUMENTS_MAX_REQUEUES", default=2)
STUCK_DOCUMENTS_SCHEDULE = env.str("STUCK_DOCUMENTS_SCHEDULE", default="*/10 * * * *")
# Paused human-input runs fail once every form has expired (forms last HUMAN_INPUT_GLOBAL_TIMEOUT_SECONDS);
# runs left `running` by a dead process fail RUNS_ABANDONED_AFTER_SECONDS after they started; run event
# streams without an expiry get RUN_EVENTS_TTL.
RUN_EXPIRY_ENABLED = env.bool("RUN_EXPIRY_ENABLED", default=True)
RUN_EXPIRY_SCHEDULE = env.str("RUN_EXPIRY_SCHEDULE", default="*/15 * * * *")
HUMAN_INPUT_GLOBAL_TIMEOUT_SECONDS = env.int("HUMAN_INPUT_GLOBAL_TIMEOUT_SECONDS", default=7 * 24 * 3600)
RUNS_ABANDONED_AFTER_SECONDS = env.int(
    "RUNS_ABANDONED_AFTER_SECONDS", default=max(APP_MAX_EXECUTION_TIME, WORKFLOW_MAX_EXECUTION_TIME) + 600
)
# Daily usage roll-ups per app and day, in each time zone a workspace's members use: the statistics read
# them for closed days; each pass recomputes the last USAGE_ROLLUP_LOOKBACK_DAYS days (late writes).
USAGE_ROLLUP_ENABLED = env.bool("USAGE_ROLLUP_ENABLED", default=True)
USAGE_ROLLUP_SCHEDULE = env.str("USAGE_ROLLUP_SCHEDULE", default="20 * * * *")
USAGE_ROLLUP_LOOKBACK_DAYS = env.int("USAGE_ROLLUP_LOOKBACK_DAYS", default=2)
# OpenTelemetry traces (spans for HTTP requests, runs and node executions) over OTLP/HTTP, only when
# OTEL_EXPORTER_OTLP_ENDPOINT (the collector's base URL, e.g. http://collector:4318) is set; the
# exporter reads the other standard OTEL_EXPORTER_OTLP_* variables (headers, timeout) itself.
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="dify-django")
# Service API requests per minute per API key (app and dataset keys); 0: no limit (Dify has none). An
# app's own `api_rpm`, when above 0, is the limit for its keys instead. Over it: 429 with Retry-After.
API_KEY_RATE_LIMIT_PER_MINUTE = env.int("API_KEY_RATE_LIMIT_PER_MINUTE", default=0)
# The same per hour (an app's own `api_rph`, when above 0, instead); both limits apply when both are set.
API_KEY_RATE_LIMIT_PER_HOUR = env.int("API_KEY_RATE_LIMIT_PER_HOUR", default=0)
# Prometheus /metrics (answered by ObservabilityMiddleware): to a bearer METRICS_TOKEN, or to a client in
# METRICS_ALLOWED_NETWORKS; anyone else gets 404. PROMETHEUS_MULTIPROC_DIR: where prometheus-client's
# multiprocess mode keeps its files; `run_platform --workers N>1` uses var/prometheus when it is unset.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
MIDDLEWARE.insert(0, "dify_project.observability.ObservabilityMiddleware")
# Logs: every record carries request_id and run_id; LOG_FORMAT=json writes one JSON object per line.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'")
LOGGING["filters"] = {"context": {"()": "dify_project.observability.ContextFilter"}}
LOGGING["formatters"]["json"] = {"()": "dify_project.observability.JsonFormatter"}
LOGGING["handlers"]["console"]["filters"] = ["context"]
if LOG_FORMAT == "json":
    LOGGING["handlers"]["console"]["formatter"] = "json"

# --- Triggers: webhook and schedule roots of published workflows (README "Triggers") ------------------
INSTALLED_APPS.append("triggers")
# Base of the webhook URLs the console shows (`{TRIGGER_URL}/triggers/webhook/{id}`); empty: the request's host.
TRIGGER_URL = env.str("TRIGGER_URL", default="")
# Calls per minute per webhook URL (0: no limit); over it 429 with Retry-After. Bodies above the size: 413.
WEBHOOK_RATE_LIMIT_PER_MINUTE = env.int("WEBHOOK_RATE_LIMIT_PER_MINUTE", default=600)
WEBHOOK_REQUEST_BODY_MAX_SIZE = env.int("WEBHOOK_REQUEST_BODY_MAX_SIZE", default=10 * 1024 * 1024)
# A schedule's beat wake-up runs the workflow when a fire time passed at most this long ago (a late worker
# still runs it; a wake-up of a beat entry wider than the schedule does not).
SCHEDULE_TRIGGER_GRACE_SECONDS = env.int("SCHEDULE_TRIGGER_GRACE_SECONDS", default=600)

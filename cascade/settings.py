"""Cascade settings, all driven by environment variables (see .env.example)."""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url

from cascade.lib import files, keys
from cascade.lib.env import env_bool, env_float, env_int, env_list, env_str, parse_stage_map
from cascade.lib.net import allowed_setting

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("CASCADE_DATA_DIR", "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# SECRET_KEY from the environment, else a random key generated once into the data directory
# (mode 0600). A key anyone can read (a published default) is refused unless DEBUG is on.
SECRET_KEY = keys.secret_key(env_str("SECRET_KEY"), DATA_DIR, DEBUG)
# Former keys, newest first: sessions, tokens and stored secrets made with them keep working
# until they are renewed (`cascade rotate_secrets` re-encrypts stored secrets).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "ninja",  # serves /api/docs from its own static files (no CDN)
    "axes",
    "csp",
    "cascade.accounts",
    "cascade.planner",
    "cascade.writer",
    "cascade.notify",
    "cascade.automation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Request bodies are capped before anything reads them (413).
    "cascade.lib.limits.BodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cascade.urls"
ASGI_APPLICATION = "cascade.asgi.application"
WSGI_APPLICATION = "cascade.wsgi.application"

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
                "cascade.accounts.access.navigation",
            ],
        },
    }
]

# SQLite in WAL mode with IMMEDIATE transactions: a writer takes the lock when its transaction
# begins, so two writers queue on the busy timeout instead of one failing with "database is
# locked" when it upgrades a read lock mid-transaction.
_database_url = env_str("DATABASE_URL")
if _database_url:
    # No persistent connections: under ASGI every request runs in a thread of its own, and a
    # connection kept per thread adds up to more than PostgreSQL's limit under many viewers.
    # Each request, worker step and heartbeat takes a connection and gives it back when done.
    # (A site with heavy traffic puts PgBouncer in front; see README.)
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=0)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("CASCADE_DB_PATH") or str(DATA_DIR / "cascade.sqlite3"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("CASCADE_SQLITE_TIMEOUT", 30),
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA busy_timeout=30000;"
                ),
            },
            "CONN_MAX_AGE": 600,
            "TEST": {"NAME": str(DATA_DIR / "test-cascade.sqlite3")},
        }
    }

# Files 0600 and folders 0700 in every Cascade process; the data directory and the SQLite
# database tightened if an older installation left them open (lib/files.py).
_sqlite = None if _database_url else Path(DATABASES["default"]["NAME"])
files.keep_private(DATA_DIR, _sqlite)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
# Login forms (the site's and the admin's) are throttled by django-axes: after
# CASCADE_LOGIN_FAILURES failures for a user name, or from an address, the form answers 429
# with the time to wait.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("CASCADE_LOGIN_FAILURES", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("CASCADE_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A good login clears only its own user name's failures (cascade.accounts.lockout), never the
# address's failures for other user names.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "cascade.accounts.lockout.locked_out"
AXES_VERBOSE = False
# Behind proxies (nginx): how many, so the client's address is read from X-Forwarded-For.
CASCADE_PROXY_COUNT = env_int("CASCADE_PROXY_COUNT", 0)
if CASCADE_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = CASCADE_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("CASCADE_MEDIA_ROOT") or (DATA_DIR / "media")).resolve()
WHITENOISE_USE_FINDERS = True

# Request bodies: keyword imports up to CASCADE_IMPORT_MAX_BYTES, anything else up to
# CASCADE_BODY_MAX_BYTES; larger ones are refused (413) before they are read.
CASCADE_IMPORT_MAX_BYTES = env_int("CASCADE_IMPORT_MAX_BYTES", 8 * 1024 * 1024)
CASCADE_BODY_MAX_BYTES = env_int("CASCADE_BODY_MAX_BYTES", 2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(CASCADE_IMPORT_MAX_BYTES, CASCADE_BODY_MAX_BYTES) + 65536
FILE_UPLOAD_MAX_MEMORY_SIZE = CASCADE_BODY_MAX_BYTES

# Everything at WARNING and above (Django's request errors with their tracebacks included) goes
# to standard error; Cascade's own messages from CASCADE_LOG_LEVEL.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "cascade": {
            "handlers": ["console"],
            "level": env_str("CASCADE_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}

# `cascade serve` logs every request (method, path, status) when set (or with --access-log).
CASCADE_ACCESS_LOG = env_bool("CASCADE_ACCESS_LOG", False)
# Connections `cascade serve` holds at once (more are answered 503 at once), and the seconds a
# client has to send a request's head (a connection that sends half a header is closed).
# Request heads are at most 16 KiB.
CASCADE_MAX_CONNECTIONS = env_int("CASCADE_MAX_CONNECTIONS", 1000)
CASCADE_HEADER_TIMEOUT = env_float("CASCADE_HEADER_TIMEOUT", 10.0)
# Seconds a client has to send a request's body once its head has come.
CASCADE_BODY_TIMEOUT = env_float("CASCADE_BODY_TIMEOUT", 120.0)

# --- Served over HTTPS (CASCADE_HTTPS=1, behind a TLS proxy such as nginx) ------------------
# Secure cookies, HSTS and a redirect of plain HTTP; the proxy says the request came over TLS
# with X-Forwarded-Proto. Off by default so `cascade serve` works on plain HTTP on loopback.
CASCADE_HTTPS = env_bool("CASCADE_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = CASCADE_HTTPS
SECURE_SSL_REDIRECT = CASCADE_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if CASCADE_HTTPS else None
SECURE_HSTS_SECONDS = env_int("CASCADE_HSTS_SECONDS", 31_536_000) if CASCADE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = CASCADE_HTTPS and env_bool("CASCADE_HSTS_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = CASCADE_HTTPS and env_bool("CASCADE_HSTS_PRELOAD", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# No inline script anywhere (styles: the bars' widths are inline). The API's docs page is
# exempt: Swagger UI starts from an inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Cascade -------------------------------------------------------------------------------
CASCADE_AI_PROVIDER = env_str("CASCADE_AI_PROVIDER", "local")
CASCADE_AI_LATENCY = parse_stage_map("CASCADE_AI_LATENCY", env_str("CASCADE_AI_LATENCY", ""))
# Scale of rendered pictures (1.0 = 1200x630 featured, 800x450 in-article); benchmarks shrink it.
CASCADE_IMAGE_SCALE = env_float("CASCADE_IMAGE_SCALE", 1.0)
CASCADE_EXECUTOR = env_str("CASCADE_EXECUTOR", "embedded")
CASCADE_WORKER_THREADS = env_int("CASCADE_WORKER_THREADS", 2)
CASCADE_CLAIM_TIMEOUT = env_float("CASCADE_CLAIM_TIMEOUT", 60.0)
CASCADE_MAX_ATTEMPTS = env_int("CASCADE_MAX_ATTEMPTS", 3)
CASCADE_RETRY_BACKOFF = env_float("CASCADE_RETRY_BACKOFF", 2.0)
CASCADE_PROVIDER_FAILURE_LIMIT = env_int("CASCADE_PROVIDER_FAILURE_LIMIT", 5)
# Media writes that would leave less than this many bytes free fail like a full disk; a run
# whose pictures cannot be stored retries them every CASCADE_STORAGE_RETRY_SECONDS, saying so.
CASCADE_MEDIA_MIN_FREE_BYTES = env_int("CASCADE_MEDIA_MIN_FREE_BYTES", 0)
CASCADE_STORAGE_RETRY_SECONDS = env_float("CASCADE_STORAGE_RETRY_SECONDS", 10.0)
# A scheduled start found later than this (no process was up at its time) is "late": started
# once if the schedule catches up, else recorded as missed.
CASCADE_SCHEDULE_GRACE_SECONDS = env_float("CASCADE_SCHEDULE_GRACE_SECONDS", 300.0)
CASCADE_BATCH_SIZES = parse_stage_map("CASCADE_BATCH_SIZES", env_str("CASCADE_BATCH_SIZES", ""))
# Seconds after which an event stream ends cleanly and the client reconnects.
CASCADE_STREAM_MAX_SECONDS = env_float("CASCADE_STREAM_MAX_SECONDS", 300.0)
# Live event streams one user may hold open at once in one server process (then 429).
CASCADE_STREAMS_PER_USER = env_int("CASCADE_STREAMS_PER_USER", 10)

# Static files and media are small files served from a thread under ASGI; the live streams are
# asynchronous. Django's warning about the former is expected.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

# --- Running on Celery workers (CASCADE_EXECUTOR=celery) ------------------------------------
# The database's claims decide who processes an item, so a lost, repeated or late task costs
# time, never correctness. These settings keep that time short.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CASCADE_REDIS_URL = env_str("CASCADE_REDIS_URL") or CELERY_BROKER_URL
CELERY_TASK_DEFAULT_QUEUE = env_str("CASCADE_CELERY_QUEUE", "cascade")
# Acknowledge a task after it ran, not when it was received: a worker that dies mid-task leaves
# the message for another worker instead of losing it.
CELERY_TASK_ACKS_LATE = True
# A task whose worker process was killed (SIGKILL, out of memory) goes back to the queue.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each worker process reserves one task at a time, so slow AI items never wait behind a backlog
# that another, idle worker could have taken.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis hands an unacknowledged task to another worker only after this many seconds: it must be
# longer than the slowest task (a task works through a stage's items until none is left).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CASCADE_VISIBILITY_TIMEOUT", 3600)
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Tasks started at once for a stage's items (more are pointless beyond the workers' processes).
CASCADE_CELERY_FANOUT = env_int("CASCADE_CELERY_FANOUT", 8)

# --- The OpenAI-compatible provider (CASCADE_AI_PROVIDER=openai) ---------------------------------
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
CASCADE_TEXT_MODEL, CASCADE_IMAGE_MODEL = (
    env_str("CASCADE_TEXT_MODEL", "gpt-4o-mini"),
    env_str("CASCADE_IMAGE_MODEL", "gpt-image-1"),
)
CASCADE_AI_TIMEOUT = env_float("CASCADE_AI_TIMEOUT", 120.0)
# Transport retries of one request (by the openai client); see README for the worst case per item.
CASCADE_AI_RETRIES = env_int("CASCADE_AI_RETRIES", 2)
CASCADE_AI_CONCURRENCY = env_int("CASCADE_AI_CONCURRENCY", 4)
# Requests and tokens a minute (0: unlimited), for all processes together: counted in Redis
# on Celery, in the database with the embedded worker. The window is a minute unless set.
CASCADE_AI_RPM, CASCADE_AI_TPM = env_int("CASCADE_AI_RPM", 0), env_int("CASCADE_AI_TPM", 0)
CASCADE_AI_RATE_WINDOW = env_float("CASCADE_AI_RATE_WINDOW", 60.0)
CASCADE_PROMPTS_DIR = env_str("CASCADE_PROMPTS_DIR")
# Stage 1 by embeddings (/v1/embeddings) when set: keywords are embedded, matched to every
# cluster's centroid and grouped by vector; the chat model only names new clusters.
CASCADE_EMBEDDING_MODEL = env_str("CASCADE_EMBEDDING_MODEL")
CASCADE_EMBEDDING_BATCH = env_int("CASCADE_EMBEDDING_BATCH", 256)  # texts per request
# Cosine similarity at which a keyword joins a cluster or groups with another (model-dependent).
CASCADE_EMBEDDING_SIMILARITY = env_float("CASCADE_EMBEDDING_SIMILARITY", 0.75)
CASCADE_CREDITS_PER_1K_TOKENS = env_float("CASCADE_CREDITS_PER_1K_TOKENS", 5.0)
# --- Publishing to WordPress ---------------------------------------------------------------
# WordPress on a loopback or private address is refused unless this allows it: on (any), or a
# list of networks ("10.0.0.5,192.168.1.0/24") for a WordPress on the operator's own network; a
# host shared by several accounts leaves it off. Checked at every connection, redirects included.
CASCADE_PUBLISH_ALLOW_PRIVATE = allowed_setting(
    "CASCADE_PUBLISH_ALLOW_PRIVATE", env_str("CASCADE_PUBLISH_ALLOW_PRIVATE")
)
# Tries of one article before it is `publish_failed`, and the first wait between them (doubled
# each time, with jitter).
CASCADE_PUBLISH_ATTEMPTS = env_int("CASCADE_PUBLISH_ATTEMPTS", 6)
CASCADE_PUBLISH_BACKOFF = env_float("CASCADE_PUBLISH_BACKOFF", 5.0)
# --- Webhooks and email (contract §11) ------------------------------------------------------
# Webhook addresses on loopback or private networks are refused unless this is set (a server
# shared by several accounts leaves it off, so no tenant can make it call internal services).
CASCADE_WEBHOOKS_ALLOW_PRIVATE = allowed_setting(
    "CASCADE_WEBHOOKS_ALLOW_PRIVATE", env_str("CASCADE_WEBHOOKS_ALLOW_PRIVATE")
)
# A delivery answered with anything but 2xx is tried again after CASCADE_WEBHOOK_BACKOFF
# seconds, doubling up to CASCADE_WEBHOOK_MAX_BACKOFF, for CASCADE_WEBHOOK_RETRY_SECONDS.
CASCADE_WEBHOOK_BACKOFF = env_float("CASCADE_WEBHOOK_BACKOFF", 30.0)
CASCADE_WEBHOOK_MAX_BACKOFF = env_float("CASCADE_WEBHOOK_MAX_BACKOFF", 3600.0)
CASCADE_WEBHOOK_RETRY_SECONDS = env_float("CASCADE_WEBHOOK_RETRY_SECONDS", 86400.0)
CASCADE_WEBHOOK_TIMEOUT = env_float("CASCADE_WEBHOOK_TIMEOUT", 10.0)  # a whole delivery
# Calls to tenants' addresses (WordPress, webhooks): at most this much of an answer is read, and
# they run on CASCADE_OUTBOUND_THREADS threads of their own, so a stalling receiver never holds
# the pipeline's workers.
CASCADE_OUTBOUND_MAX_BYTES = env_int("CASCADE_OUTBOUND_MAX_BYTES", 1024 * 1024)
CASCADE_OUTBOUND_THREADS = env_int("CASCADE_OUTBOUND_THREADS", 2)
# Email to owners who opt in: EMAIL_URL (smtp://user:password@host:587, smtp+tls:// for
# STARTTLS, smtps:// for TLS) or Django's EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER,
# EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL. Without either, no email is sent.
EMAIL_URL = env_str("EMAIL_URL")
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Cascade <cascade@localhost>")
if EMAIL_URL:
    _mail = urlsplit(EMAIL_URL)
    if _mail.scheme not in ("smtp", "smtp+tls", "smtps") or not _mail.hostname:
        raise SystemExit("EMAIL_URL must look like smtp://user:password@host:port")
    EMAIL_HOST, EMAIL_PORT = _mail.hostname, _mail.port or {"smtps": 465}.get(_mail.scheme, 25)
    EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = (
        unquote(_mail.username or ""),
        unquote(_mail.password or ""),
    )
    EMAIL_USE_TLS, EMAIL_USE_SSL = _mail.scheme == "smtp+tls", _mail.scheme == "smtps"
CASCADE_EMAIL_ENABLED = bool(EMAIL_HOST)
# The address people open Cascade at, for links in emails.
CASCADE_PUBLIC_URL = env_str("CASCADE_PUBLIC_URL", "http://127.0.0.1:8000")

# Behind nginx: media are sent by nginx from this internal location (X-Accel-Redirect) after
# Cascade checked who asks; empty: Cascade sends the files itself.
CASCADE_MEDIA_ACCEL_REDIRECT = env_str("CASCADE_MEDIA_ACCEL_REDIRECT")
# Picture addresses in API answers are signed and work without a session for this long.
CASCADE_MEDIA_LINK_SECONDS = env_int("CASCADE_MEDIA_LINK_SECONDS", 3600)

# Key material for stored secrets (accounts' AI keys, WordPress passwords); default: SECRET_KEY.
# The encryption key is derived from it for that purpose alone. Former ones, newest first,
# keep decrypting until `cascade rotate_secrets` has run.
CASCADE_ENCRYPTION_KEY = env_str("CASCADE_ENCRYPTION_KEY")
CASCADE_ENCRYPTION_KEY_FALLBACKS = env_list("CASCADE_ENCRYPTION_KEY_FALLBACKS", [])

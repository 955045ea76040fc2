"""Cascade settings, all driven by environment variables (see .env.example)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url

from cascade.lib import files, keys
from cascade.lib.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent  # cascade/
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
    "cascade.web",
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
files.close_media(MEDIA_ROOT, shared_with_proxy=bool(env_str("CASCADE_MEDIA_ACCEL_REDIRECT")))
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

# Cascade's own settings: the pipeline and its workers, the AI providers; calls to tenants'
# addresses, email and stored secrets.
from cascade.settings.outbound import *  # noqa: E402, F403
from cascade.settings.work import *  # noqa: E402, F403

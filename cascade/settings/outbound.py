"""Cascade's settings for what leaves the server: WordPress, webhooks, email, media links, and
the keys of stored secrets."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from cascade.lib.env import env_bool, env_float, env_int, env_list, env_str
from cascade.lib.net import allowed_setting

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

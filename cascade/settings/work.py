"""Cascade's own settings for the pipeline: its workers, Celery, the AI providers."""

from __future__ import annotations

import warnings

from cascade.lib.env import env_float, env_int, env_str, parse_stage_map

# --- Cascade -------------------------------------------------------------------------------
CASCADE_AI_PROVIDER = env_str("CASCADE_AI_PROVIDER", "local")
CASCADE_AI_LATENCY = parse_stage_map("CASCADE_AI_LATENCY", env_str("CASCADE_AI_LATENCY", ""))
# Scale of rendered pictures (1.0 = 1200x630 featured, 800x450 in-article); benchmarks shrink it.
CASCADE_IMAGE_SCALE = env_float("CASCADE_IMAGE_SCALE", 1.0)
CASCADE_EXECUTOR = env_str("CASCADE_EXECUTOR", "embedded")
CASCADE_WORKER_THREADS = env_int("CASCADE_WORKER_THREADS", 2)
# On PostgreSQL, `cascade serve` borrows connections from a pool: this many for requests and
# streams, plus one for each thread that keeps one through a slow call (0: a connection of its
# own for each request, as Celery workers and commands always do).
CASCADE_DB_POOL_SIZE = env_int("CASCADE_DB_POOL_SIZE", 6)
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
# The Automation page's pace: a viewer gets at most one new state (the newest) this often, and
# on average no more than this much markup a minute after its first state; an action's effect
# is sent at once. The API's stream sends every state (up to ~10 a second).
CASCADE_PAGE_PACE_SECONDS = env_float("CASCADE_PAGE_PACE_SECONDS", 0.5)
CASCADE_PAGE_KIB_PER_MINUTE = env_float("CASCADE_PAGE_KIB_PER_MINUTE", 140.0)
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

# The offline provider clusters a site's keywords by meaning (a small sentence-embedding model)
# while the site holds at most this many keywords, and by words above (0: always by words).
CASCADE_MEANING_MAX_KEYWORDS = env_int("CASCADE_MEANING_MAX_KEYWORDS", 20_000)

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

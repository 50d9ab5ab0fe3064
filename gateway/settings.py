"""Iris settings: one file, every knob read from the environment (see README's table)."""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from gateway.envvars import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    persistent_encryption_keys,
    persistent_secret_key,
)

# --- core --------------------------------------------------------------------
BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("IRIS_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


SECRET_KEY = env_secret("SECRET_KEY") or persistent_secret_key(DATA_DIR)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "gateway",
    "logs_ui",
    # The debugging workflow (issue 17), an app each: feedback, replays (one record on another
    # model), batches (replays of many records), exports (datasets of the log).
    "feedback",
    "replays",
    "batches",
    "exports",
    "axes",  # login throttling (see "login throttling" below)
]

# The /v1/ API skips this stack entirely (see gateway/asgi.py): it needs no session,
# CSRF or messages, and every middleware costs time on the proxy path.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as axes asks: turns a lockout into its page
]

ROOT_URLCONF = "gateway.urls"
ASGI_APPLICATION = "gateway.asgi.application"

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
                "logs_ui.context_processors.log_health",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "logs_ui:login"  # works for staff and for users given gateway.view_requestlog
LOGIN_REDIRECT_URL = "/logs/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- login throttling (django-axes): the logs UI's and the admin's login -----------
# LOGIN_FAILURE_LIMIT wrong passwords for one username from one IP lock that pair out for
# LOGIN_LOCKOUT_MINUTES, the right password included (429 with a page saying so). The pair,
# not the IP alone: colleagues behind one NAT do not lock each other out; not the username
# alone: an attacker cannot lock a known user out from elsewhere. 0 turns throttling off.
# The client IP is REMOTE_ADDR (uvicorn sets it from X-Forwarded-For for a local proxy).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = env_float("LOGIN_LOCKOUT_MINUTES", 15.0)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before checking
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = LOGIN_FAILURE_LIMIT > 0
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a successful login forgets the pair's earlier failures
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "logs_ui.access.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # failures are counted; successful logins need no table

# --- database ------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'iris.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the logs UI read while the log writer writes; IMMEDIATE avoids
    # "database is locked" upgrades when two threads write.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests on a file, not Django's shared-cache memory database: there a read that meets
    # another thread's write fails at once with "database table is locked" (the busy
    # timeout does not apply), which broke the live-server browser tests now and then.
    # One file per test process, so that two runs side by side do not share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"iris-test-{os.getpid()}.sqlite3")
    }

# --- storage -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # filled by `serve` (collectstatic); whitenoise wants it
STATICFILES_DIRS = [BASE_DIR / "static"]
BLOB_STORAGE_DIR = Path(env_str("BLOB_STORAGE_DIR", str(DATA_DIR / "blobs")))
STORAGES = {
    # Image blobs and thumbnails. Any Django storage backend works here (for S3,
    # django-storages' "storages.backends.s3.S3Storage" with its own options).
    "default": {
        "BACKEND": env_str("BLOB_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": {"location": str(BLOB_STORAGE_DIR)}
        if "BLOB_STORAGE_BACKEND" not in os.environ
        else {},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- gateway -------------------------------------------------------------------
GATEWAY_REQUIRE_API_KEY = env_bool("GATEWAY_REQUIRE_API_KEY", True)
GATEWAY_ALLOW_PRIVATE_NETWORKS = env_bool("GATEWAY_ALLOW_PRIVATE_NETWORKS", False)
GATEWAY_MAX_BODY_BYTES = env_int("GATEWAY_MAX_BODY_BYTES", 64 * 1024 * 1024)
# All request bodies one process holds at once on POST /v1/chat/completions, counted as their
# bytes arrive until the answer; past it a request gets 503 gateway_busy (logged). A body that
# is the only one held is always admitted.
GATEWAY_MAX_BODY_BYTES_IN_FLIGHT = env_int("GATEWAY_MAX_BODY_BYTES_IN_FLIGHT", 256 * 1024 * 1024)
# The longest a request body may take to arrive once it has begun (a slow or stalled upload
# holds a connection and its bytes): past it, 408 request_timeout (logged), connection closed.
GATEWAY_BODY_READ_SECONDS = env_float("GATEWAY_BODY_READ_SECONDS", 120.0)
if not GATEWAY_BODY_READ_SECONDS > 0:
    raise ValueError("GATEWAY_BODY_READ_SECONDS must be a number of seconds above 0.")
GATEWAY_CONNECT_TIMEOUT = env_float("GATEWAY_CONNECT_TIMEOUT", 10.0)
GATEWAY_UPSTREAM_TIMEOUT = env_float("GATEWAY_UPSTREAM_TIMEOUT", 600.0)
GATEWAY_IMAGE_FETCH_TIMEOUT = env_float("GATEWAY_IMAGE_FETCH_TIMEOUT", 10.0)
GATEWAY_IMAGE_FETCH_MAX_BYTES = env_int("GATEWAY_IMAGE_FETCH_MAX_BYTES", 20 * 1024 * 1024)
GATEWAY_IMAGE_FETCH_MAX_REDIRECTS = env_int("GATEWAY_IMAGE_FETCH_MAX_REDIRECTS", 3)
# Keep a copy of URL images at request time, so signed URLs stay viewable in the logs.
GATEWAY_SNAPSHOT_URL_IMAGES = env_bool("GATEWAY_SNAPSHOT_URL_IMAGES", True)
# Bytes of those snapshots held in memory at once, per process, until the log writer takes them;
# past it a snapshot is not kept and its image says why (the URL is still logged).
GATEWAY_SNAPSHOT_MAX_BYTES = env_int("GATEWAY_SNAPSHOT_MAX_BYTES", 64 * 1024 * 1024)
# Images in formats a provider refuses (BMP, TIFF, HEIC…): convert to PNG, or refuse with 400.
GATEWAY_CONVERT_IMAGES = env_bool("GATEWAY_CONVERT_IMAGES", True)
# Auto-fit: "auto" downsizes each image to what the model would see before sending it (the
# x-iris-image-fit header and a provider's fit_images flag decide first), "off" sends it as is.
GATEWAY_IMAGE_FIT = env_str("GATEWAY_IMAGE_FIT", "off").strip().lower()
if GATEWAY_IMAGE_FIT not in ("auto", "off"):
    raise ValueError(f"GATEWAY_IMAGE_FIT must be 'auto' or 'off', not {GATEWAY_IMAGE_FIT!r}.")
# Fetch URL images and send their bytes even to providers that could fetch the URL themselves.
GATEWAY_INLINE_IMAGE_URLS = env_bool("GATEWAY_INLINE_IMAGE_URLS", False)
# --- configs (gateway/configs/): retries, fallbacks, load balancing, the response cache ---
GATEWAY_MAX_CONFIG_BYTES = env_int("GATEWAY_MAX_CONFIG_BYTES", 64 * 1024)  # inline JSON
GATEWAY_RETRY_BASE_WAIT = env_float("GATEWAY_RETRY_BASE_WAIT", 1.0)  # s, doubled each retry
GATEWAY_RETRY_MAX_WAIT = env_float("GATEWAY_RETRY_MAX_WAIT", 60.0)  # s, any one wait at most
GATEWAY_MAX_ATTEMPTS = env_int("GATEWAY_MAX_ATTEMPTS", 50)  # upstream tries for one request
GATEWAY_CACHE_MAX_AGE = env_int("GATEWAY_CACHE_MAX_AGE", 7 * 24 * 3600)  # s, unless max_age
GATEWAY_CACHE_MAX_ENTRY_BYTES = env_int("GATEWAY_CACHE_MAX_ENTRY_BYTES", 4 << 20)  # not kept past
# Where cached answers live: the database (no server to run) unless IRIS_CACHE_URL names a
# Redis server (redis://host:6379/0), which several replicas share.
IRIS_CACHE_URL = env_str("IRIS_CACHE_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "responses": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": IRIS_CACHE_URL,
            # A Redis that stops answering fails a call in 2 s instead of holding its thread.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
        if IRIS_CACHE_URL.startswith(("redis://", "rediss://", "unix://"))
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "iris_response_cache",
            "OPTIONS": {"MAX_ENTRIES": env_int("IRIS_CACHE_MAX_ENTRIES", 100_000)},
        }
    ),
}
# --- the debugging workflow: bulk replays (batches/) and dataset exports (exports/) ---
GATEWAY_MAX_BATCH_RECORDS = env_int("GATEWAY_MAX_BATCH_RECORDS", 500)  # records one batch replays
GATEWAY_MAX_BATCH_CONCURRENCY = env_int("GATEWAY_MAX_BATCH_CONCURRENCY", 16)  # replays in flight
GATEWAY_MAX_EXPORT_RECORDS = env_int("GATEWAY_MAX_EXPORT_RECORDS", 100_000)  # one dataset zip
# --- resource limits: no one request may exhaust memory (gateway/fetching.py, proxy.py) ---
GATEWAY_MAX_IMAGES_PER_REQUEST = env_int("GATEWAY_MAX_IMAGES_PER_REQUEST", 500)  # Iris's bound
# Bytes fetched from image URLs for one request (each distinct URL counted once).
GATEWAY_MAX_FETCH_BYTES_PER_REQUEST = env_int("GATEWAY_MAX_FETCH_BYTES_PER_REQUEST", 64 << 20)
GATEWAY_MAX_CONCURRENT_FETCHES = env_int("GATEWAY_MAX_CONCURRENT_FETCHES", 64)  # per process
# Most pixels Pillow may decode at once (conversion, thumbnails); also Pillow's own
# Image.MAX_IMAGE_PIXELS, set in gateway/apps.py. Proxying never decodes: bigger images pass.
GATEWAY_MAX_IMAGE_PIXELS = env_int("GATEWAY_MAX_IMAGE_PIXELS", 40_000_000)
# Images decoded at once on the request path (auto-fit, conversion), per process: each may hold
# GATEWAY_MAX_IMAGE_PIXELS × 4 bytes, so this bounds their memory together.
GATEWAY_MAX_CONCURRENT_DECODES = env_int("GATEWAY_MAX_CONCURRENT_DECODES", 2)
# How the log and /v1/estimate count text tokens for OpenAI models: "approximate" (4 characters
# a token) or "tiktoken" (exact, but ~80 MB more memory per process once loaded and fewer
# small requests a second: measured in bench/run.py, see README).
GATEWAY_TOKENIZER = env_str("GATEWAY_TOKENIZER", "approximate").strip().lower()
if GATEWAY_TOKENIZER not in ("tiktoken", "approximate"):
    raise ValueError("GATEWAY_TOKENIZER must be 'tiktoken' or 'approximate'.")
GATEWAY_MAX_RESPONSE_BYTES = env_int("GATEWAY_MAX_RESPONSE_BYTES", 32 << 20)  # decompressed
GATEWAY_MAX_SSE_EVENT_BYTES = env_int("GATEWAY_MAX_SSE_EVENT_BYTES", 16 << 20)
# --- end of resource limits ---
# --- shutdown and event-loop hygiene (gateway/shutdown.py, gateway/lagprobe.py) ---
# On SIGTERM, open streams get this long to finish, then end with a `gateway_shutting_down`
# error event (and are logged). `serve` gives uvicorn 5 s more before it cancels anything.
GATEWAY_SHUTDOWN_GRACE_SECONDS = env_float("GATEWAY_SHUTDOWN_GRACE_SECONDS", 20.0)
# Request bodies larger than this are parsed (JSON, base64, image headers) in a thread, and
# their upstream request built there: the event loop never works in proportion to a body.
GATEWAY_THREAD_BODY_BYTES = env_int("GATEWAY_THREAD_BODY_BYTES", 256 * 1024)
# bench/run.py: measure how late the event loop wakes (DATA_DIR/loop-lag-<pid>.json).
IRIS_LOOP_LAG_PROBE = env_bool("IRIS_LOOP_LAG_PROBE", False)
LOG_BATCH_SIZE = env_int("LOG_BATCH_SIZE", 200)
LOG_FLUSH_SECONDS = env_float("LOG_FLUSH_SECONDS", 0.2)  # longest a record waits for a batch
LOG_SPOOL_DIR = Path(env_str("LOG_SPOOL_DIR", str(DATA_DIR / "spool")))
LOG_RETENTION_DAYS = env_int("LOG_RETENTION_DAYS", 30)
# The analytics page reads at most this many log rows (the newest) where the rollups cannot
# answer, and says so: memory and time stay bounded whatever the range (logs_ui/analytics_log.py).
ANALYTICS_MAX_LOG_ROWS = env_int("ANALYTICS_MAX_LOG_ROWS", 200_000)
# --- the logs search (gateway/logquery.py) ---
# A 1-2 character search has no trigram index to use: it scans only this many newest records.
LOG_SEARCH_SHORT_ROWS = env_int("LOG_SEARCH_SHORT_ROWS", 50_000)
# --- the logs list's totals (gateway/logquery.py totals) ---
# The totals under the list count and sum at most this many matches (the newest) and say so:
# each is a row read (10,000: ~50 ms at 1M on SQLite, 50-600 ms at 10M on PostgreSQL).
LOG_TOTALS_MAX_ROWS = env_int("LOG_TOTALS_MAX_ROWS", 10_000)
# --- the log's durability (gateway/log/) ---
# Records wait in memory up to this many bytes (images included); past it they wait on disk.
LOG_QUEUE_MAX_BYTES = env_int("LOG_QUEUE_MAX_BYTES", 256 * 1024 * 1024)
# How often finished records are appended to the write-ahead journal (and fsynced): after a
# SIGKILL only the records answered in the last LOG_FSYNC_SECONDS can be missing.
LOG_FSYNC_SECONDS = env_float("LOG_FSYNC_SECONDS", 0.1)
# Hold each whole (not streamed) answer until its record is in the journal and fsynced, so not
# even those last LOG_FSYNC_SECONDS can be lost; costs the answer a thread hop and a disk flush.
LOG_JOURNAL_BEFORE_ANSWER = env_bool("LOG_JOURNAL_BEFORE_ANSWER", False)
LOG_JOURNAL_WAIT_SECONDS = env_float("LOG_JOURNAL_WAIT_SECONDS", 5.0)  # then answer anyway
# At shutdown, how long the writer may keep trying a database or storage that fails: what it
# cannot write by then stays in the journal, written at the next start.
LOG_DRAIN_SECONDS = env_float("LOG_DRAIN_SECONDS", 5.0)
# healthz answers 503 when the oldest unwritten record is older than this.
LOG_HEALTH_MAX_AGE_SECONDS = env_float("LOG_HEALTH_MAX_AGE_SECONDS", 30.0)
# Bodies nested deeper are refused (400); logged JSON is cut at this depth.
GATEWAY_MAX_JSON_DEPTH = env_int("GATEWAY_MAX_JSON_DEPTH", 64)
# Past this many bytes of images in blob storage, images are proxied but not stored (0: no cap).
IRIS_BLOB_QUOTA_BYTES = env_int("IRIS_BLOB_QUOTA_BYTES", 0)

# --- blob storage on S3 (BLOB_STORAGE_BACKEND=storages.backends.s3.S3Storage) ---
# The bucket (it must exist); credentials come from AWS_ACCESS_KEY_ID/... or boto3's chain.
IRIS_S3_BUCKET = env_str("IRIS_S3_BUCKET")
# Any S3-compatible service (MinIO, Ceph, R2, moto...); empty: AWS itself.
IRIS_S3_ENDPOINT_URL = env_str("IRIS_S3_ENDPOINT_URL")
# The bucket's region (AWS: where it lives; most other services take any value).
IRIS_S3_REGION = env_str("IRIS_S3_REGION")
# "path" (bucket in the URL's path: most self-hosted services), "virtual" or "auto".
IRIS_S3_ADDRESSING_STYLE = env_str("IRIS_S3_ADDRESSING_STYLE", "auto")
# A key prefix inside the bucket ("iris/prod"), so deployments can share one.
IRIS_S3_PREFIX = env_str("IRIS_S3_PREFIX")
# Seconds to connect, seconds per socket read, attempts per call (botocore's standard retry):
# a dead S3 holds the log writer's database thread about attempts x (connect + read) per call
# at most; then the records wait (healthz log_writer) and are written once S3 answers again.
IRIS_S3_CONNECT_TIMEOUT = env_float("IRIS_S3_CONNECT_TIMEOUT", 3.0)
IRIS_S3_READ_TIMEOUT = env_float("IRIS_S3_READ_TIMEOUT", 15.0)
IRIS_S3_MAX_ATTEMPTS = env_int("IRIS_S3_MAX_ATTEMPTS", 3)
# A blob read from S3 larger than this spools to a temporary file instead of memory.
IRIS_S3_MAX_MEMORY_BYTES = env_int("IRIS_S3_MAX_MEMORY_BYTES", 16 * 1024 * 1024)
# Bytes of the per-process set of blobs known to be in remote storage (saves a HEAD per image
# per request; gateway/log/blobs.py); 0: ask storage every time.
IRIS_BLOB_PRESENT_CACHE_BYTES = env_int("IRIS_BLOB_PRESENT_CACHE_BYTES", 4 * 1024 * 1024)
if STORAGES["default"]["BACKEND"] == "storages.backends.s3.S3Storage":
    from botocore.config import Config as _S3Config

    if not IRIS_S3_BUCKET:
        raise ImproperlyConfigured("S3 blob storage needs IRIS_S3_BUCKET (the bucket's name)")
    STORAGES["default"]["OPTIONS"] = {
        "bucket_name": IRIS_S3_BUCKET,
        "endpoint_url": IRIS_S3_ENDPOINT_URL or None,
        "region_name": IRIS_S3_REGION or None,
        "location": IRIS_S3_PREFIX.strip("/"),
        "file_overwrite": True,  # a blob's name is its content's hash: same name, same bytes
        "querystring_auth": False,  # Iris serves the bytes itself, never a bucket URL
        "max_memory_size": IRIS_S3_MAX_MEMORY_BYTES,
        "client_config": _S3Config(
            connect_timeout=IRIS_S3_CONNECT_TIMEOUT,
            read_timeout=IRIS_S3_READ_TIMEOUT,
            retries={"max_attempts": IRIS_S3_MAX_ATTEMPTS, "mode": "standard"},
            s3={"addressing_style": IRIS_S3_ADDRESSING_STYLE},
            signature_version="s3v4",
        ),
    }


# Fernet keys for provider credentials, comma-separated, newest first (see gateway/crypto.py).
IRIS_ENCRYPTION_KEYS = [
    key.strip() for key in env_secret("IRIS_ENCRYPTION_KEY").split(",") if key.strip()
] or persistent_encryption_keys(DATA_DIR)

# Request bodies of the gateway are checked against GATEWAY_MAX_BODY_BYTES by the
# API itself; this keeps Django's 2.5 MB default away from /v1/ while the HTML
# forms keep a sane cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- logging -------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Test clients (httpx) log every request at INFO: noise.
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},  # its version banner, at every manage.py command
    },
}

# --- several replicas (gateway/replicas.py) ---
# How other processes hear of a saved key/provider/config/price: auto, postgres, redis, poll, off.
IRIS_CACHE_INVALIDATION = env_str("IRIS_CACHE_INVALIDATION", "auto").strip().lower()
# The "poll" bus (SQLite): seconds between reads of the generation row.
IRIS_CACHE_INVALIDATION_POLL_SECONDS = env_float("IRIS_CACHE_INVALIDATION_POLL_SECONDS", 0.5)
# The live tail re-reads ids this many seconds back: a replica's batch may commit after another's.
LOGS_TAIL_SETTLE_SECONDS = env_float("LOGS_TAIL_SETTLE_SECONDS", 10.0)

# --- log retention at scale (gateway/log/retention.py) ---
# Records deleted per transaction by purge_logs: each batch (and its images' rows) commits on
# its own, so the log writer's inserts and the UI's reads never wait behind one long delete.
LOG_RETENTION_BATCH = env_int("LOG_RETENTION_BATCH", 2_000)

# --- request memory (gateway/malloc.py, gateway/offload.py) ---
# glibc malloc arenas for the whole process (0: glibc's default, 8 per core). Every thread that
# touches a megabyte body would otherwise get an arena of its own that keeps its peak (RSS);
# one arena reuses the same pages (fewer page faults too). MALLOC_ARENA_MAX, if set, wins.
GATEWAY_MALLOC_ARENAS = env_int("GATEWAY_MALLOC_ARENAS", 1)

# --- the log writer's wake-ups (gateway/log/pipeline.py) ---
# Image bytes waiting in the log's inbox that wake the journal thread before LOG_FSYNC_SECONDS.
LOG_INBOX_IMAGE_BYTES = env_int("LOG_INBOX_IMAGE_BYTES", 8 * 1024 * 1024)

# --- the log's inbox bound (gateway/log/pipeline.py Writer.room, gateway/proxy.py) ---
# Image bytes waiting for the journal past which answers wait (0: never): bounds decoded images.
LOG_INBOX_MAX_IMAGE_BYTES = env_int("LOG_INBOX_MAX_IMAGE_BYTES", 16 * 1024 * 1024)

# --- the collector and request ids on the proxy path (gateway/asgi.py, gateway/log/ids.py) ---
# Python's cyclic collector thresholds once serving (gen0 allocations, gen1, gen2 passes).
# Python's default (700, 10, 10) runs a young pass every ~2 small requests: ~10 % of the event
# loop's CPU (bench/cpu_per_request.py). Few request objects form cycles; refcounting frees the
# rest at once, so rarer passes cost little memory. "" keeps Python's default.
GATEWAY_GC_THRESHOLD = tuple(int(n) for n in env_list("GATEWAY_GC_THRESHOLD", "10000,50,100"))
if len(GATEWAY_GC_THRESHOLD) > 3 or any(n < 1 for n in GATEWAY_GC_THRESHOLD):
    # gen0 = 0 would turn the collector off: cycles (exceptions, aiohttp's objects) would grow.
    raise ImproperlyConfigured("GATEWAY_GC_THRESHOLD: one to three whole numbers of 1 or more.")

# --- the logs UI at 10M records (gateway/rollups.py, logs_ui/analytics*.py, logquery.py) ---
# Minute rollup rows are kept this many hours (0: none): charts by minute read them, not the log.
ANALYTICS_MINUTE_ROLLUP_HOURS = env_int("ANALYTICS_MINUTE_ROLLUP_HOURS", 48)
# The list's totals look at this many newest records first (PostgreSQL): matches sparse there
# (search invoice, feedback) are totalled over them, saying so, rather than walking 1M records.
LOG_TOTALS_SCAN_ROWS = env_int("LOG_TOTALS_SCAN_ROWS", 10_000)
# The analytics page's first answer reads at most this many log rows (the newest); its charts
# then ask for the rest of the range (up to ANALYTICS_MAX_LOG_ROWS) and are redrawn.
ANALYTICS_FIRST_LOG_ROWS = env_int("ANALYTICS_FIRST_LOG_ROWS", 10_000)

"""MedAssist settings, read from the environment (12-factor).

With no environment variables at all MedAssist runs on its embedded defaults: SQLite under
``var/`` and Kombu's ``filesystem://`` broker, so one command brings everything up on a fresh
machine. ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (Celery broker) switch to the real
services. Every secret may also come from a file named by ``<NAME>_FILE``.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """Return ``$NAME``, else the content of the file named by ``$NAME_FILE``, else default.

    Raises ImproperlyConfigured, naming the variable and the file, when ``$NAME_FILE`` names
    a file that cannot be read: a secret that was meant to be set must not become the default.
    """
    if name in os.environ:
        return os.environ[name]
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ImproperlyConfigured(f"{name}_FILE={file_name}: no such file.") from None
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={file_name}: cannot be read ({exc.strerror})."
            ) from None
        except UnicodeDecodeError:
            raise ImproperlyConfigured(f"{name}_FILE={file_name}: not UTF-8 text.") from None
    return default


def env_bool(name: str, default: bool) -> bool:
    value = env(name, "")
    if value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name, "")
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = env(name, "")
    return float(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


VAR_DIR = Path(env("MEDASSIST_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Exactly these spellings: a typo such as "Production" must not quietly run with DEBUG on.
ENVIRONMENTS = ("development", "test", "production")
ENVIRONMENT = env("MEDASSIST_ENV", "development")
if ENVIRONMENT not in ENVIRONMENTS:
    raise ImproperlyConfigured(
        f"MEDASSIST_ENV={ENVIRONMENT!r} is not one of {', '.join(ENVIRONMENTS)}; "
        "MedAssist refuses to start rather than guess."
    )
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("DEBUG", default=not PRODUCTION)


def _secret_key() -> str:
    key = env("SECRET_KEY")
    # Django's own rule (check security.W009), made a refusal: a guessable key lets anyone
    # forge a signed-in session.
    if (
        PRODUCTION
        and key
        and (len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure-"))
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak for production ({len(key)} characters, "
            f"{len(set(key))} different): use at least 50 random characters, e.g. from "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set in production.")
    # A development key is generated once and kept, so sessions survive a restart.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production (MEDASSIST_ENV=production).")
    # Only the scheme is named back: the rest of the URL may hold the password.
    _database_scheme = env("DATABASE_URL").partition("://")[0]
    if _database_scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            "Production needs DATABASE_URL naming PostgreSQL (postgres://…), not SQLite; "
            + (f"it names {_database_scheme}." if _database_scheme else "it is not set.")
        )
    if not env("REDIS_URL"):
        raise ImproperlyConfigured("Production needs REDIS_URL for the Celery broker.")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    # HTTPS only: plain HTTP is redirected (except the health check, which a load balancer
    # may probe over HTTP), and browsers are told to use HTTPS for a year.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # Joining the browsers' preload list binds the whole domain to HTTPS for good: the
    # hospital decides that, so it is off unless set, and `check --deploy` is not told to
    # nag about it.
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Behind a proxy that terminates TLS, the header it sets to say the browser used HTTPS (e.g.
# X-Forwarded-Proto). Only name it when the proxy always sets or overwrites that header:
# otherwise a client could claim HTTPS itself.
_proxy_header = env("MEDASSIST_TRUSTED_PROXY_HEADER")
if _proxy_header:
    if not re.fullmatch(r"[A-Za-z0-9-]+", _proxy_header):
        raise ImproperlyConfigured(
            f"MEDASSIST_TRUSTED_PROXY_HEADER={_proxy_header!r} is not a header name "
            "(e.g. X-Forwarded-Proto)."
        )
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")

# Headers for every environment, so development sees what production does.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only the app's own files run, load and receive data: no inline script or style, no eval,
# no other origin, no framing (templates keep scripts and styles in static/; htmx is told
# not to inject its indicator style in base.html). data: and blob: images stay allowed for
# images a page's script makes in the browser (a decoded frame, a canvas export).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_htmx",
    "template_partials",
    "csp",
    "corsheaders",
    "medassist",
    "imaging",
    "diagnosis",
    "finetune",
]

MIDDLEWARE = [
    # First, so every log record of a request carries its id (and, once signed in, the user's).
    "medassist.logging.RequestIdMiddleware",
    # Answers CORS preflights before anything else can; does nothing unless origins are named
    # (MEDASSIST_CORS_ALLOWED_ORIGINS), and then only on the DICOMweb paths.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    # A NUL or other control character in the URL is answered 400 before any view runs.
    "medassist.security.ControlCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages for a signed-in user hold patient data: no browser or proxy keeps them.
    "medassist.security.NoStoreWhenSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Audits reads of patient data by the policy table, with the client address.
    "medassist.access.AccessAuditMiddleware",
]

ROOT_URLCONF = "medassist.urls"
WSGI_APPLICATION = "medassist.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% partialdef %} everywhere without a {% load %} in each template.
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "medassist.context_processors.roles",
            ],
        },
    },
]

DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'medassist.sqlite3'}")
# Connections are kept for a minute between requests, and checked before a request reuses
# one: after PostgreSQL restarts (or a proxy drops idle connections) the next request
# reconnects instead of failing with a 500.
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
# The database password on its own (usually DATABASE_PASSWORD_FILE, the file PostgreSQL's
# POSTGRES_PASSWORD_FILE reads too): when set it replaces any password in DATABASE_URL, so the
# URL holds no secret and the password needs no URL escaping.
DATABASE_PASSWORD = env("DATABASE_PASSWORD")
if DATABASE_PASSWORD:
    DATABASES["default"]["PASSWORD"] = DATABASE_PASSWORD
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: the app's queries are short index lookups, and once a table is
    # large their estimated cost passes PostgreSQL's JIT threshold, so each paid 25-30 ms of
    # compiling for a 5 ms plan (QIDO-RS searches 14 -> 42 ms from 10^5 to 10^6 studies).
    # Added to any server options DATABASE_URL names (``?options=...``).
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker write to the same file: WAL lets readers go on
    # while one writes, and IMMEDIATE transactions wait for the lock instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Sign-in and sessions ----------------------------------------------------------------
# Repeated wrong passwords lock the pair (user name, address) for a cool-off, never the user
# name alone: one attacker cannot lock a whole ward out, and a nurse on another computer can
# still sign in. django-axes counts the failures; medassist.signin audits every sign-in,
# failure and sign-out, shows the locked-out page, and signs out idle sessions (its module
# docstring states the rules). An administrator unlocks early in the admin (Access attempts)
# or with `manage.py axes_reset_username <name>` / `axes_reset_ip_username <ip> <name>`.
INSTALLED_APPS += ["axes", "medassist.signin"]
MIDDLEWARE += [
    "medassist.signin.middleware.IdleSignoutMiddleware",
    # Turns axes' lockout into medassist.signin's page; axes asks to be last.
    "axes.middleware.AxesMiddleware",
]
# Axes first: it refuses a locked-out pair before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
MEDASSIST_SIGNIN_FAILURE_LIMIT = env_int("MEDASSIST_SIGNIN_FAILURE_LIMIT", 5)
MEDASSIST_SIGNIN_COOLOFF_MINUTES = env_int("MEDASSIST_SIGNIN_COOLOFF_MINUTES", 15)
# Callables, so the MEDASSIST_ knobs above are the only ones to turn (tests too).
AXES_FAILURE_LIMIT = "medassist.signin.lockout.failure_limit"
AXES_COOLOFF_TIME = "medassist.signin.lockout.cooloff_time"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Tries while locked out are refused without being counted, so the time the page promises
# ("try again at 14:32") holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The same address the audit log records (a trusted proxy setup applies to both).
AXES_CLIENT_IP_CALLABLE = "medassist.services.client_ip"
AXES_LOCKOUT_CALLABLE = "medassist.signin.lockout.lockout_response"
# The audit log is the one record of sign-ins; axes keeps only the counters it locks by.
AXES_DISABLE_ACCESS_LOG = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# A signed-in computer left alone is signed out after this many minutes without activity
# (a page, a form, a click; the pages' automatic refreshes do not count). The page warns two
# minutes before.
MEDASSIST_IDLE_LOGOUT_MINUTES = env_float("MEDASSIST_IDLE_LOGOUT_MINUTES", 30)
if MEDASSIST_IDLE_LOGOUT_MINUTES <= 0:
    raise ImproperlyConfigured("MEDASSIST_IDLE_LOGOUT_MINUTES must be more than 0.")
# A session lasts at most a working shift after its last activity, and never outlives the
# browser: the cookie is dropped when the browser closes.
SESSION_COOKIE_AGE = int(env_float("MEDASSIST_SESSION_HOURS", 12) * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# In development WhiteNoise serves straight from static/; production serves collectstatic's.
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_ROOT.mkdir(parents=True, exist_ok=True)

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
MEDASSIST_MAX_UPLOAD_BYTES = env_int("MEDASSIST_MAX_UPLOAD_BYTES", 64 * 1024 * 1024)
# Refused before decoding: Rows x Columns x Frames x Samples per Pixel above this.
MEDASSIST_MAX_PIXELS = env_int("MEDASSIST_MAX_PIXELS", 1 << 28)
# A deflated file is inflated in chunks and refused past this (a deflate bomb).
MEDASSIST_MAX_INFLATED_BYTES = env_int("MEDASSIST_MAX_INFLATED_BYTES", 256 * 1024 * 1024)
MEDASSIST_MAX_BULK_REQUEST_BYTES = env_int("MEDASSIST_MAX_BULK_REQUEST_BYTES", 512 * 1024 * 1024)
MEDASSIST_MAX_ZIP_MEMBERS = env_int("MEDASSIST_MAX_ZIP_MEMBERS", 2000)
MEDASSIST_MAX_ZIP_UNCOMPRESSED_BYTES = env_int(
    "MEDASSIST_MAX_ZIP_UNCOMPRESSED_BYTES", 1024 * 1024 * 1024
)
MEDASSIST_MAX_STOW_BYTES = env_int("MEDASSIST_MAX_STOW_BYTES", 512 * 1024 * 1024)
# Lets a plain (no-JavaScript) folder upload send more than Django's default 100 files.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("MEDASSIST_MAX_BULK_FILES", 500)
# A pushed study goes to the AI once no new instance has arrived for this many seconds.
MEDASSIST_STUDY_QUIET_SECONDS = env_float("MEDASSIST_STUDY_QUIET_SECONDS", 10.0)

# --- DICOMweb and the OHIF viewer (docs/dicomweb.md) --------------------------------------
# The DICOMweb root as clients reach it (e.g. https://medassist.example.org/imaging/dicomweb):
# retrieve URLs and bulk data URIs start with it. Empty: built from each request's scheme,
# Host header and port.
MEDASSIST_DICOMWEB_BASE_URL = env("MEDASSIST_DICOMWEB_BASE_URL", "").strip().rstrip("/")
if MEDASSIST_DICOMWEB_BASE_URL:
    _base = urlsplit(MEDASSIST_DICOMWEB_BASE_URL)
    if _base.scheme not in {"http", "https"} or not _base.netloc or _base.query or _base.fragment:
        raise ImproperlyConfigured(
            f"MEDASSIST_DICOMWEB_BASE_URL={MEDASSIST_DICOMWEB_BASE_URL!r} is not an http(s) URL "
            "without query (e.g. https://medassist.example.org/imaging/dicomweb)."
        )
# Other origins whose pages may call DICOMweb from the browser (a viewer served elsewhere),
# comma-separated (https://viewer.example.org). Empty (the default): CORS is off. Only the
# DICOMweb paths answer CORS, and without cookies: such a viewer sends a token.
CORS_ALLOWED_ORIGINS = env_list("MEDASSIST_CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/imaging/dicomweb/" if CORS_ALLOWED_ORIGINS else r"^(?!)"
CORS_EXPOSE_HEADERS = ["Warning", "Content-Location"]
# The OHIF Viewer's built dist/ folder (`make ohif` fetches it); MedAssist serves it to
# doctors under /imaging/viewer/ohif/, reading this server's DICOMweb. Empty: OHIF is off.
MEDASSIST_OHIF_DIR = env("MEDASSIST_OHIF_DIR", "")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

# The cache is shared by every process (web, workers, the C-STORE listener): Redis in the
# production shape, files under var/ on the embedded defaults.
if env("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("REDIS_URL"),
            "KEY_PREFIX": "medassist",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task (a training run), or Redis would hand an unacked
        # training job to a second worker while the first is still on it.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 3600),
    }
else:
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    # The host names nothing here, but without one Kombu warns "No hostname was supplied"
    # each time a process describes its broker connection (every worker and beat start).
    CELERY_BROKER_URL = "filesystem://localhost/"
    # Kombu's filesystem transport, writing each message whole before a consumer can see it
    # (medassist/broker.py): the stock one lets a worker read a half-written message and die.
    CELERY_BROKER_TRANSPORT = "medassist.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Kombu's fan-out state; without this it lands in the current directory.
        "control_folder": str(BROKER_DIR / "control"),
        # The transport polls its folder; the default second would add up to 1 s per job.
        "polling_interval": 0.1,
    }
    # The filesystem transport has no fan-out for remote control; job state lives in our
    # own tables, so nothing is lost without it.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Inference and training run on their own queues, so each can have its own (GPU) workers.
CELERY_TASK_ROUTES = {
    "diagnosis.tasks.suggestion_compute": {"queue": "inference"},
    "diagnosis.tasks.saliency_compute": {"queue": "inference"},
    "diagnosis.tasks.saliency_compute_many": {"queue": "inference"},
    "diagnosis.tasks.rescore_run": {"queue": "inference"},
    "finetune.tasks.training_run_execute": {"queue": "training"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat reads its crontabs in this zone; Celery alone ignores Django's TIME_ZONE and uses UTC.
CELERY_TIMEZONE = TIME_ZONE

RETRAIN_CRON = env("MEDASSIST_RETRAIN_CRON", "0 2 * * *")
_minute, _hour, _dom, _month, _dow = RETRAIN_CRON.split()
# The database is the source of truth for work; messages are wake-ups. Every sweep (default
# each minute, on the default queue) re-sends the wake-ups of work that waits too long or was
# held by a worker that is gone, and marks training runs without a heartbeat as failed.
MEDASSIST_SWEEP_SECONDS = env_int("MEDASSIST_SWEEP_SECONDS", 60)
# How far back a sweep looks for stored images that never got their inference request.
MEDASSIST_SWEEP_WINDOW_HOURS = env_int("MEDASSIST_SWEEP_WINDOW_HOURS", 24)
CELERY_BEAT_SCHEDULE = {
    "sweep-inference": {
        "task": "diagnosis.tasks.inference_sweep",
        "schedule": float(MEDASSIST_SWEEP_SECONDS),
    },
    "sweep-training": {
        "task": "finetune.tasks.training_sweep",
        "schedule": float(MEDASSIST_SWEEP_SECONDS),
    },
    "sweep-pacs": {
        "task": "diagnosis.pacs.tasks.pacs_sweep",
        "schedule": float(MEDASSIST_SWEEP_SECONDS),
    },
    # Links the audit events of the last minute into the hash chain (manage.py audit_verify).
    "audit-chain": {"task": "medassist.tasks.audit_chain", "schedule": 60.0},
    "retrain-when-new-labels": {
        "task": "finetune.tasks.training_schedule_tick",
        "schedule": crontab(
            minute=_minute, hour=_hour, day_of_month=_dom, month_of_year=_month, day_of_week=_dow
        ),
    },
}

# --- Models ------------------------------------------------------------------------------
# Every knob a hospital (or a test) turns to make training bigger or smaller.
# 128 px keeps demo training to seconds on 2 CPU cores; a hospital with a GPU sets 224, the
# backbone's pretraining size (the whole inference path then keeps more of the model's
# throughput on a CPU too: see bench/README.md).
MEDASSIST_IMAGE_SIZE = env_int("MEDASSIST_IMAGE_SIZE", 128)
MEDASSIST_TRAIN_EPOCHS = env_int("MEDASSIST_TRAIN_EPOCHS", 3)
MEDASSIST_TRAIN_BATCH_SIZE = env_int("MEDASSIST_TRAIN_BATCH_SIZE", 16)
MEDASSIST_TRAIN_LR = env_float("MEDASSIST_TRAIN_LR", 1e-3)
MEDASSIST_TRAIN_SEED = env_int("MEDASSIST_TRAIN_SEED", 0)
MEDASSIST_TORCH_THREADS = env_int("MEDASSIST_TORCH_THREADS", 0)  # 0: torch's default
# Torch threads of each web process (0: MEDASSIST_TORCH_THREADS). A web server runs several
# processes (gunicorn's workers) that answer nurses at the same time; with torch's default of
# a thread per core in each, two requests at once on two cores run four spinning threads and
# wait on each other (the meaning match's p95 0.05 s -> 0.8 s: docs/triage.md). One each.
MEDASSIST_WEB_TORCH_THREADS = env_int("MEDASSIST_WEB_TORCH_THREADS", 1)
if MEDASSIST_WEB_TORCH_THREADS < 0:
    raise ImproperlyConfigured(
        f"MEDASSIST_WEB_TORCH_THREADS={MEDASSIST_WEB_TORCH_THREADS}: give a number of threads "
        "(1 or more), or 0 for MEDASSIST_TORCH_THREADS."
    )
# The gate (finetune/gate.py): both versions measured on the same frozen test cases in the
# same run; promoted only when every criterion passes. On real test cases when the training
# data held real cases. The paired bootstrap 95% interval of metric(candidate) -
# metric(champion) must have its lower bound >= -MARGIN (metric: macro_auroc, macro_f1 or
# accuracy; RESAMPLES draws, seeded by MEDASSIST_TRAIN_SEED, so the same evidence gives the
# same decision).
MEDASSIST_GATE_METRIC = env("MEDASSIST_GATE_METRIC", "macro_auroc")
MEDASSIST_GATE_MARGIN = env_float("MEDASSIST_GATE_MARGIN", 0.02)
MEDASSIST_GATE_RESAMPLES = env_int("MEDASSIST_GATE_RESAMPLES", 2000)
if MEDASSIST_GATE_METRIC not in {"macro_auroc", "macro_f1", "accuracy"}:
    raise ImproperlyConfigured(
        f"MEDASSIST_GATE_METRIC={MEDASSIST_GATE_METRIC!r} is not one of macro_auroc, macro_f1, "
        "accuracy."
    )
# Fewer decision test cases than this for any finding (ESI level for triage): refused.
MEDASSIST_GATE_MIN_CASES_PER_FINDING = env_int("MEDASSIST_GATE_MIN_CASES_PER_FINDING", 20)
# No finding's sensitivity may drop by more than this (a finding's own margin, set on the
# findings page, wins).
MEDASSIST_GATE_SENSITIVITY_MARGIN = env_float("MEDASSIST_GATE_SENSITIVITY_MARGIN", 0.05)
# The candidate's expected calibration error on the decision cases (judged from
# MEDASSIST_CALIBRATION_MIN_CASES cases on).
MEDASSIST_GATE_MAX_ECE = env_float("MEDASSIST_GATE_MAX_ECE", 0.10)
# On: a candidate that passes waits for a second ML admin (not the one who started the run)
# to approve its promotion.
MEDASSIST_GATE_SECOND_APPROVAL = env_bool("MEDASSIST_GATE_SECOND_APPROVAL", False)
# A finding added to the vocabulary joins the model once it has this many labels (and
# MEDASSIST_GATE_MIN_CASES_PER_FINDING frozen test cases); until then it is "collecting".
MEDASSIST_FINDING_MIN_LABELS = env_int("MEDASSIST_FINDING_MIN_LABELS", 30)
# A version's scope (model card: modalities, body parts) is what its training data holds at
# least this many cases of; a handful of cases does not widen it. Modalities of one family
# ("CR+DX": computed and digital radiographs) count together and enter the scope together.
MEDASSIST_SCOPE_MIN_CASES = env_int("MEDASSIST_SCOPE_MIN_CASES", 20)
MEDASSIST_SCOPE_FAMILIES = [
    sorted({m.strip().upper() for m in family.split("+") if m.strip()})
    for family in env_list("MEDASSIST_SCOPE_FAMILIES", "CR+DX")
]
# Micro-batching of image inference: how many waiting images one forward pass takes, how long
# a worker waits for more to arrive, and the decoding threads that overlap with compute.
# "auto" uses CUDA when the worker has a GPU, else the CPU; "cpu" or "cuda" force one.
MEDASSIST_INFERENCE_DEVICE = env("MEDASSIST_INFERENCE_DEVICE", "auto")
MEDASSIST_INFERENCE_MAX_BATCH = env_int("MEDASSIST_INFERENCE_MAX_BATCH", 32)
MEDASSIST_INFERENCE_MAX_WAIT_MS = env_int("MEDASSIST_INFERENCE_MAX_WAIT_MS", 20)
MEDASSIST_INFERENCE_DECODE_THREADS = env_int("MEDASSIST_INFERENCE_DECODE_THREADS", 0)  # 0: auto
# A poison input is tried this many times (with backoff), then shown as failed.
MEDASSIST_INFERENCE_MAX_ATTEMPTS = env_int("MEDASSIST_INFERENCE_MAX_ATTEMPTS", 3)
# A request "running" longer than this belonged to a lost worker and is claimed again.
MEDASSIST_INFERENCE_STALE_SECONDS = env_int("MEDASSIST_INFERENCE_STALE_SECONDS", 300)
# Re-scoring the unreviewed studies on a new champion runs in steps of this many images: each
# step opens their requests, runs them with whatever else waits, then records its progress
# and heartbeat (a re-score silent for the stale time above lost its worker and is resumed).
MEDASSIST_RESCORE_CHUNK = env_int("MEDASSIST_RESCORE_CHUNK", 256)
# A training worker beats this often; a running run silent for the stale time is failed.
MEDASSIST_TRAINING_HEARTBEAT_SECONDS = env_int("MEDASSIST_TRAINING_HEARTBEAT_SECONDS", 30)
MEDASSIST_TRAINING_STALE_SECONDS = env_int("MEDASSIST_TRAINING_STALE_SECONDS", 180)
# A silent image run with an epoch checkpoint is handed to another worker this many times
# (it goes on from that epoch, same random state); after that it is failed.
MEDASSIST_TRAINING_MAX_RESUMES = env_int("MEDASSIST_TRAINING_MAX_RESUMES", 2)
# A de-identified dataset export is written during the request: at most this many images.
MEDASSIST_EXPORT_MAX_IMAGES = env_int("MEDASSIST_EXPORT_MAX_IMAGES", 2000)
# Bringing existing labels (finetune/label_import.py): the most rows one labels CSV may hold,
# and the most stored images its rows may name. Every label is written during the request
# (or the command), one review each: 200 labels took 5.4 s on 2 shared cores (and storing 200
# small images 6.8 s), so 1,000 labels and their images stay within a web request.
MEDASSIST_LABEL_IMPORT_MAX_ROWS = env_int("MEDASSIST_LABEL_IMPORT_MAX_ROWS", 1000)
# How a study's suggestion combines its instances': "max" (any abnormal image) or "mean".
MEDASSIST_STUDY_AGGREGATION = env("MEDASSIST_STUDY_AGGREGATION", "max")
# Triage text model fine-tuning (demo_seed trains the first triage champion with these).
MEDASSIST_TRIAGE_TRAIN_NOTES = env_int("MEDASSIST_TRIAGE_TRAIN_NOTES", 600)
MEDASSIST_TRIAGE_EPOCHS = env_int("MEDASSIST_TRIAGE_EPOCHS", 2)
MEDASSIST_TRIAGE_BATCH_SIZE = env_int("MEDASSIST_TRIAGE_BATCH_SIZE", 16)
MEDASSIST_TRIAGE_LR = env_float("MEDASSIST_TRIAGE_LR", 5e-5)
# Which triage model training builds: "frozen-encoder" (a head on the frozen all-MiniLM-L6-v2
# embedding of the complaint and the vital signs as numbers; served from the meaning match's
# own encoder pass, so a suggestion costs no second pass; trained in seconds) or "fine-tuned"
# (the whole encoder fine-tuned on the note with its vitals as text, with the EPOCHS and LR
# above; minutes to train and a second encoder pass per suggestion). docs/triage.md compares
# them. A champion of the other kind is not continued: the next model starts afresh.
MEDASSIST_TRIAGE_MODEL = env("MEDASSIST_TRIAGE_MODEL", "frozen-encoder")
if MEDASSIST_TRIAGE_MODEL not in ("frozen-encoder", "fine-tuned"):
    raise ImproperlyConfigured(
        f"MEDASSIST_TRIAGE_MODEL must be frozen-encoder or fine-tuned, got "
        f"{MEDASSIST_TRIAGE_MODEL!r}."
    )
# The frozen-encoder head's training: epochs over the notes' embeddings, and AdamW's rate.
MEDASSIST_TRIAGE_HEAD_EPOCHS = env_int("MEDASSIST_TRIAGE_HEAD_EPOCHS", 100)
MEDASSIST_TRIAGE_HEAD_LR = env_float("MEDASSIST_TRIAGE_HEAD_LR", 3e-3)
# The longest chief complaint the intake form accepts (characters): a complaint is what brought
# the patient in, and the rules and the text model read all of it within the request.
MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS = env_int("MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS", 2000)
# How often each ESI level's vital signs are taken again, as "level:minutes" pairs; 0 means
# continuous care at the bedside (the board flags nobody). The board marks a patient overdue
# once the last vital signs are older than this. The defaults are the nursing reassessment
# times of the Canadian Triage and Acuity Scale (CTAS implementation guidelines: level 1
# continuous, 2 every 15 min, 3 every 30, 4 every 60, 5 every 120), applied to ESI levels,
# since the ESI handbook leaves reassessment to each department: set your own policy here.
# Read and checked by diagnosis.triage.selectors.reassess_intervals (docs/triage.md).
MEDASSIST_TRIAGE_REASSESS_MINUTES = env(
    "MEDASSIST_TRIAGE_REASSESS_MINUTES", "1:0,2:15,3:30,4:60,5:120"
)
# Whether web processes run the triage text model themselves. On: each web process (gunicorn,
# runserver) loads torch, transformers and the triage champion once when it starts
# (medassist/wsgi.py), never inside a request, and suggests from the rules and the model;
# that costs each process about 440 MiB of memory. Off: web processes never import torch or
# transformers, and the suggestion is the ESI rules' alone, saying so to the nurse.
# manage.py commands and Celery workers never load it when they start, either way.
MEDASSIST_WEB_SERVES_TRIAGE_MODEL = env_bool("MEDASSIST_WEB_SERVES_TRIAGE_MODEL", True)
# Encounter diagnosis model (docs/encounter_diagnosis.md). The groups it ranks: empty for the
# WHO ICD-10 blocks, or the hospital's own ranges ("I20-I25,J09-J18,J44-J44"); a code in none
# of them counts as "other". A group with fewer training cases than MIN_CASES, or fewer frozen
# test cases than the gate's minimum, is pooled into "other" until it has them.
MEDASSIST_ENCOUNTER_DX_GROUPS = env_list("MEDASSIST_ENCOUNTER_DX_GROUPS", "")
MEDASSIST_ENCOUNTER_DX_MIN_CASES = env_int("MEDASSIST_ENCOUNTER_DX_MIN_CASES", 20)
MEDASSIST_ENCOUNTER_DX_EPOCHS = env_int("MEDASSIST_ENCOUNTER_DX_EPOCHS", 3)
MEDASSIST_ENCOUNTER_DX_BATCH_SIZE = env_int("MEDASSIST_ENCOUNTER_DX_BATCH_SIZE", 16)
MEDASSIST_ENCOUNTER_DX_LR = env_float("MEDASSIST_ENCOUNTER_DX_LR", 5e-5)
MEDASSIST_ENCOUNTER_DX_HEAD_LR = env_float("MEDASSIST_ENCOUNTER_DX_HEAD_LR", 3e-3)
# Its gate: top-3 recall instead of MEDASSIST_GATE_METRIC, with its own minimums: frozen test
# cases per group, the margin of the paired difference, a floor under the candidate's top-3
# recall, and how far one group's top-3 recall may drop.
MEDASSIST_ENCOUNTER_DX_GATE_MIN_CASES_PER_GROUP = env_int(
    "MEDASSIST_ENCOUNTER_DX_GATE_MIN_CASES_PER_GROUP", 10
)
MEDASSIST_ENCOUNTER_DX_GATE_MARGIN = env_float("MEDASSIST_ENCOUNTER_DX_GATE_MARGIN", 0.02)
MEDASSIST_ENCOUNTER_DX_GATE_MIN_TOP3_RECALL = env_float(
    "MEDASSIST_ENCOUNTER_DX_GATE_MIN_TOP3_RECALL", 0.5
)
MEDASSIST_ENCOUNTER_DX_GATE_GROUP_MARGIN = env_float(
    "MEDASSIST_ENCOUNTER_DX_GATE_GROUP_MARGIN", 0.10
)
# An encounter's studies: its patient's studies dated from the day it opened to this many days
# after (their image findings are inputs).
MEDASSIST_ENCOUNTER_DX_STUDY_DAYS = env_int("MEDASSIST_ENCOUNTER_DX_STUDY_DAYS", 1)
# Whether web processes run the encounter diagnosis model (the encounter page asks for the
# suggestion as a fragment once it has shown; off: the page says the model is not served).
MEDASSIST_WEB_SERVES_ENCOUNTER_DX_MODEL = env_bool("MEDASSIST_WEB_SERVES_ENCOUNTER_DX_MODEL", True)
# Review workflow: two independent reads per case (disagreements go to adjudication), several
# findings per image, and the worklist's page size and refresh interval.
MEDASSIST_DOUBLE_READING = env_bool("MEDASSIST_DOUBLE_READING", False)
MEDASSIST_MULTI_LABEL = env_bool("MEDASSIST_MULTI_LABEL", False)
MEDASSIST_WORKLIST_PAGE_SIZE = env_int("MEDASSIST_WORKLIST_PAGE_SIZE", 25)
# The worklist counts matching studies up to this many; past it the page says "more than"
# and pages go on while studies do (counting them all costs what the table holds).
MEDASSIST_WORKLIST_COUNT_CAP = env_int("MEDASSIST_WORKLIST_COUNT_CAP", 10000)
# A worklist narrowed by modality, finding, dates or "mine" counts its studies among this
# many of its status, in worklist order (each checked one by one); its numbered pages cover
# them and Next goes on past them. Counting up to the cap instead walked every study of the
# status when few matched (a rare modality: 500 ms at 10^6 studies).
MEDASSIST_WORKLIST_COUNT_WINDOW = env_int("MEDASSIST_WORKLIST_COUNT_WINDOW", 2000)
MEDASSIST_WORKLIST_POLL_SECONDS = env_int("MEDASSIST_WORKLIST_POLL_SECONDS", 10)
# The statistics page shows this many weeks by default (the reader can pick 4, 12, 26, 52 or
# 104): its cost follows the weeks shown, not the years of reviews kept.
MEDASSIST_STATS_WEEKS = env_int("MEDASSIST_STATS_WEEKS", 12)
# A suggestion whose top two probabilities are closer than this says "needs attention".
MEDASSIST_ATTENTION_MARGIN = env_float("MEDASSIST_ATTENTION_MARGIN", 0.2)
# Share of training patients held back to fit the temperature (calibration).
MEDASSIST_CALIBRATION_FRACTION = env_float("MEDASSIST_CALIBRATION_FRACTION", 0.2)
# Fewer held-back cases than this: no calibration (temperature 1), no ECE figure ("too few
# cases to measure calibration"), all cases train. With enough, the temperature is fitted on
# half the held-back patients and kept only if it lowers the ECE of the other half.
MEDASSIST_CALIBRATION_MIN_CASES = env_int("MEDASSIST_CALIBRATION_MIN_CASES", 100)
# Demo data (manage.py demo_seed): how many synthetic patients and images it writes.
MEDASSIST_DEMO_PATIENTS = env_int("MEDASSIST_DEMO_PATIENTS", 70)  # enough to calibrate
MEDASSIST_DEMO_IMAGES_PER_PATIENT = env_int("MEDASSIST_DEMO_IMAGES_PER_PATIENT", 3)
# 0.3 of 70 patients x 3 images: 21 test cases per finding, above the gate's minimum of 20.
MEDASSIST_DEMO_TEST_FRACTION = env_float("MEDASSIST_DEMO_TEST_FRACTION", 0.3)
MEDASSIST_DEMO_IMAGE_PIXELS = env_int("MEDASSIST_DEMO_IMAGE_PIXELS", 256)
# SYNTHETIC encounters with final diagnoses the full demo writes to train the first encounter
# diagnosis champion.
MEDASSIST_DEMO_ENCOUNTERS = env_int("MEDASSIST_DEMO_ENCOUNTERS", 400)

# --- DICOM C-STORE listener (manage.py dicom_scp) ----------------------------------------
MEDASSIST_SCP_AE_TITLE = env("MEDASSIST_SCP_AE_TITLE", "MEDASSIST")
MEDASSIST_SCP_PORT = env_int("MEDASSIST_SCP_PORT", 11112)
MEDASSIST_SCP_BIND = env("MEDASSIST_SCP_BIND", "127.0.0.1")
# Calling AE titles let in; empty refuses every association (safe by default).
MEDASSIST_SCP_ALLOWED_AE_TITLES = env_list("MEDASSIST_SCP_ALLOWED_AE_TITLES", "")
MEDASSIST_SCP_ALLOW_ANY = env_bool("MEDASSIST_SCP_ALLOW_ANY", False)
MEDASSIST_SCP_MAX_PDU = env_int("MEDASSIST_SCP_MAX_PDU", 131072)  # bytes, 0 = no limit
MEDASSIST_SCP_MAX_ASSOCIATIONS = env_int("MEDASSIST_SCP_MAX_ASSOCIATIONS", 10)
# Listener processes sharing the port (SO_REUSEPORT); one Python process uses one core.
MEDASSIST_SCP_PROCESSES = env_int("MEDASSIST_SCP_PROCESSES", 1)
MEDASSIST_SCP_ACSE_TIMEOUT = env_float("MEDASSIST_SCP_ACSE_TIMEOUT", 30.0)  # seconds
MEDASSIST_SCP_DIMSE_TIMEOUT = env_float("MEDASSIST_SCP_DIMSE_TIMEOUT", 60.0)  # seconds
MEDASSIST_SCP_NETWORK_TIMEOUT = env_float("MEDASSIST_SCP_NETWORK_TIMEOUT", 60.0)  # idle, s

# --- Results back to the PACS (diagnosis/pacs, docs/pacs_export.md) ----------------------
# off: nothing is sent; auto: a doctor's final review is sent once it commits; manual: the
# doctor presses "Send to PACS" on the case page.
MEDASSIST_PACS_SEND = env("MEDASSIST_PACS_SEND", "off").lower()
if MEDASSIST_PACS_SEND not in {"off", "auto", "manual"}:
    raise ImproperlyConfigured(
        f"MEDASSIST_PACS_SEND={MEDASSIST_PACS_SEND!r} is not one of off, auto, manual."
    )
MEDASSIST_PACS_HOST = env("MEDASSIST_PACS_HOST", "")
MEDASSIST_PACS_PORT = env_int("MEDASSIST_PACS_PORT", 104)
MEDASSIST_PACS_AE_TITLE = env("MEDASSIST_PACS_AE_TITLE", "PACS")  # the archive's (called)
MEDASSIST_PACS_CALLING_AE_TITLE = env("MEDASSIST_PACS_CALLING_AE_TITLE", "MEDASSIST")  # ours
if MEDASSIST_PACS_SEND != "off" and not MEDASSIST_PACS_HOST:
    raise ImproperlyConfigured(
        f"MEDASSIST_PACS_SEND={MEDASSIST_PACS_SEND} needs MEDASSIST_PACS_HOST (and its port "
        "and AE title) to know where to send."
    )
# A Secondary Capture of the heatmap on the image, for archives that cannot show an SR.
MEDASSIST_PACS_SECONDARY_CAPTURE = env_bool("MEDASSIST_PACS_SECONDARY_CAPTURE", False)
MEDASSIST_PACS_MAX_ATTEMPTS = env_int("MEDASSIST_PACS_MAX_ATTEMPTS", 6)
# The wait after a failed attempt, doubled after each one, at most an hour.
MEDASSIST_PACS_RETRY_SECONDS = env_int("MEDASSIST_PACS_RETRY_SECONDS", 60)
MEDASSIST_PACS_TIMEOUT_SECONDS = env_float("MEDASSIST_PACS_TIMEOUT_SECONDS", 30.0)

# One configuration for web processes and Celery workers (medassist/celery.py applies it):
# JSON lines in production, readable text in development, each record with its request's or
# task's id and the user's id (medassist/logging.py says what a record holds, and what never).
LOG_LEVEL = env("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "medassist.logging.ContextFilter"},
        "expected_refusals": {"()": "medassist.logging.ExpectedRefusalFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "medassist.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if PRODUCTION else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django's own handlers for its loggers go: the root handler prints their records
        # once (with Django's, every record in development came out twice).
        "django": {"handlers": [], "level": LOG_LEVEL},
        # A 403 or 400 is one line, without the traceback Django attaches.
        "django.request": {"filters": ["expected_refusals"]},
    },
}

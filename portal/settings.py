"""The portal's only settings module: everything that varies comes from the environment.

The embedded defaults (SQLite, a filesystem Celery broker, DEBUG on) make a fresh clone
run with no services; production sets DEBUG=0 and must then provide real secrets.
"""

import os
from pathlib import Path

import dj_database_url
import plotly
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def env_list(name: str, default: str) -> list[str]:
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
if not DEBUG and (not SECRET_KEY or not FIELD_ENCRYPTION_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY and FIELD_ENCRYPTION_KEY are required with DEBUG=0"
    )
# Development-only fallbacks; never used when DEBUG is off (see above).
SECRET_KEY = (
    SECRET_KEY or "dev-insecure-3f1c9b7e8d2a4c6f0e5b1a9d7c3e8f2b6a4d0c9e1f7b3a5"
)
FIELD_ENCRYPTION_KEY = (
    FIELD_ENCRYPTION_KEY or "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="
)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_htmx",
    "template_partials",
    "apps.core",
    "apps.accounts",
    "apps.catalogue",
    "apps.usecases",
    "apps.framework",
    "apps.risk",
    "apps.reviews",
    "apps.endpoints",
    "apps.notify",
    "apps.portfolio",
    "apps.playground",
    "apps.gateway",
    "apps.lifecycle",
    "apps.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.SecurityHeadersMiddleware",  # CSP and Permissions-Policy
    "apps.core.middleware.DatabaseBusyMiddleware",  # full connection pool: 503
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.middleware.SessionTimeoutMiddleware",  # idle and absolute limits
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Weak ETags and 304s on reads under /api/v1/ (innermost: hashes the final body).
    "apps.api.etag.ApiConditionalGetMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "apps.accounts.context_processors.roles",
                "apps.notify.context_processors.unread_notifications",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_health_checks=True,
    )
}


def env_number(name: str, default: str, *, minimum: float) -> float:
    raw = os.environ.get(name, default)
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g}, not {raw!r}")
    return value


if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # Under ASGI each request runs in a thread of its own, so connections kept
    # per thread (CONN_MAX_AGE) pile up. PostgreSQL gets one bounded pool per
    # process instead (docs/operations.md, "Database connections").
    DB_POOL_MAX = int(env_number("DB_POOL_MAX", "10", minimum=0))
    DB_POOL_MIN = int(env_number("DB_POOL_MIN", "0", minimum=0))
    DB_POOL_TIMEOUT = env_number("DB_POOL_TIMEOUT", "10", minimum=0.1)
    DB_CONN_MAX_AGE = int(env_number("DB_CONN_MAX_AGE", "0", minimum=0))
    postgres = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if postgres and DB_POOL_MAX:
        if DB_POOL_MIN > DB_POOL_MAX:
            raise ImproperlyConfigured("DB_POOL_MIN must not exceed DB_POOL_MAX")
        if DB_CONN_MAX_AGE:
            raise ImproperlyConfigured(
                "DB_CONN_MAX_AGE needs DB_POOL_MAX=0: a pool keeps connections itself"
            )
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": DB_POOL_MIN,
            "max_size": DB_POOL_MAX,
            # A request waits this long for a free connection, then gets a 503.
            "timeout": DB_POOL_TIMEOUT,
        }
    DATABASES["default"]["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Password sign-ins are throttled per account and per address (apps/accounts/throttle.py).
AUTHENTICATION_BACKENDS = [
    "apps.accounts.throttle.ThrottledModelBackend",
    # Single sign-on; answers only the OpenID callback, and only with OIDC_ISSUER set.
    "apps.accounts.oidc.OidcBackend",
]
SIGN_IN_FAILURE_LIMIT = int(env_number("SIGN_IN_FAILURE_LIMIT", "5", minimum=1))
# One address fails for many people behind a NAT or proxy, so its limit is higher.
SIGN_IN_ADDRESS_FAILURE_LIMIT = int(
    env_number("SIGN_IN_ADDRESS_FAILURE_LIMIT", "30", minimum=1)
)
# Failures count within this window; a lockout lasts as long, then expires by itself
# (so even the break-glass superuser is never locked out for good).
SIGN_IN_LOCKOUT_SECONDS = int(env_number("SIGN_IN_LOCKOUT_SECONDS", "900", minimum=1))
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Single sign-on with OpenID Connect (apps/accounts/oidc.py, docs/sign-in.md): off
# unless OIDC_ISSUER is set. Endpoints come from the issuer's discovery document.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip().rstrip("/")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "your company account")
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_RP_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_SIGN_ALGO", "RS256")
OIDC_TOKEN_USE_BASIC_AUTH = env_bool("OIDC_TOKEN_USE_BASIC_AUTH", False)
# The claim listing the user's groups, and the groups mapped to roles and teams:
# "idp-group=role,other-group=role" and "idp-group=team-slug" (or JSON objects).
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
OIDC_ROLE_MAP = os.environ.get("OIDC_ROLE_MAP", "")
OIDC_TEAM_MAP = os.environ.get("OIDC_TEAM_MAP", "")
# The provider's addresses pass the outbound guard (apps/core/http.py); private
# networks only when listed here (an on-premises Keycloak, say).
OIDC_ALLOWED_NETWORKS = env_list("OIDC_ALLOWED_NETWORKS", "")
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True  # the hint for the provider's end_session_endpoint
OIDC_CLOCK_SKEW_SECONDS = 60
# Off: only superusers sign in with a password (break-glass; docs/sign-in.md).
LOCAL_PASSWORD_SIGN_IN = env_bool("LOCAL_PASSWORD_SIGN_IN", True)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The charts use only bar, pie and scatter traces: plotly.js's "basic" bundle (a
# quarter of the full one; package.json, installed by `make`) is served when present,
# else the full bundle the Python package ships. Templates load it by PLOTLY_JS.
_PLOTLY_BASIC = BASE_DIR / "node_modules" / "plotly.js-basic-dist-min"
PLOTLY_JS = (
    "plotly/plotly-basic.min.js"
    if (_PLOTLY_BASIC / "plotly-basic.min.js").is_file()
    else "plotly/plotly.min.js"
)
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js comes from npm or the Python package, so no copy lives in the repository.
    (
        "plotly",
        _PLOTLY_BASIC
        if PLOTLY_JS.endswith("basic.min.js")
        else Path(plotly.__file__).parent / "package_data",
    ),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Security: strict by default once DEBUG is off; `check --deploy` is clean.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Only our own static files run or style a page: htmx, plotly.js and the scripts in
# static/js are served from STATIC_URL, and no template has an inline script or style.
# Two style hashes serve plotly.js: an empty <style> (it then adds its rules through
# the CSSOM, which the policy does not govern) and the maplibre-gl rules it inserts
# when loaded (plotly 7.1; tests/core/test_csp_browser.py shows a changed hash).
PLOTLY_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' "
    "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='"
)
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    f"default-src 'self'; script-src 'self'; style-src 'self' {PLOTLY_STYLE_HASHES}; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)
PERMISSIONS_POLICY = os.environ.get(
    "PERMISSIONS_POLICY",
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "accelerometer=(), gyroscope=(), magnetometer=(), browsing-topics=()",
)
# A session ends after this long without a request, and SESSION_COOKIE_AGE after
# sign-in whatever the activity (apps/core/middleware.py).
SESSION_IDLE_TIMEOUT_SECONDS = int(
    env_number("SESSION_IDLE_TIMEOUT_SECONDS", str(8 * 3600), minimum=60)
)
SESSION_COOKIE_AGE = 14 * 24 * 3600
# /api/schema/ and /api/docs/ for signed-in users only, unless set.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)
# X-Forwarded-Proto is believed only behind a proxy that sets it (and strips a
# client's own); otherwise any client could claim HTTPS.
TRUST_PROXY_SSL_HEADER = env_bool("TRUST_PROXY_SSL_HEADER", False)
if TRUST_PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ai-portal@localhost")
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://localhost:8000")

# A shared cache (Redis) makes API throttling budgets hold across processes.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery: a filesystem broker needs no server; CI and compose point it at Redis.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    # The transport expects its folders; a fresh clone has none yet.
    for _folder in (_broker_dir, VAR_DIR / "celery-control"):
        _folder.mkdir(parents=True, exist_ok=True)
    # kombu's own filesystem transport can lose a message read mid-write.
    CELERY_BROKER_TRANSPORT = "apps.core.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
        # Look for new tasks often: a backlog longer than a poll interval would
        # have every queued poll taken over by the next claim.
        "polling_interval": 0.1,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves it to be redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apps.api.permissions.TokenScope",
    ],
    # JSON only: nested fields (workloads, targets) have no form encoding, and the
    # schema lists what the parsers accept (docs/api.md).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.throttling.PerTokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "per_token": os.environ.get("API_THROTTLE_RATE", "600/minute"),
        "playground": os.environ.get("PLAYGROUND_THROTTLE_RATE", "30/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "apps.api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI Portfolio Portal API",
    "DESCRIPTION": "Use-cases, assessments, decisions, catalogue, endpoints, usage and spend.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # Without deep links an operation's path is text, not a link inside its button.
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "UseCaseStatusEnum": "apps.usecases.models.UseCaseStatus",
        "AssessmentOutcomeEnum": "apps.framework.models.Outcome",
        "TaskTypeEnum": "apps.usecases.models.TaskType",
        "DecisionOutcomeEnum": "apps.reviews.models.Decision.Outcome",
        "PatternEnum": "apps.reviews.models.Pattern",
        "EventKindEnum": "apps.core.events.EventKind",
        "EuAiActTierEnum": "apps.risk.models.EuTier",
        "CharterRiskEnum": "apps.risk.rules.CHARTER_RISKS",
        "HostingEnum": "apps.risk.rules.HOSTING",
        "ComparisonStatusEnum": "apps.lifecycle.models.Comparison.Status",
        "ModelLifecycleStatusEnum": "apps.catalogue.models.CatalogModel.LifecycleStatus",
    },
    # Error responses, 304s and ?format=csv on every operation (apps/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.api.schema.describe_errors",
    ],
}

# Outbound calls to serving endpoints: loopback and private ranges only when listed.
ENDPOINT_ALLOWED_NETWORKS = env_list(
    "ENDPOINT_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128" if DEBUG else ""
)
ENDPOINT_TIMEOUT_SECONDS = float(os.environ.get("ENDPOINT_TIMEOUT_SECONDS", "10"))
ENDPOINT_COLLECT_CONCURRENCY = int(os.environ.get("ENDPOINT_COLLECT_CONCURRENCY", "32"))
ENDPOINT_RETRY_MAX = int(os.environ.get("ENDPOINT_RETRY_MAX", "3"))
ENDPOINT_RETRY_BACKOFF_SECONDS = float(
    os.environ.get("ENDPOINT_RETRY_BACKOFF_SECONDS", "5")
)

# Notifications (apps/notify, docs/notifications.md). Webhook URLs pass the same
# SSRF guard as endpoints; their own allowlist, defaulting to the endpoints' one.
NOTIFY_ALLOWED_NETWORKS = env_list(
    "NOTIFY_ALLOWED_NETWORKS", ",".join(ENDPOINT_ALLOWED_NETWORKS)
)
NOTIFY_TIMEOUT_SECONDS = float(os.environ.get("NOTIFY_TIMEOUT_SECONDS", "10"))
# Attempts after the first, each waiting twice as long as the one before.
NOTIFY_RETRY_MAX = int(os.environ.get("NOTIFY_RETRY_MAX", "5"))
NOTIFY_RETRY_BACKOFF_SECONDS = float(
    os.environ.get("NOTIFY_RETRY_BACKOFF_SECONDS", "30")
)
# Gateway refusals of one use-case in one minute that make a "spiking" event.
NOTIFY_REFUSAL_SPIKE_PER_MINUTE = int(
    os.environ.get("NOTIFY_REFUSAL_SPIKE_PER_MINUTE", "20")
)
# A poll task is stopped past these (seconds); paginated reports fetch page by page,
# each fetch within ENDPOINT_TIMEOUT_SECONDS.
ENDPOINT_TASK_SOFT_TIME_LIMIT = int(
    os.environ.get("ENDPOINT_TASK_SOFT_TIME_LIMIT", "120")
)
ENDPOINT_TASK_TIME_LIMIT = int(os.environ.get("ENDPOINT_TASK_TIME_LIMIT", "150"))
# The governance gateway (docs/gateway.md).
GATEWAY_MAX_BODY_BYTES = int(
    os.environ.get("GATEWAY_MAX_BODY_BYTES", str(4 * 1024 * 1024))
)
GATEWAY_UPSTREAM_TIMEOUT_SECONDS = float(
    os.environ.get("GATEWAY_UPSTREAM_TIMEOUT_SECONDS", "120")
)
GATEWAY_CONNECT_TIMEOUT_SECONDS = float(
    os.environ.get("GATEWAY_CONNECT_TIMEOUT_SECONDS", "5")
)
GATEWAY_MAX_ATTEMPTS = int(os.environ.get("GATEWAY_MAX_ATTEMPTS", "3"))
# A target that failed this many times in a row is skipped for the cool-down.
GATEWAY_COOLDOWN_AFTER = int(os.environ.get("GATEWAY_COOLDOWN_AFTER", "3"))
GATEWAY_COOLDOWN_SECONDS = float(os.environ.get("GATEWAY_COOLDOWN_SECONDS", "30"))
GATEWAY_FLUSH_INTERVAL = float(os.environ.get("GATEWAY_FLUSH_INTERVAL", "0.5"))
GATEWAY_SPOOL_DIR = os.environ.get("GATEWAY_SPOOL_DIR", str(VAR_DIR / "gateway-spool"))
# Raw hourly samples are pruned after this many days; daily rollups are kept forever.
USAGE_SAMPLE_RETENTION_DAYS = int(os.environ.get("USAGE_SAMPLE_RETENTION_DAYS", "400"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "filters": {"refusals": {"()": "apps.core.logging.RefusalsWithoutTraceback"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["refusals"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django's own DEBUG console handler would print each line a second time.
        "django": {"handlers": [], "level": "INFO"},
    },
}

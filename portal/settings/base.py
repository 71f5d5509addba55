"""Settings shared by every environment, read once from the environment."""

import zoneinfo
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV", default=True):
    # A .env file in the project folder fills in what the real environment does not set.
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-development-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "accounts",
    "whitelist",
    "miniprograms",
    "integrations",
    # Tooling on top: the seeders.
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.ApiProblemMiddleware",
    "portal.middleware.RefuseNulInQueryMiddleware",
    "portal.throttling.RateLimitHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of the cookie set by the language switch, else of the browser (Accept-Language).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # On merchant pages: the signed-in user's language (when no switch cookie says otherwise) and time zone.
    "accounts.middleware.MerchantLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out log-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Messages wait in the (database) session, never in a cookie: the admin shows new API keys and webhook
# signing secrets in a message, and Django's default would first try to carry them in the browser's cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

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
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
            ],
        },
    },
]

# Database: SQLite in the project folder unless DATABASE_URL says otherwise.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
# A persistent connection that the server dropped is replaced instead of failing the next request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A database that accepts connections and never answers must not hold a request (or the health
# check) until gunicorn kills the worker: connecting gives up after DATABASE_CONNECT_TIMEOUT seconds,
# a statement after DATABASE_STATEMENT_TIMEOUT seconds (0: no limit; migrations and seeds lift it).
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
DATABASE_STATEMENT_TIMEOUT = env.int("DATABASE_STATEMENT_TIMEOUT", default=30)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)
    _options["options"] = " ".join(
        filter(
            None, [_options.get("options", ""), f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT * 1000}"]
        )
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Axes first: it refuses a locked-out username or address before the password is even checked.
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Login lockout (django-axes) on the web login, the admin login and POST /api/v1/auth/token/, rules in
# accounts/lockout.py: LOGIN_FAILURE_LIMIT failures for one username from one address lock that pair,
# LOGIN_ADDRESS_FAILURE_LIMIT failures from one address over any usernames hold the address back, for
# LOGIN_LOCKOUT_MINUTES after the failure that locked it; a username failing from many addresses is slowed,
# not locked. Attempts are rows in the database, shared by every web process.
AXES_ENABLED = True
AXES_HANDLER = "accounts.lockout.LoginAttemptHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=50)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME.total_seconds() < 60:
    # A zero cool-off would mean a lockout that never ends.
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES must be at least 1.")
if LOGIN_ADDRESS_FAILURE_LIMIT < AXES_FAILURE_LIMIT:
    raise ImproperlyConfigured("LOGIN_ADDRESS_FAILURE_LIMIT must be at least LOGIN_FAILURE_LIMIT.")
# What django-axes itself filters by (its admin, resets); the handler applies the three rules.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A refused attempt is not recorded, so trying while locked out does not make the lockout last longer.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success keeps the failures: a good log-in to one's own account must not clear an address's count.
AXES_RESET_ON_SUCCESS = False
# The address as the API's throttles see it (API_NUM_PROXIES), so a client cannot pick its own.
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# No banner at start-up; failures and lockouts are still logged, with the username and address masked.
AXES_VERBOSE = False

LANGUAGE_CODE = "en"
# Each language named in itself, as the language switch shows it. zh-hans has the project's catalogue
# (locale/zh_Hans, compiled .mo in the tree) and Django's own for the admin and form errors.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our own formats before Django's: numbers grouped by thousands in Chinese too (portal/formats).
FORMAT_MODULE_PATH = ["portal.formats"]
# Times are stored, logged and shown in the admin and the API in UTC; merchant pages and emails show
# them in the user's own time zone, this one for new users and visitors (accounts.middleware).
TIME_ZONE = "UTC"
MERCHANT_TIME_ZONE: str = env("MERCHANT_TIME_ZONE", default="Asia/Shanghai")
if MERCHANT_TIME_ZONE not in zoneinfo.available_timezones():
    raise ImproperlyConfigured(f"MERCHANT_TIME_ZONE {MERCHANT_TIME_ZONE!r} is not an IANA time zone name.")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
# Applicants' evidence: never under MEDIA_URL, served only through a permission-checking view.
PRIVATE_MEDIA_ROOT = env.path("DJANGO_PRIVATE_MEDIA_ROOT", default=BASE_DIR / "private-media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Redis, when configured, is the Celery broker, the cache and (later) the share quota store.
REDIS_URL: str = env("REDIS_URL", default="")
SHARE_QUOTA_BACKEND: str = env("SHARE_QUOTA_BACKEND", default="auto")

# The cache is an accelerator: when Redis does not answer within the timeouts, reads miss (profiles come
# from the database), writes are skipped and throttles let requests through (portal/cache.py).
REDIS_CACHE_OPTIONS = {
    "socket_connect_timeout": 0.25,
    "socket_timeout": 0.25,
    "RETRY_AFTER": 5,
}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="portal"),
            "OPTIONS": REDIS_CACHE_OPTIONS,
        },
        # The API's throttle counters, apart so that they can be told from cached pages.
        "throttle": {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="portal") + "-throttle",
            "OPTIONS": REDIS_CACHE_OPTIONS,
        },
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "portal",
        },
        "throttle": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "portal-throttle",
        },
    }

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Requests publish their tasks after commit; with Redis refused or hanging, a publish gives up within
# about a second (one retry), the request still succeeds, and the beat sweeps send what was lost.
# Without these timeouts a publish to a hanging Redis waits forever.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# No task's result is read; not keeping them also spares each publish a subscription to the result.
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "reset-share-quotas": {
        "task": "miniprograms.tasks.reset_share_quotas",
        "schedule": crontab(minute=0),
    },
    "expire-whitelist-entries": {
        "task": "whitelist.tasks.expire_whitelist_entries",
        "schedule": crontab(minute=5, hour=0),
    },
    # Webhook deliveries whose task was lost (broker down at commit, worker killed) or is due.
    "send-due-webhooks": {
        "task": "integrations.tasks.send_due_webhook_deliveries",
        "schedule": crontab(),
    },
    # Emails whose task was lost (broker down at commit): sent late, once (each task claims its email).
    "send-missed-welcome-emails": {
        "task": "accounts.tasks.send_missed_welcome_emails",
        "schedule": crontab(minute="*/10"),
    },
    "send-missed-notifications": {
        "task": "whitelist.tasks.send_missed_notifications",
        "schedule": crontab(minute="*/10"),
    },
}

# The site's own address (scheme, host, port if any; no trailing slash) for every absolute link in the
# emails: password reset, email confirmation. Never taken from a request's Host header, which a client picks.
PORTAL_BASE_URL: str = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not PORTAL_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("PORTAL_BASE_URL must start with http:// or https://.")
# Password reset requests, per client address and per email address; over either, the answer is the
# same page and no email is sent.
PASSWORD_RESET_ADDRESS_RATE: str = env("PASSWORD_RESET_ADDRESS_RATE", default="10/hour")
PASSWORD_RESET_EMAIL_RATE: str = env("PASSWORD_RESET_EMAIL_RATE", default="3/hour")

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Each SMTP step gives up after this many seconds, so a send ends well within its claim's expiry
# (portal/email_claims.py) and a hanging mail server cannot get an email sent twice.
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Mini Program Portal <noreply@portal.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Days a user's API token (`Authorization: Token`) is accepted after it was issued; 0 for no limit.
# A password change or reset deletes the user's tokens at once.
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=90)
if API_TOKEN_DAYS < 0:
    raise ImproperlyConfigured("API_TOKEN_DAYS must be 0 (no limit) or more.")

# The API key model and its authentication, named here so that the ground (portal.api_keys) and the base
# domain use keys without importing the app that holds them.
API_KEY_MODEL = "integrations.ApiKey"
API_KEY_AUTHENTICATION = "integrations.authentication.ApiKeyAuthentication"

REST_FRAMEWORK = {
    # Token first, so an unauthenticated request gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ExpiringTokenAuthentication",
        API_KEY_AUTHENTICATION,
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "portal.errors.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON with a depth limit: deeply nested input is a 400, never a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["portal.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["portal.filters.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "portal.openapi.PortalAutoSchema",
    # Proxies in front of the app that append to X-Forwarded-For; 0 trusts only REMOTE_ADDR, so a
    # client cannot pick its own address (and rate budget) by sending the header itself.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_CLASSES": [
        "portal.throttling.PrincipalRateThrottle",
        "portal.throttling.IpRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_ANON_RATE", default="600/minute"),
        "user": env("API_USER_RATE", default="6000/minute"),
        "api_key": env("API_KEY_RATE", default="12000/minute"),
        "ip": env("API_IP_RATE", default="20000/minute"),
        "whitelist_lookup": env("WHITELIST_LOOKUP_RATE", default="120/minute"),
        "profile": env("PROFILE_RATE", default="6000/minute"),
        # Manual re-sends of one webhook endpoint's deliveries, whoever asks (API).
        "webhook_resend": env("WEBHOOK_RESEND_RATE", default="30/hour"),
    },
}

# Webhook deliveries to private, loopback and link-local addresses (an intranet, the cloud metadata
# service) are refused unless this is on; local development and tests deliver to 127.0.0.1.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)


def webhook_ports(value: str) -> list[int] | None:
    """WEBHOOK_ALLOWED_PORTS: comma-separated ports, or `*` for any (None)."""
    if value.strip() == "*":
        return None
    return [int(port) for port in value.split(",") if port.strip()]


# Deliveries go to these ports only (a URL naming another is refused), so that an endpoint cannot
# probe a host's other services; `*` allows any.
WEBHOOK_ALLOWED_PORTS = webhook_ports(env("WEBHOOK_ALLOWED_PORTS", default="80,443"))

SPECTACULAR_SETTINGS = {
    "TITLE": "Mini program portal API",
    "DESCRIPTION": (
        "The whitelist and partner programme for mini programs on official accounts: accounts, "
        "whitelist applications and entries, mini programs, profile links, shares and their hourly "
        "quota, the account directory and webhooks.\n\n"
        "Authenticate as a user with `Authorization: Token <token>` (from `POST /api/v1/auth/token/`) "
        "or as a service with `Authorization: Api-Key <key>` (issued by staff, with scopes). Errors are "
        "RFC 9457 problem details (`application/problem+json`). Every response carries the IETF "
        "`RateLimit-Policy` and `RateLimit` fields; a 429 carries `Retry-After`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema's address to an outside service (and its image is
    # refused by the Content-Security-Policy anyway).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Redoc's custom scrollbars need a style sheet that its bundle injects before it can be given the
    # page's style nonce, so the policy refuses it; the browser's own scrollbars need none.
    "REDOC_UI_SETTINGS": {"nativeScrollbars": True},
    # portal/converters.py: an account's uid in a path is a string.
    "PATH_CONVERTER_OVERRIDES": {"platform_uid": str},
    "ENUM_NAME_OVERRIDES": {
        "ApplicationStateEnum": "whitelist.models.ApplicationState",
        "EntryStateEnum": "whitelist.models.EntryState",
        "AccountKindEnum": "accounts.models.AccountKind",
        "OrganizationKindEnum": "accounts.models.OrganizationKind",
        "WebhookEventEnum": "integrations.models.WebhookEvent",
    },
}

# Content-Security-Policy (django-csp) on every response: scripts, styles and everything else from the
# site itself, no inline script or style anywhere (templates load theirs from static files), no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # Pico CSS, the admin and Swagger UI draw icons as data: URIs in their style sheets.
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # django-axes tells every step at INFO; its failures and lockouts are warnings.
    "loggers": {"axes": {"level": "WARNING"}},
}

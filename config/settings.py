"""Orderly settings. Every knob comes from the environment (see .env.example);
the defaults are the embedded quick start: SQLite, eager Celery, console email."""

from pathlib import Path

import environ
from kombu import Queue

from core.cache import with_shared_clients

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def parse_webhook_secrets(raw: str) -> dict[str, dict[str, str]]:
    """`kind:name=secret,...` → {kind: {name: secret}}. An empty secret is kept
    (as "") so that the endpoint knows the sender and refuses every request."""
    secrets: dict[str, dict[str, str]] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        target, _, secret = item.partition("=")
        kind, _, name = target.partition(":")
        if kind and name:
            secrets.setdefault(kind.strip(), {})[name.strip()] = secret.strip()
    return secrets


DEBUG = env.bool("DEBUG", default=False)
# The quick-start key is marked insecure so `check --deploy` refuses it in production.
SECRET_KEY = env(
    "SECRET_KEY", default="django-insecure-quick-start-key-set-SECRET_KEY-in-production"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "core",
    "operations",
    "inventory",
    "notifications",
    "payments",
    "orders",
    "fulfillment",
    "returns",
    "reports",
    "jobs",
    "invoicing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RejectNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# --- Security headers and HTTPS (SECURE_HTTPS=true behind TLS in production) ---
SECURE_HTTPS = env.bool("SECURE_HTTPS", default=False)
SECURE_SSL_REDIRECT = SECURE_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SECURE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HTTPS)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Admin logins: this many failures per IP and username lock them out for the window.
ADMIN_LOGIN_MAX_FAILURES = env.int("ADMIN_LOGIN_MAX_FAILURES", default=5)
ADMIN_LOGIN_LOCKOUT_MINUTES = env.int("ADMIN_LOGIN_LOCKOUT_MINUTES", default=15)

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Quick start: writers queue for the lock instead of failing ("database is
    # locked"); IMMEDIATE takes it at BEGIN, so no deadlock on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
    # Connections are checked before reuse, so a PostgreSQL restart heals itself.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters sent apart from the statement, and a statement run this many
    # times on a connection prepared there: PostgreSQL then skips parsing and
    # planning it, which was most of its CPU for the small statements of every
    # order (bench/RESULTS.md, 2026-12-05 morning). 0 turns it off (a pooler
    # that cannot keep prepared statements, such as PgBouncer before 1.21).
    DATABASE_PREPARE_THRESHOLD = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
    if DATABASE_PREPARE_THRESHOLD > 0:
        DATABASES["default"]["OPTIONS"].update(
            server_side_binding=True, prepare_threshold=DATABASE_PREPARE_THRESHOLD
        )
    if env.bool("DATABASE_POOL", default=False):
        # psycopg's pool, shared by a process's threads: fewer server connections
        # when many processes run. Django requires CONN_MAX_AGE=0 with it.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=4),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10),
        }
    else:
        # Persistent connections, one per thread.
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Django's Redis backend, with one client per connection pool (core.cache).
CACHES = with_shared_clients({"default": env.cache("CACHE_URL", default="locmemcache://")})

# --- Email: console by default, SMTP via EMAIL_URL=smtp://user:pass@host:587 ---
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Orderly <orders@orderly.local>")
# A mail server that never answers must not hold a notification row locked forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
SMS_BACKEND = env("SMS_BACKEND", default="notifications.sms.ConsoleSmsBackend")
# `check --deploy` (DEBUG off) refuses test parts unless named here:
# payments (the test gateway), carrier (the test carrier), sms, email; or "all".
ALLOW_TEST_INTEGRATIONS = env.list("ALLOW_TEST_INTEGRATIONS", default=[])

# --- Notification and outbound webhook retries (notifications app) ---
NOTIFY_RETRY_BASE_SECONDS = env.int("NOTIFY_RETRY_BASE_SECONDS", default=30)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_RETRY_GRACE_SECONDS = env.int("NOTIFY_RETRY_GRACE_SECONDS", default=60)
# How long after a commit the e-mail drain starts (the e-mails of that moment share it).
NOTIFY_DRAIN_DELAY_SECONDS = env.float("NOTIFY_DRAIN_DELAY_SECONDS", default=1.0)
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=30)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5)

# --- REST framework ---
# Per client IP (anonymous) and per user; tune to the shop's traffic.
THROTTLE_ANON_RATE = env("THROTTLE_ANON_RATE", default="600/min")
THROTTLE_USER_RATE = env("THROTTLE_USER_RATE", default="3000/min")
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes missing credentials a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.StandardPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": THROTTLE_ANON_RATE, "user": THROTTLE_USER_RATE},
    "COERCE_DECIMAL_TO_STRING": True,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "Orderly API",
    "DESCRIPTION": "Order processing back office: orders, stock, payments, fulfilment, returns.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "HoldReasonEnum": "orders.models.HoldReason",
        "ReasonEnum": "returns.models.ReturnReason",  # its name before hold reasons came
    },
}

# --- Celery: eager when no broker is configured (quick start) ---
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = env.bool("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# At-least-once delivery: tasks are idempotent, so a redelivery is harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Threads, not processes: the steps mostly wait (the payment gateway, PostgreSQL,
# SMTP), and threads overlap those waits without prefork's hand-off of every
# task between the consumer and a child process (bench/RESULTS.md, 2026-12-05:
# less CPU per order, and the worker keeps up). No task has a time limit,
# which only prefork enforces. A worker killed mid-task loses its threads'
# messages to redelivery, as it loses its children's. To run prefork, set
# CELERY_WORKER_POOL=prefork: Celery reads `-P prefork` as "the default" and
# keeps the configured pool.
CELERY_WORKER_POOL = env("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=8)
# Celery's Django fixup closes the worker's database connections around every
# task unless this is set; config.celery recycles them as Django does around
# requests instead (CONN_MAX_AGE, health checks). The fixup still recycles
# them after this many tasks.
CELERY_DB_REUSE_MAX = 10_000
# Recovery after a worker dies holding a message (kill -9, OOM, a lost host):
# with acks_late nobody acks it, and the Redis transport hands it out again once
# it has been unacked for visibility_timeout. Every worker scans for such messages
# every `unacked_restore_interval` seconds, so a crashed worker's order moves on
# within about visibility_timeout + interval (30 s or less by default). The
# timeout must exceed the longest task and any countdown a task waits on while
# unacked (retry backoff is capped below it, see config.celery.retry_policy),
# or a running message is handed out twice (harmless, every task is idempotent,
# but wasted work). RabbitMQ (`amqp://`) needs none of this: it redelivers a
# dead consumer's messages the moment its connection drops.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=20)
# Redis through kombu's own transport, less its new client per message (core.broker).
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "core.broker:Transport"
# Short socket timeouts and few publish retries: with the broker down, a request
# must answer quickly (the order is committed; the sweep enqueues it later).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
# Every queue a task is routed to. Declared, so that a bare `celery -A config
# worker` consumes all of them; `-Q` picks a subset for per-step workers.
CELERY_QUEUES = ("confirmation", "fulfilment", "refunds", "notifications", "maintenance")
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in CELERY_QUEUES]
CELERY_TASK_ROUTES = {
    "orders.tasks.order_confirm": {"queue": "confirmation"},
    "orders.tasks.order_settle_cancelled_payment": {"queue": "refunds"},
    "orders.tasks.order_sync_payment": {"queue": "confirmation"},
    "fulfillment.tasks.*": {"queue": "fulfilment"},
    "returns.tasks.*": {"queue": "refunds"},
    "payments.tasks.*": {"queue": "refunds"},
    "invoicing.tasks.*": {"queue": "refunds"},
    "notifications.tasks.*": {"queue": "notifications"},
}
CELERY_TIMEZONE = TIME_ZONE
# The seller printed on invoices and credit notes, per market code with a "default";
# snapshotted on each document at issue. JSON: {"US": {"name": .., "address": [..], "tax_id": ..}}
SELLER_DETAILS = env.json(
    "SELLER_DETAILS",
    default={
        "default": {"name": "Orderly Demo Shop", "address": ["1 Example Street"], "tax_id": ""}
    },
)
# Beat jobs (`celery -A config beat`); each is idempotent and also a manage.py command.
CELERY_BEAT_SCHEDULE = {
    "issue-missing-documents": {
        "task": "invoicing.tasks.documents_issue_missing",
        "schedule": 900.0,
    },
    "expire-unconfirmed-orders": {
        "task": "orders.tasks.expire_unconfirmed_orders",
        "schedule": 60.0,
    },
    "requeue-stuck-orders": {"task": "orders.tasks.requeue_stuck_orders", "schedule": 30.0},
    "retry-due-notifications": {
        "task": "notifications.tasks.notifications_retry_due",
        "schedule": 60.0,
    },
    "settle-expiring-authorizations": {
        "task": "jobs.tasks.settle_expiring_authorizations",
        "schedule": 3600.0,
    },
    # Daily; each run e-mails at most once per day and warehouse (dedupe keys).
    "low-stock-report": {"task": "jobs.tasks.low_stock_report", "schedule": 86400.0},
    "purge-old-records": {"task": "jobs.tasks.purge_old_records", "schedule": 3600.0},
}

# --- Domain settings ---
RESERVATION_TTL_MINUTES = env.int("RESERVATION_TTL_MINUTES", default=30)
# The sweep re-enqueues confirmation of orders pending longer than this (the
# message was lost: the broker was down at commit). Longer than the visibility
# timeout, so it does not race the broker's own redelivery after a worker crash.
CONFIRMATION_REQUEUE_SECONDS = env.int("CONFIRMATION_REQUEUE_SECONDS", default=60)
# The dashboard calls a pending order stuck after this long.
STUCK_PENDING_MINUTES = env.int("STUCK_PENDING_MINUTES", default=5)
# Payment gateways' HTTP timeout per attempt and the SDK's network retries: an
# unanswered call older than all attempts (plus 5 s) is known to be over, so a
# retry after a crash repeats it (same idempotency key) instead of waiting.
GATEWAY_TIMEOUT_SECONDS = env.int("GATEWAY_TIMEOUT_SECONDS", default=5)
GATEWAY_NETWORK_RETRIES = env.int("GATEWAY_NETWORK_RETRIES", default=2)
# The dashboard calls a confirmed order stuck when nothing shipped after this long.
STUCK_UNSHIPPED_HOURS = env.int("STUCK_UNSHIPPED_HOURS", default=48)
# Low-stock threshold for stock levels without a reorder point.
LOW_STOCK_DEFAULT = env.int("LOW_STOCK_DEFAULT", default=5)
WEBHOOK_SECRETS = parse_webhook_secrets(env("WEBHOOK_SECRETS", default=""))
IDEMPOTENCY_RETENTION_HOURS = env.int("IDEMPOTENCY_RETENTION_HOURS", default=48)
# Delivered outbound webhooks (and their attempt logs) are purged after this many days.
WEBHOOK_LOG_RETENTION_DAYS = env.int("WEBHOOK_LOG_RETENTION_DAYS", default=30)
# Staff addresses for operations e-mails (the daily low stock report).
OPS_EMAILS = env.list("OPS_EMAILS", default=[])
# Gateways hold an authorization this many days ("gateway=days,..."; "default" for others);
# this many hours before, the beat job captures what shipped or flags the order.
AUTHORIZATION_EXPIRY_DAYS = {
    name: int(days)
    for name, days in env.dict(
        "AUTHORIZATION_EXPIRY_DAYS", default={"test": 7, "stripe": 7, "razorpay": 5}
    ).items()
}
AUTHORIZATION_EXPIRY_WARN_HOURS = env.int("AUTHORIZATION_EXPIRY_WARN_HOURS", default=24)
# reconcile_payments calls payment work still unfinished after this long stuck.
PAYMENT_STUCK_MINUTES = env.int("PAYMENT_STUCK_MINUTES", default=30)

# Payment gateways per market for card/upi ("test", "stripe", "razorpay"); COD is always manual.
PAYMENT_GATEWAYS = env.dict("PAYMENT_GATEWAYS", default={})
STRIPE_API_KEY = env("STRIPE_API_KEY", default="")
RAZORPAY_KEY_ID = env("RAZORPAY_KEY_ID", default="")
RAZORPAY_KEY_SECRET = env("RAZORPAY_KEY_SECRET", default="")

# --- Logging ---
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Risk scoring (orders/services/risk.py) ---
RISK_HOLD_SCORE = env.int("RISK_HOLD_SCORE", default=75)
RISK_GATEWAY_HIGH = env.int("RISK_GATEWAY_HIGH", default=75)
RISK_VELOCITY_OPEN_ORDERS = env.int("RISK_VELOCITY_OPEN_ORDERS", default=5)
RISK_DUPLICATE_WINDOW_MINUTES = env.int("RISK_DUPLICATE_WINDOW_MINUTES", default=10)
RISK_NEW_ACCOUNT_DAYS = env.int("RISK_NEW_ACCOUNT_DAYS", default=7)
# A first order from a new account at or above this share of the review amount adds risk.
RISK_NEW_ACCOUNT_LARGE_SHARE = env.float("RISK_NEW_ACCOUNT_LARGE_SHARE", default=0.5)
# Trusted customers skip review below this multiple of the market's review amount.
RISK_TRUSTED_CAP_FACTOR = env.float("RISK_TRUSTED_CAP_FACTOR", default=3.0)
REVIEW_SLA_MINUTES = env.int("REVIEW_SLA_MINUTES", default=120)

"""Metalpanel settings: one module, every deploy-time value from the environment.

Embedded default: a SQLite file and django-q2's ORM broker. Scale-out: set
DATABASE_URL (PostgreSQL) and REDIS_URL (django-q2 broker).
"""

import ipaddress
import os
import warnings
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from panel import secretkey

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int, minimum: int = 0) -> int:
    """A whole number of at least `minimum`, refused at start-up with its name otherwise."""
    value = os.environ.get(name, str(default))
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_networks(name: str, default: str = "") -> list[str]:
    """Comma-separated CIDRs, refused at start-up if one is not a network."""
    networks = env_list(name, default)
    for cidr in networks:
        try:
            ipaddress.ip_network(cidr)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {exc}") from exc
    return networks


DEBUG = env_bool("DEBUG")

# Database: a SQLite file unless DATABASE_URL names another one.
SQLITE_PATH = os.environ.get("PANEL_SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and env_bool("PANEL_DEMO"):
    # `manage.py demo` and the processes it starts run without DEBUG on a key of their own,
    # made on the first start and kept next to the demo's database.
    SECRET_KEY = secretkey.read_or_create(Path(f"{SQLITE_PATH}.secret-key"))
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "development-only-insecure-key"  # noqa: S105 - only ever used with DEBUG on

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "provisioning.queue_app.TaskQueueConfig",  # django_q, named for the admin
    "crispy_forms",
    "crispy_bootstrap5",
    "panel",
    "inventory",
    "network",
    "provisioning",
    "webhooks",
    "dci",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "panel.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "panel.audit.SourceAddressMiddleware",
    "panel.signin.EnrolmentOnlyMiddleware",
]

ROOT_URLCONF = "panel.urls"
WSGI_APPLICATION = "panel.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"),
        conn_max_age=60,
        # A persistent connection the database dropped (restart, failover, idle timeout) is
        # replaced at the next request's first query instead of failing that request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT: it compiled for 20 ms to save nothing on the configurations' exact counts (the
    # panel's queries are short; JIT pays on long analytical ones).
    DATABASES["default"]["OPTIONS"] = {"options": "-c jit=off"}
    if env_bool("PANEL_DB_PREPARED_STATEMENTS", True):
        # Server-side parameters, so that a query a connection runs again is planned once,
        # not on every request: planning was most of the server list's time in PostgreSQL.
        # Off behind a pooler in transaction mode that cannot keep prepared statements
        # (PgBouncer < 1.21).
        DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=2)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE makes SQLite serialise writers up front instead of failing
    # one of two read-then-write transactions with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "panel.User"
# The one backend: email + password, throttled (panel.logins) for every login surface.
AUTHENTICATION_BACKENDS = ["panel.logins.ThrottledModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
# Dates written one way in every page: "2026-11-24 15:40" (panel/formats).
FORMAT_MODULE_PATH = ["panel.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files straight from the apps and static/: no collectstatic step,
# so an absent STATIC_ROOT is expected, not worth a warning in every process's output.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "servers"
LOGOUT_REDIRECT_URL = "login"
# Disk images are kept through the default storage: these files by default; object storage
# through django-storages by naming its backend in STORAGES["default"].
MEDIA_ROOT = Path(os.environ.get("PANEL_MEDIA_ROOT", BASE_DIR / "var" / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Mail (password resets, "your operation has ended"): SMTP when EMAIL_HOST is set, else printed
# to the console. EMAIL_BACKEND overrides the choice.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "metalpanel@localhost")
# The portal's address in mails (links to the operation); empty: no links.
PANEL_PORTAL_URL = os.environ.get("PANEL_PORTAL_URL", "").rstrip("/")

# Behind a TLS-terminating proxy the panel is an HTTPS site: cookies are sent over HTTPS only
# and browsers are told to use nothing else (HSTS). The boot endpoints stay plain HTTP for
# iPXE, which has no HTTPS and ignores HSTS.
BEHIND_TLS_PROXY = env_bool("PANEL_BEHIND_TLS_PROXY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = BEHIND_TLS_PROXY or env_bool("PANEL_SECURE_COOKIES")
SECURE_HSTS_SECONDS = env_int("PANEL_HSTS_SECONDS", 31536000) if BEHIND_TLS_PROXY else 0
# What pages may load: only the panel's own files, no inline script (panel.security).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# Metalpanel's own settings.
# Key for BMC passwords at rest (Fernet, urlsafe base64 of 32 bytes). Derived from
# SECRET_KEY when unset, so changing SECRET_KEY then makes stored BMC passwords unreadable.
PANEL_ENCRYPTION_KEY = os.environ.get("PANEL_ENCRYPTION_KEY", "")
# Number of reverse proxies in front of the panel whose X-Forwarded-For entries are trusted
# for the client address (audit log, token CIDR binding). 0: use the socket address.
PANEL_TRUSTED_PROXY_COUNT = env_int("PANEL_TRUSTED_PROXY_COUNT", 0)
# Where those proxies connect from: X-Forwarded-For from any other peer is not believed.
PANEL_TRUSTED_PROXY_CIDRS = env_networks("PANEL_TRUSTED_PROXY_CIDRS", "127.0.0.0/8,::1/128")
PANEL_IDEMPOTENCY_TTL_HOURS = 24
# The DCImanager-compatible API's lists answer at most this many rows at once (limit=offset,count).
PANEL_DCI_LIST_MAX = env_int("PANEL_DCI_LIST_MAX", 10000, minimum=1)
# IPMI: the longest one BMC call may take before the BMC counts as unreachable.
PANEL_BMC_TIMEOUT = float(os.environ.get("PANEL_BMC_TIMEOUT", "20"))
# A serial console with no traffic either way for this long is closed.
PANEL_CONSOLE_IDLE_SECONDS = env_int("PANEL_CONSOLE_IDLE_SECONDS", 900, minimum=1)
# An operation on a BMC already marked unreachable first gets one read this short: a dead
# BMC then fails the operation at once instead of holding a worker that healthy servers need.
PANEL_BMC_PROBE_SECONDS = float(os.environ.get("PANEL_BMC_PROBE_SECONDS", "1"))
# SNMP (switches, PDUs): how long to wait for the answer to each try of a request.
PANEL_SNMP_TIMEOUT = float(os.environ.get("PANEL_SNMP_TIMEOUT", "2"))
# How often an unanswered SNMP request is resent: silence fails after timeout x (retries + 1).
PANEL_SNMP_RETRIES = env_int("PANEL_SNMP_RETRIES", 1)
# Power-state sync: how often each BMC is read, and how many each chunk reads at once.
PANEL_POWER_SYNC_SECONDS = env_int("PANEL_POWER_SYNC_SECONDS", 60, minimum=1)
PANEL_POWER_SYNC_CONCURRENCY = env_int("PANEL_POWER_SYNC_CONCURRENCY", 64, minimum=1)
# A round of the power sync is cut into tasks of at most this many BMCs, shared by the
# workers (250 / 64 at once x a 20 s timeout: even a chunk of dead BMCs ends within django-q2's
# 120 s task timeout); a task no worker finished within the claim (worker killed, broker lost
# it) is read by a later round.
PANEL_POWER_SYNC_CHUNK = env_int("PANEL_POWER_SYNC_CHUNK", 250, minimum=1)
PANEL_POWER_SYNC_CLAIM_SECONDS = env_int("PANEL_POWER_SYNC_CLAIM_SECONDS", 300, minimum=1)
# Switch-port and PDU-outlet state sync: how often each device is read, how many at once.
PANEL_NETWORK_SYNC_SECONDS = env_int("PANEL_NETWORK_SYNC_SECONDS", 60, minimum=1)
PANEL_NETWORK_SYNC_CONCURRENCY = env_int("PANEL_NETWORK_SYNC_CONCURRENCY", 16, minimum=1)
# How long a power operation waits for the BMC to report the new state, and how long a
# graceful shutdown waits for the operating system.
PANEL_POWER_CONFIRM_SECONDS = env_int("PANEL_POWER_CONFIRM_SECONDS", 60)
PANEL_SOFT_SHUTDOWN_SECONDS = env_int("PANEL_SOFT_SHUTDOWN_SECONDS", 300)
# A worker holds an operation for this long between check-ins; a dead worker's operations
# are taken over after it. A task waits inline at most PANEL_OPERATION_INLINE_SECONDS, then
# queues itself again so workers stay free.
PANEL_OPERATION_LEASE_SECONDS = env_int("PANEL_OPERATION_LEASE_SECONDS", 90)
PANEL_OPERATION_INLINE_SECONDS = env_int("PANEL_OPERATION_INLINE_SECONDS", 30)
# Installs: how long a server may take to boot from the network after the panel rebooted it
# (or after the owner was asked to), how long its installer may run, and how many reports
# one installer may send.
PANEL_PXE_BOOT_SECONDS = env_int("PANEL_PXE_BOOT_SECONDS", 600)
PANEL_MANUAL_REBOOT_SECONDS = env_int("PANEL_MANUAL_REBOOT_SECONDS", 86400)
PANEL_INSTALL_SECONDS = env_int("PANEL_INSTALL_SECONDS", 7200)
PANEL_BOOT_EVENTS_PER_TICKET = env_int("PANEL_BOOT_EVENTS_PER_TICKET", 2000)
# How long a server stays in the rescue system once it is up; then it boots its disk again
# (checked every minute). How long the rescue system may take to come up after its boot.
PANEL_RESCUE_MAX_SECONDS = env_int("PANEL_RESCUE_MAX_SECONDS", 4 * 3600, minimum=60)
PANEL_RESCUE_BOOT_SECONDS = env_int("PANEL_RESCUE_BOOT_SECONDS", 900)
# SHA-512 crypt rounds of the root password an install puts in /etc/shadow. 5,000 is glibc's
# default (what mkpasswd, the distributions' own passwd and Foreman write); every 10,000
# more costs each install request about 7 ms of CPU (bench/fleet_install.py).
PANEL_CRYPT_ROUNDS = env_int("PANEL_CRYPT_ROUNDS", 5000)
# Portal logins: after this many failures within the window, for one account or from one
# address, logins are refused until the window has passed.
PANEL_LOGIN_FAILURES_PER_ACCOUNT = env_int("PANEL_LOGIN_FAILURES_PER_ACCOUNT", 5)
PANEL_LOGIN_FAILURES_PER_IP = env_int("PANEL_LOGIN_FAILURES_PER_IP", 20)
PANEL_LOGIN_LOCKOUT_SECONDS = env_int("PANEL_LOGIN_LOCKOUT_SECONDS", 900)
# Every staff account must log in with a second factor (panel.twofactor); staff without one
# are sent to enrol at their next login. Customers are chosen one by one in the admin.
PANEL_STAFF_TWO_FACTOR_REQUIRED = env_bool("PANEL_STAFF_TWO_FACTOR_REQUIRED")
# DCImanager-compatible API logins (dci.sessions): a session lives this long after its last
# use, and never longer than the maximum after its login.
PANEL_DCI_SESSION_SECONDS = env_int("PANEL_DCI_SESSION_SECONDS", 3600)
PANEL_DCI_SESSION_MAX_SECONDS = env_int("PANEL_DCI_SESSION_MAX_SECONDS", 86400)
# The panel as machines on the boot network reach it (dnsmasq_config's iPXE chain).
PANEL_BOOT_URL = os.environ.get("PANEL_BOOT_URL", "")
# Who may use the boot endpoints besides IPAM's boot networks: DHCP relays, NAT gateways, the
# panel's own host. Empty by default; loopback only where the demo and the tests add it.
PANEL_BOOT_ALLOWED_CIDRS = env_networks("PANEL_BOOT_ALLOWED_CIDRS")
# Disk images (captured by the agent image into the default storage): what each customer may
# keep (images, and their compressed bytes), and the size of the pieces the agent sends.
PANEL_IMAGE_QUOTA_COUNT = env_int("PANEL_IMAGE_QUOTA_COUNT", 5, minimum=0)
PANEL_IMAGE_QUOTA_BYTES = env_int("PANEL_IMAGE_QUOTA_BYTES", 200 * 10**9, minimum=0)
PANEL_IMAGE_PIECE_MIB = env_int("PANEL_IMAGE_PIECE_MIB", 16, minimum=1)
# Where build_agent_image keeps its cache and the current agent image served at /boot/images/.
PANEL_AGENT_IMAGE_DIR = Path(
    os.environ.get("PANEL_AGENT_IMAGE_DIR", BASE_DIR / "var" / "agent-image")
)
# Traffic accounting: seconds between counter reads (slots are aligned to it in UTC; it must
# divide a day), and days of 5-minute detail kept (monthly rollups are kept for good).
PANEL_TRAFFIC_POLL_SECONDS = env_int("PANEL_TRAFFIC_POLL_SECONDS", 300)
PANEL_TRAFFIC_RETENTION_DAYS = env_int("PANEL_TRAFFIC_RETENTION_DAYS", 400)
# Switches whose counters are read at once by a traffic poll round.
PANEL_TRAFFIC_POLL_CONCURRENCY = env_int("PANEL_TRAFFIC_POLL_CONCURRENCY", 32, minimum=1)
# Webhooks (docs/webhooks.md): a receiver gets this long to accept the connection, and this
# long in all to answer; a failed delivery is retried after BACKOFF seconds, doubling up to
# BACKOFF_MAX, for RETRY_HOURS; a subscription whose deliveries all failed for
# DISABLE_AFTER_HOURS is disabled. A queued delivery no worker took is queued again after
# REQUEUE_SECONDS by the sweep (every minute).
PANEL_WEBHOOK_CONNECT_TIMEOUT = float(os.environ.get("PANEL_WEBHOOK_CONNECT_TIMEOUT", "3"))
PANEL_WEBHOOK_TIMEOUT = float(os.environ.get("PANEL_WEBHOOK_TIMEOUT", "10"))
PANEL_WEBHOOK_BACKOFF_SECONDS = env_int("PANEL_WEBHOOK_BACKOFF_SECONDS", 30)
PANEL_WEBHOOK_BACKOFF_MAX_SECONDS = env_int("PANEL_WEBHOOK_BACKOFF_MAX_SECONDS", 3600)
PANEL_WEBHOOK_RETRY_HOURS = float(os.environ.get("PANEL_WEBHOOK_RETRY_HOURS", "24"))
PANEL_WEBHOOK_DISABLE_AFTER_HOURS = float(os.environ.get("PANEL_WEBHOOK_DISABLE_AFTER_HOURS", "24"))
PANEL_WEBHOOK_REQUEUE_SECONDS = env_int("PANEL_WEBHOOK_REQUEUE_SECONDS", 300)
if PANEL_TRAFFIC_POLL_SECONDS < 60 or 86400 % PANEL_TRAFFIC_POLL_SECONDS:
    raise ImproperlyConfigured("PANEL_TRAFFIC_POLL_SECONDS must divide a day, at least 60.")
# Retention (panel.retention, daily and `manage.py purge_history`): days kept of finished
# operations (with their logs and boot tickets; each server's newest is always kept), of the
# audit log, and of webhook events with their deliveries. 0 keeps them for good.
PANEL_RETAIN_OPERATIONS_DAYS = env_int("PANEL_RETAIN_OPERATIONS_DAYS", 365)
PANEL_RETAIN_AUDIT_DAYS = env_int("PANEL_RETAIN_AUDIT_DAYS", 730)
PANEL_RETAIN_WEBHOOK_DAYS = env_int("PANEL_RETAIN_WEBHOOK_DAYS", 30)
# /metrics (Prometheus): besides staff API tokens, scrapers on these networks may read it.
PANEL_METRICS_ALLOWED_CIDRS = env_networks("PANEL_METRICS_ALLOWED_CIDRS")
# Finished operations and refused logins are counted over this many recent seconds.
PANEL_METRICS_WINDOW_SECONDS = env_int("PANEL_METRICS_WINDOW_SECONDS", 3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "panel.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "panel.api.permissions.TokenScopeAllows",
    ],
    "DEFAULT_PARSER_CLASSES": ["panel.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "panel.api.pagination.PanelPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "panel.api.filters.FilterBackend",
        "panel.api.filters.SearchFilter",
        "panel.api.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "panel.api.schema.PanelAutoSchema",
    "EXCEPTION_HANDLER": "panel.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Metalpanel API",
    "DESCRIPTION": "Bare-metal servers, IPMI power and OS installs for billing systems.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "IpFamilyEnum": "inventory.models.IP_FAMILIES",
        "ServerStateEnum": "inventory.models.SERVER_STATES",
        "OperationStateEnum": "provisioning.models.OPERATION_STATES",
        "BmcPowerStateEnum": "inventory.models.Bmc.PowerState",
        "PortStatusEnum": "inventory.models.SwitchPort.Status",
        "RaidEnum": "provisioning.installers.RAID_NAMES",
        "WipeEnum": "provisioning.installers.WIPE_MODES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "panel.api.schema.add_error_responses",
        "provisioning.boot_schema.add_boot_endpoints",
    ],
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# django-q2: Redis broker when REDIS_URL is set, the database (ORM broker) otherwise.
Q_CLUSTER = {
    "name": "metalpanel",
    "workers": env_int("PANEL_WORKERS", 4, minimum=1),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    # Operations keep their own state and log; django-q2 storing each successful task (and
    # pruning them with a SELECT FOR UPDATE over up to save_limit rows) is pure overhead.
    "save_limit": -1,
}
REDIS_URL = os.environ.get("REDIS_URL", "")


def _bounded(redis_url: str) -> str:
    """A Redis that drops packets must not hang a request: bound connecting and each reply
    (workers block on the queue for 1 s at a time, well inside the bound). The URL's own
    values win."""
    parts = urlsplit(redis_url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("socket_connect_timeout", "3")
    query.setdefault("socket_timeout", "5")
    return urlunsplit(parts._replace(query=urlencode(query)))


# A chunk of the power sweep whose BMCs all time out must still end within a task's timeout,
# and its claim outlast it; else its BMCs would be read twice, or never.
_DEAD_CHUNK_SECONDS = -(-PANEL_POWER_SYNC_CHUNK // PANEL_POWER_SYNC_CONCURRENCY) * PANEL_BMC_TIMEOUT
if Q_CLUSTER["timeout"] <= _DEAD_CHUNK_SECONDS:
    raise ImproperlyConfigured(
        f"A power sweep chunk of dead BMCs would take {_DEAD_CHUNK_SECONDS:g} s "
        f"(PANEL_POWER_SYNC_CHUNK / PANEL_POWER_SYNC_CONCURRENCY x PANEL_BMC_TIMEOUT), not under "
        f"the workers' {Q_CLUSTER['timeout']} s task timeout: lower the chunk or the timeout."
    )
if _DEAD_CHUNK_SECONDS >= PANEL_POWER_SYNC_CLAIM_SECONDS:
    raise ImproperlyConfigured(
        f"PANEL_POWER_SYNC_CLAIM_SECONDS must be over the {_DEAD_CHUNK_SECONDS:g} s a chunk of "
        "dead BMCs can take, so no round takes BMCs a chunk is still reading."
    )

if REDIS_URL:
    Q_CLUSTER["redis"] = _bounded(REDIS_URL)
else:
    Q_CLUSTER["orm"] = "default"

LOG_FORMAT = os.environ.get("PANEL_LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("PANEL_LOG_FORMAT must be text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_boot_secrets": {"()": "panel.logredaction.RedactBootSecrets"}},
    # PANEL_LOG_FORMAT=json: one JSON object a line (panel.logformat); plain text otherwise.
    "formatters": {"json": {"()": "panel.logformat.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"}
        | ({"formatter": "json"} if LOG_FORMAT == "json" else {}),
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Not a line per task queued and run ("Enqueued", "Processed"): operations keep their
        # own log; django-q's warnings and errors still show.
        "django-q": {"level": os.environ.get("PANEL_QUEUE_LOG_LEVEL", "WARNING")},
        "django.request": {"filters": ["redact_boot_secrets"]},
        "django.server": {"filters": ["redact_boot_secrets"]},
    },
}

"""Typed, validated stack settings: the only module that reads `pulumi.Config`.

`KEYS` is the single table of every config key the program accepts, with its type, default and
description; `Pulumi.yaml` and the README table are checked against it by the tests. Parsing is a
pure function so every bad value is reported at once, before any resource is registered.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import pulumi

PROJECT: Final = "gatewayz-observability"


class Kind(StrEnum):
    """Value types a Pulumi project can declare for a config key."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ARRAY = "array"


class Service(StrEnum):
    """The containers this program runs; values double as container names and DNS aliases."""

    PROMETHEUS = "prometheus"
    LOKI = "loki"
    TEMPO = "tempo"
    GRAFANA = "grafana"
    ALERTMANAGER = "alertmanager"
    REDIS_EXPORTER = "redis-exporter"

    @property
    def job(self) -> str:
        """The Prometheus job that scrapes this service (`redis_exporter` for the exporter)."""
        return self.value.replace("-", "_")


class Port(StrEnum):
    """Host ports a stack may publish; each has its own bind key."""

    PROMETHEUS = "prometheus"
    LOKI = "loki"
    TEMPO_HTTP = "tempoHttp"
    TEMPO_OTLP_GRPC = "tempoOtlpGrpc"
    TEMPO_OTLP_HTTP = "tempoOtlpHttp"
    GRAFANA = "grafana"
    ALERTMANAGER = "alertmanager"


class BackendAuth(StrEnum):
    NONE = "none"
    BEARER = "bearer"


class RedisAuth(StrEnum):
    NONE = "none"
    PASSWORD = "password"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class Receiver(StrEnum):
    """Where alerts of one severity go; `none` drops them on purpose."""

    NONE = "none"
    SLACK = "slack"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class ConfigKey:
    """One config key. `default=None` makes it required; `""` means unset (optional)."""

    name: str
    kind: Kind
    default: str | int | bool | tuple[str, ...] | None
    description: str
    secret: bool = False


def _image_key(service: Service, image: str) -> ConfigKey:
    return ConfigKey(f"{_camel(service)}Image", Kind.STRING, image,
                     f"Container image for {service}, pinned by tag or digest.")


def _memory_key(service: Service, mb: int) -> ConfigKey:
    return ConfigKey(f"{_camel(service)}MemoryMb", Kind.INTEGER, mb,
                     f"Memory limit of the {service} container, in MiB.")


def _bind_key(port: Port, default: str, what: str) -> ConfigKey:
    return ConfigKey(f"{port}Bind", Kind.STRING, default,
                     f"Host address and port that publish {what} (`ip:port`, or `none`).")


def _camel(service: Service) -> str:
    head, *rest = service.value.split("-")
    return head + "".join(part.title() for part in rest)


# Pinned releases: see ../shared/reference/STACK_FACTS.md. Never `latest`.
DEFAULT_IMAGES: Final[Mapping[Service, str]] = {
    Service.PROMETHEUS: "prom/prometheus:v3.14.0",
    Service.LOKI: "grafana/loki:3.7.6",
    Service.TEMPO: "grafana/tempo:3.0.3",
    Service.GRAFANA: "grafana/grafana:13.2.0",
    Service.ALERTMANAGER: "prom/alertmanager:v0.34.0",
    Service.REDIS_EXPORTER: "oliver006/redis_exporter:v1.88.0-alpine",
}

DEFAULT_MEMORY_MB: Final[Mapping[Service, int]] = {
    Service.PROMETHEUS: 2048,
    Service.LOKI: 1024,
    Service.TEMPO: 1024,
    Service.GRAFANA: 512,
    Service.ALERTMANAGER: 128,
    Service.REDIS_EXPORTER: 64,
}

# Container-side ports; the host side comes from the `*Bind` keys.
CONTAINER_PORTS: Final[Mapping[Port, int]] = {
    Port.PROMETHEUS: 9090,
    Port.LOKI: 3100,
    Port.TEMPO_HTTP: 3200,
    Port.TEMPO_OTLP_GRPC: 4317,
    Port.TEMPO_OTLP_HTTP: 4318,
    Port.GRAFANA: 3000,
    Port.ALERTMANAGER: 9093,
}

KEYS: Final[tuple[ConfigKey, ...]] = (
    ConfigKey("environment", Kind.STRING, "",
              "Value of the `env` label on every series and of the dashboards' env variable "
              "(default: the stack name)."),
    ConfigKey("metricsRetentionTime", Kind.STRING, "15d",
              "How long Prometheus keeps samples (Prometheus duration, e.g. `15d`)."),
    ConfigKey("metricsRetentionSize", Kind.STRING, "20GB",
              "Disk budget of the Prometheus TSDB (e.g. `20GB`; units B, KB, MB, GB, TB)."),
    ConfigKey("logsRetention", Kind.STRING, "7d",
              "How long Loki keeps logs (duration, at least 24h)."),
    ConfigKey("tracesRetention", Kind.STRING, "72h",
              "How long Tempo keeps traces (duration)."),
    ConfigKey("scrapeInterval", Kind.STRING, "15s",
              "Default scrape interval of every job."),
    ConfigKey("evaluationInterval", Kind.STRING, "30s",
              "How often Prometheus evaluates recording and alerting rules."),
    ConfigKey("backendMetricsUrl", Kind.STRING, None,
              "Full URL of the GatewayZ backend's metrics endpoint for this environment "
              "(required; `https://host[:port]/path`)."),
    ConfigKey("backendScrapeInterval", Kind.STRING, "15s",
              "Scrape interval of the backend job."),
    ConfigKey("backendScrapeTimeout", Kind.STRING, "10s",
              "Scrape timeout of the backend job (not longer than its interval)."),
    ConfigKey("backendAuth", Kind.STRING, BackendAuth.NONE.value,
              "How Prometheus authenticates to the backend: `none` or `bearer` "
              "(then `backendBearerToken` is required)."),
    ConfigKey("backendBearerToken", Kind.STRING, "",
              "Bearer token for the backend's metrics endpoint (secret).", secret=True),
    ConfigKey("extraTargets", Kind.ARRAY, (),
              "More scrape targets, each `job=<name> url=<scheme://host/path> env=<label>` "
              "with optional `interval=<dur>` and `timeout=<dur>`."),
    ConfigKey("redisAddress", Kind.STRING, "",
              "Redis the exporter watches (`redis://host:port` or `rediss://host:port`); "
              "unset: no Redis is watched and no exporter runs."),
    ConfigKey("redisUser", Kind.STRING, "",
              "Redis ACL user for the exporter (empty: the default user)."),
    ConfigKey("redisAuth", Kind.STRING, RedisAuth.NONE.value,
              "`none` or `password` (then `redisPassword` is required)."),
    ConfigKey("redisPassword", Kind.STRING, "",
              "Password of the watched Redis (secret).", secret=True),
    ConfigKey("grafanaUrl", Kind.STRING, "",
              "URL the operator running Pulumi reaches Grafana on, for the Grafana provider "
              "(default: from `grafanaBind`)."),
    ConfigKey("grafanaAdminUser", Kind.STRING, "admin", "Grafana admin login."),
    ConfigKey("grafanaAdminPassword", Kind.STRING, "",
              "Grafana admin password (secret; generated when unset).", secret=True),
    ConfigKey("protectData", Kind.BOOLEAN, False,
              "Protect data volumes and retain them on delete (production)."),
    ConfigKey("logMaxSize", Kind.STRING, "10m",
              "json-file log rotation: size of one container log file (e.g. `10m`)."),
    ConfigKey("logMaxFile", Kind.INTEGER, 5,
              "json-file log rotation: how many files are kept per container."),
    *(_image_key(service, image) for service, image in DEFAULT_IMAGES.items()),
    *(_memory_key(service, mb) for service, mb in DEFAULT_MEMORY_MB.items()),
    _bind_key(Port.PROMETHEUS, "127.0.0.1:9090", "the Prometheus UI and API"),
    _bind_key(Port.LOKI, "127.0.0.1:3100", "Loki's push and query API"),
    _bind_key(Port.TEMPO_HTTP, "127.0.0.1:3200", "Tempo's query API"),
    _bind_key(Port.TEMPO_OTLP_GRPC, "127.0.0.1:4317", "Tempo's OTLP gRPC receiver"),
    _bind_key(Port.TEMPO_OTLP_HTTP, "127.0.0.1:4318", "Tempo's OTLP HTTP receiver"),
    _bind_key(Port.GRAFANA, "127.0.0.1:3000", "Grafana"),
    _bind_key(Port.ALERTMANAGER, "127.0.0.1:9093", "the Alertmanager UI and API"),
    ConfigKey("alertCriticalReceiver", Kind.STRING, Receiver.NONE.value,
              "Where critical alerts go: `none`, `slack` or `webhook`."),
    ConfigKey("alertWarningReceiver", Kind.STRING, Receiver.NONE.value,
              "Where warning alerts go: `none`, `slack` or `webhook`."),
    ConfigKey("alertInfoReceiver", Kind.STRING, Receiver.NONE.value,
              "Where info alerts go: `none`, `slack` or `webhook`."),
    ConfigKey("alertSlackChannel", Kind.STRING, "#gatewayz-alerts",
              "Slack channel for alerts routed to `slack`."),
    ConfigKey("alertSlackWebhookUrl", Kind.STRING, "",
              "Slack incoming-webhook URL (secret; required when a severity routes to `slack`).",
              secret=True),
    ConfigKey("alertWebhookUrl", Kind.STRING, "",
              "Generic webhook URL, e.g. a pager (secret; required when a severity routes to "
              "`webhook`).", secret=True),
    ConfigKey("alertHeartbeat", Kind.BOOLEAN, False,
              "Send the always-firing `Watchdog` alert to a dead man's switch at "
              "`alertHeartbeatUrl` (then required), which pages when the pings stop."),
    ConfigKey("alertHeartbeatUrl", Kind.STRING, "",
              "Dead man's switch the `Watchdog` pings, e.g. a healthchecks.io check or an "
              "Opsgenie or PagerDuty heartbeat URL (secret; required when `alertHeartbeat` is "
              "true).", secret=True),
    ConfigKey("alertHeartbeatRepeatInterval", Kind.STRING, "5m",
              "How often the `Watchdog` pings `alertHeartbeatUrl` (1m to 1h); give the "
              "heartbeat service this period and a grace of a few periods."),
    ConfigKey("alertErrorRatioPercent", Kind.INTEGER, 5,
              "Backend 5xx share of requests that raises an alert, in percent."),
    ConfigKey("alertLatencyP95Ms", Kind.INTEGER, 2000,
              "Backend p95 request latency that raises an alert, in ms."),
    ConfigKey("alertTtfbP95Ms", Kind.INTEGER, 2000,
              "Backend p95 time to first byte that raises an alert, in ms."),
    ConfigKey("alertStreamingP95Ms", Kind.INTEGER, 1500,
              "p95 streaming duration that raises an alert, in ms."),
    ConfigKey("alertInferenceErrorRatioPercent", Kind.INTEGER, 10,
              "Failed share of model inference requests per model and provider, in percent."),
    ConfigKey("alertInferenceP95Ms", Kind.INTEGER, 10000,
              "p95 model inference duration per model and provider, in ms."),
    ConfigKey("alertRateLimitedPerSecond", Kind.INTEGER, 5,
              "Rate-limited requests per second that count as a surge."),
    ConfigKey("alertRedisMemoryPercent", Kind.INTEGER, 90,
              "Redis memory use against its maxmemory, in percent."),
    ConfigKey("alertDiskPercent", Kind.INTEGER, 85,
              "Prometheus TSDB size against `metricsRetentionSize`, in percent."),
    ConfigKey("alertNotificationErrorPercent", Kind.INTEGER, 1,
              "Failed share of alert notifications, Prometheus to Alertmanager and Alertmanager "
              "to each integration, in percent (the upstream mixins' 1%)."),
    ConfigKey("alertLokiErrorPercent", Kind.INTEGER, 10,
              "Share of Loki requests per route answered with 5xx, in percent (loki-mixin: 10)."),
    ConfigKey("alertLokiRetentionStaleHours", Kind.INTEGER, 3,
              "Hours without a successful Loki retention run that raise an alert (the compactor "
              "runs every 10m; loki-mixin: 3)."),
)

KEYS_BY_NAME: Final[Mapping[str, ConfigKey]] = {key.name: key for key in KEYS}


# --- value types -----------------------------------------------------------------------------

_DURATION_UNITS: Final[Mapping[str, int]] = {
    "y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1,
}
# Prometheus' duration grammar (units in descending order, each at most once), minus `ms`:
# nothing here is meant to be shorter than a second.
_DURATION_RE: Final = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_SIZE_RE: Final = re.compile(r"^([1-9]\d*)(B|KB|MB|GB|TB|PB)$")
_LOG_SIZE_RE: Final = re.compile(r"^[1-9]\d*[kmg]$")
_ENV_RE: Final = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_JOB_RE: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_HOST_RE: Final = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_IPV4_RE: Final = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
_IMAGE_RE: Final = re.compile(
    r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@sha256:[a-f0-9]{64})?$"
)


@dataclass(frozen=True, order=True)
class Duration:
    """A whole number of seconds, rendered in the one form Prometheus, Loki and Tempo all parse."""

    seconds: int

    def __str__(self) -> str:
        # Go's time.ParseDuration knows no `d`, so whole hours are the common ground.
        for unit, size in (("h", 3600), ("m", 60)):
            if self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"


@dataclass(frozen=True)
class Binding:
    """Where a container port is published on the host; None when it is not published."""

    host_ip: str
    port: int


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    scheme: str
    address: str
    metrics_path: str
    env: str
    interval: Duration
    timeout: Duration
    auth: BackendAuth = BackendAuth.NONE

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}{self.metrics_path}"


@dataclass(frozen=True)
class Retention:
    metrics_time: Duration
    metrics_size: str
    logs: Duration
    traces: Duration


@dataclass(frozen=True)
class Redis:
    address: str
    user: str
    auth: RedisAuth


@dataclass(frozen=True)
class Grafana:
    url: str
    admin_user: str


@dataclass(frozen=True)
class AlertThresholds:
    error_ratio: float
    latency_p95_seconds: float
    ttfb_p95_seconds: float
    streaming_p95_seconds: float
    inference_error_ratio: float
    inference_p95_seconds: float
    rate_limited_per_second: int
    redis_memory_ratio: float
    disk_ratio: float
    notification_error_ratio: float
    loki_error_ratio: float
    loki_retention_stale_seconds: int


@dataclass(frozen=True)
class Alerting:
    receivers: Mapping[Severity, Receiver]
    slack_channel: str
    thresholds: AlertThresholds
    # How often the Watchdog pings the dead man's switch; None: the stack has none, and the
    # Watchdog reaches no one.
    heartbeat_interval: Duration | None

    def uses(self, receiver: Receiver) -> bool:
        return receiver in self.receivers.values()


@dataclass(frozen=True)
class Settings:
    stack: str
    environment: str
    retention: Retention
    scrape_interval: Duration
    evaluation_interval: Duration
    backend: ScrapeTarget
    extra_targets: tuple[ScrapeTarget, ...]
    # None: this stack watches no Redis, so no exporter runs.
    redis: Redis | None
    grafana: Grafana
    images: Mapping[Service, str]
    memory_mb: Mapping[Service, int]
    bindings: Mapping[Port, Binding | None]
    log_max_size: str
    log_max_file: int
    protect_data: bool
    alerting: Alerting


@dataclass(frozen=True)
class Secrets:
    """Secret config as Pulumi secrets; None where the stack does not set it."""

    backend_bearer_token: pulumi.Output[str] | None
    redis_password: pulumi.Output[str] | None
    grafana_admin_password: pulumi.Output[str] | None
    alert_slack_webhook_url: pulumi.Output[str] | None
    alert_webhook_url: pulumi.Output[str] | None
    alert_heartbeat_url: pulumi.Output[str] | None


class SettingsError(ValueError):
    """Every problem found in a stack's config, one line each, naming the key."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"stack {stack!r} has {len(problems)} invalid setting(s):\n{lines}")


# --- parsing ---------------------------------------------------------------------------------


_E = TypeVar("_E", bound=StrEnum)


class _Parser:
    """Reads raw string values, recording each problem instead of stopping at the first."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = raw
        self.problems: list[str] = []

    def fail(self, key: str, value: object, accepted: str) -> None:
        self.problems.append(f"{PROJECT}:{key} = {value!r}: expected {accepted}")

    def text(self, name: str) -> str:
        value = self.raw.get(name)
        if value is not None:
            return value
        default = KEYS_BY_NAME[name].default
        return default if isinstance(default, str) else ""

    def required(self, name: str) -> str:
        value = self.raw.get(name, "")
        if not value:
            self.problems.append(f"{PROJECT}:{name} is required: {KEYS_BY_NAME[name].description}")
        return value

    def integer(self, name: str, minimum: int, maximum: int) -> int:
        default = KEYS_BY_NAME[name].default
        assert isinstance(default, int)
        value = self.raw.get(name)
        if value is None:
            return default
        if not re.fullmatch(r"-?\d+", value) or not minimum <= int(value) <= maximum:
            self.fail(name, value, f"a whole number from {minimum} to {maximum}")
            return default
        return int(value)

    def boolean(self, name: str) -> bool:
        default = KEYS_BY_NAME[name].default
        assert isinstance(default, bool)
        value = self.raw.get(name)
        if value is None:
            return default
        if value not in ("true", "false"):
            self.fail(name, value, "true or false")
            return default
        return value == "true"

    def duration(self, name: str, value: str | None = None, minimum: int = 1) -> Duration:
        text = self.text(name) if value is None else value
        seconds = parse_duration(text)
        if seconds is None or seconds < minimum:
            least = f", at least {Duration(minimum)}" if minimum > 1 else ""
            self.fail(name, text, f"a duration such as 30s, 15m, 72h, 7d or 4w{least}")
            return Duration(minimum)
        return Duration(seconds)

    def choice(self, name: str, enum: type[_E]) -> _E:
        text = self.text(name)
        try:
            return enum(text)
        except ValueError:
            self.fail(name, text, "one of " + ", ".join(member.value for member in enum))
            return next(iter(enum))

    def array(self, name: str) -> list[str]:
        value = self.raw.get(name)
        if value is None:
            return []
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            self.fail(name, value, "a list of strings")
            return []
        return items


def parse_duration(text: str) -> int | None:
    """Seconds in a Prometheus-style duration, or None when it is not one."""
    match = _DURATION_RE.match(text)
    if not text or match is None:
        return None
    return sum(int(count) * size
               for count, size in zip(match.groups(), _DURATION_UNITS.values(), strict=True)
               if count)


def _parse_url(parser: _Parser, key: str, text: str) -> tuple[str, str, str] | None:
    """(scheme, host[:port], path) of an http(s) metrics URL, or None after recording why not."""
    accepted = "an http:// or https:// URL with a host, e.g. https://api.example.com/metrics"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parser.fail(key, text, accepted)
        return None
    if (parts.scheme not in ("http", "https") or not parts.hostname
            or not _HOST_RE.match(parts.hostname) or parts.query or parts.fragment
            or parts.username or parts.password):
        # Credentials in a URL would land in plain YAML: they belong in a secret instead.
        parser.fail(key, text, accepted + " (no credentials, query or fragment)")
        return None
    address = parts.hostname if port is None else f"{parts.hostname}:{port}"
    return parts.scheme, address, parts.path or "/metrics"


def _parse_target(parser: _Parser, key: str, item: str,
                  defaults: ScrapeTarget) -> ScrapeTarget | None:
    fields = ("job", "url", "env", "interval", "timeout")
    accepted = "`job=<name> url=<http(s) URL> env=<label>` and optional `interval=`, `timeout=`"
    try:
        pairs = dict(token.split("=", 1) for token in shlex.split(item))
    except ValueError:
        parser.fail(key, item, accepted)
        return None
    unknown = sorted(set(pairs) - set(fields))
    missing = [field for field in ("job", "url", "env") if field not in pairs]
    if unknown or missing:
        detail = "; ".join(filter(None, (
            f"unknown field(s) {', '.join(unknown)}" if unknown else "",
            f"missing {', '.join(missing)}" if missing else "")))
        parser.fail(key, item, f"{accepted} ({detail})")
        return None
    if not _JOB_RE.match(pairs["job"]):
        parser.fail(key, item, "job names of letters, digits and underscores")
    if not _ENV_RE.match(pairs["env"]):
        parser.fail(key, item, "env labels of lower-case letters, digits, - and _")
    url = _parse_url(parser, key, pairs["url"])
    interval = parser.duration(key, pairs["interval"]) if "interval" in pairs else defaults.interval
    timeout = parser.duration(key, pairs["timeout"]) if "timeout" in pairs else defaults.timeout
    if url is None:
        return None
    return ScrapeTarget(pairs["job"], *url, env=pairs["env"], interval=interval, timeout=timeout)


def _parse_bind(parser: _Parser, port: Port) -> Binding | None:
    name = f"{port}Bind"
    text = parser.text(name)
    if text == "none":
        return None
    host, _, number = text.rpartition(":")
    octets = _IPV4_RE.match(host)
    if (octets is None or any(int(o) > 255 for o in octets.groups())
            or not number.isdigit() or not 1 <= int(number) <= 65535):
        parser.fail(name, text, "`<IPv4 address>:<port>` such as 127.0.0.1:9090, or `none`")
        return None
    return Binding(host, int(number))


def _valid_redis_address(text: str) -> bool:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return False
    return (parts.scheme in ("redis", "rediss") and bool(parts.hostname) and port is not None
            and _HOST_RE.match(parts.hostname or "") is not None and not parts.username
            and not parts.password and parts.path in ("", "/") and not parts.query)


def _check_image(parser: _Parser, name: str, image: str) -> None:
    match = _IMAGE_RE.match(image)
    if match is None or (match["tag"] in (None, "latest") and "@sha256:" not in image):
        parser.fail(name, image, "an image pinned to a version tag or digest, "
                                 "e.g. grafana/loki:3.7.6 (never `latest`)")


def parse_settings(stack: str, raw: Mapping[str, str], secrets_set: frozenset[str],
                   plain_secrets: frozenset[str] = frozenset()) -> Settings:
    """Build Settings from raw config strings (keys without the project prefix).

    `secrets_set` names the secret keys the stack sets; `plain_secrets` those set without
    `--secret`, which would leave the value readable in the stack file.
    """
    parser = _Parser(raw)
    for name in sorted(set(raw) - set(KEYS_BY_NAME)):
        parser.problems.append(f"{PROJECT}:{name} is not a known key; known keys are listed in "
                               "Pulumi.yaml and the README")
    for name in sorted(plain_secrets):
        parser.problems.append(f"{PROJECT}:{name} is a secret: set it with "
                               f"`pulumi config set --secret {name} <value>`")

    environment = raw.get("environment") or stack
    if not _ENV_RE.match(environment):
        parser.fail("environment", environment, "lower-case letters, digits, - and _ "
                                                "(at most 32), starting with a letter")

    retention = Retention(
        metrics_time=parser.duration("metricsRetentionTime", minimum=3600),
        metrics_size=parser.text("metricsRetentionSize"),
        logs=parser.duration("logsRetention", minimum=86400),
        traces=parser.duration("tracesRetention", minimum=3600),
    )
    if not _SIZE_RE.match(retention.metrics_size):
        parser.fail("metricsRetentionSize", retention.metrics_size,
                    "a positive size with a unit B, KB, MB, GB, TB or PB, e.g. 20GB")

    auth = parser.choice("backendAuth", BackendAuth)
    backend_text = parser.required("backendMetricsUrl")
    backend_url = _parse_url(parser, "backendMetricsUrl", backend_text) if backend_text else None
    backend = ScrapeTarget(
        f"gatewayz_{environment.replace('-', '_')}", *(backend_url or ("https", "invalid", "/")),
        env=environment,
        interval=parser.duration("backendScrapeInterval"),
        timeout=parser.duration("backendScrapeTimeout"),
        auth=auth,
    )
    extra_targets = tuple(
        target for item in parser.array("extraTargets")
        if (target := _parse_target(parser, "extraTargets", item, backend)) is not None)
    for key, target in (("backendScrapeTimeout", backend),
                        *(("extraTargets", extra) for extra in extra_targets)):
        if target.timeout > target.interval:
            parser.fail(key, str(target.timeout), f"a scrape timeout no longer than job "
                                                  f"{target.job}'s interval {target.interval}")

    redis_auth = parser.choice("redisAuth", RedisAuth)
    redis_address = parser.text("redisAddress")
    redis = Redis(redis_address, parser.text("redisUser"), redis_auth) if redis_address else None
    if redis is not None and not _valid_redis_address(redis_address):
        parser.fail("redisAddress", redis_address,
                    "`redis://host:port` or `rediss://host:port`, without credentials")
    if redis is None and redis_auth is RedisAuth.PASSWORD:
        parser.problems.append(f"{PROJECT}:redisAuth is `password` but no redisAddress is set")

    receivers = {severity: parser.choice(f"alert{severity.title()}Receiver", Receiver)
                 for severity in Severity}
    heartbeat = _parse_heartbeat(parser)
    _check_required_secrets(parser, secrets_set, {
        "backendBearerToken": auth is BackendAuth.BEARER,
        "redisPassword": redis_auth is RedisAuth.PASSWORD,
        "alertSlackWebhookUrl": Receiver.SLACK in receivers.values(),
        "alertWebhookUrl": Receiver.WEBHOOK in receivers.values(),
        "alertHeartbeatUrl": heartbeat is not None,
    })

    images = {service: parser.text(f"{_camel(service)}Image") for service in Service}
    for service, image in images.items():
        _check_image(parser, f"{_camel(service)}Image", image)
    memory = {service: parser.integer(f"{_camel(service)}MemoryMb", 32, 65536)
              for service in Service}
    bindings = {port: _parse_bind(parser, port) for port in Port}

    grafana_bind = bindings[Port.GRAFANA]
    default_grafana_url = (f"http://{grafana_bind.host_ip.replace('0.0.0.0', '127.0.0.1')}:"
                           f"{grafana_bind.port}" if grafana_bind else "")
    grafana_url = raw.get("grafanaUrl") or default_grafana_url
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", grafana_url):
        parser.fail("grafanaUrl", grafana_url,
                    "an http(s) URL to reach Grafana (needed when `grafanaBind` is `none`)")

    log_max_size = parser.text("logMaxSize")
    if not _LOG_SIZE_RE.match(log_max_size):
        parser.fail("logMaxSize", log_max_size, "a size with unit k, m or g, e.g. 10m")

    thresholds = AlertThresholds(
        error_ratio=parser.integer("alertErrorRatioPercent", 1, 100) / 100,
        latency_p95_seconds=parser.integer("alertLatencyP95Ms", 1, 600_000) / 1000,
        ttfb_p95_seconds=parser.integer("alertTtfbP95Ms", 1, 600_000) / 1000,
        streaming_p95_seconds=parser.integer("alertStreamingP95Ms", 1, 3_600_000) / 1000,
        inference_error_ratio=parser.integer("alertInferenceErrorRatioPercent", 1, 100) / 100,
        inference_p95_seconds=parser.integer("alertInferenceP95Ms", 1, 3_600_000) / 1000,
        rate_limited_per_second=parser.integer("alertRateLimitedPerSecond", 1, 1_000_000),
        redis_memory_ratio=parser.integer("alertRedisMemoryPercent", 1, 100) / 100,
        disk_ratio=parser.integer("alertDiskPercent", 1, 100) / 100,
        notification_error_ratio=parser.integer("alertNotificationErrorPercent", 1, 100) / 100,
        loki_error_ratio=parser.integer("alertLokiErrorPercent", 1, 100) / 100,
        loki_retention_stale_seconds=parser.integer("alertLokiRetentionStaleHours", 1, 168)
        * 3600,
    )

    settings = Settings(
        stack=stack,
        environment=environment,
        retention=retention,
        scrape_interval=parser.duration("scrapeInterval"),
        evaluation_interval=parser.duration("evaluationInterval"),
        backend=backend,
        extra_targets=extra_targets,
        redis=redis,
        grafana=Grafana(grafana_url, parser.text("grafanaAdminUser") or "admin"),
        images=images,
        memory_mb=memory,
        bindings=bindings,
        log_max_size=log_max_size,
        log_max_file=parser.integer("logMaxFile", 1, 100),
        protect_data=parser.boolean("protectData"),
        alerting=Alerting(receivers, parser.text("alertSlackChannel"), thresholds, heartbeat),
    )
    _check_unique_jobs(parser, settings)
    if parser.problems:
        raise SettingsError(stack, parser.problems)
    return settings


def _parse_heartbeat(parser: _Parser) -> Duration | None:
    """The Watchdog's repeat interval where the stack has a dead man's switch, else None."""
    enabled = parser.boolean("alertHeartbeat")
    interval = parser.duration("alertHeartbeatRepeatInterval", minimum=60)
    if interval.seconds > 3600:
        # Longer, and a dead alerting chain goes unnoticed for hours.
        parser.fail("alertHeartbeatRepeatInterval", parser.text("alertHeartbeatRepeatInterval"),
                    "a duration from 1m to 1h")
    return interval if enabled else None


def _check_required_secrets(parser: _Parser, secrets_set: frozenset[str],
                            needed: Mapping[str, bool]) -> None:
    for name, required in needed.items():
        if required and name not in secrets_set:
            parser.problems.append(f"{PROJECT}:{name} is required by this stack's settings: "
                                   f"set it with `pulumi config set --secret {name} <value>`")


def _check_unique_jobs(parser: _Parser, settings: Settings) -> None:
    """Two jobs on one endpoint double every series; two jobs of one name break Prometheus."""
    seen_jobs = {service.job for service in Service}
    seen_urls: set[str] = set()
    for target in (settings.backend, *settings.extra_targets):
        if target.job in seen_jobs:
            parser.problems.append(f"{PROJECT}:extraTargets: job {target.job!r} is already used")
        if target.url in seen_urls:
            parser.problems.append(f"{PROJECT}:extraTargets: {target.url} is already scraped")
        seen_jobs.add(target.job)
        seen_urls.add(target.url)


def load_settings() -> tuple[Settings, Secrets]:
    """Read and validate this stack's config; raises SettingsError listing every problem."""
    # Imported here so that the pure builders in configs/ can use these types without Pulumi.
    import pulumi  # noqa: PLC0415
    from pulumi.runtime import config as runtime_config  # noqa: PLC0415

    prefix = f"{PROJECT}:"
    present = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    names = {key[len(prefix):] for key in present if key.startswith(prefix)}
    secret_names = {key.name for key in KEYS if key.secret}
    # The CLI applies Pulumi.yaml's empty defaults, so an empty secret is an unset one.
    secrets_set = frozenset(name for name in names & secret_names
                            if runtime_config.get_config(prefix + name))
    plain_secrets = frozenset(name for name in secrets_set
                              if not runtime_config.is_config_secret(prefix + name))
    raw = {name: _config_text(runtime_config.get_config(prefix + name))
           for name in names - secret_names}
    settings = parse_settings(pulumi.get_stack(), raw, secrets_set, plain_secrets)

    config = pulumi.Config(PROJECT)

    def secret(name: str) -> pulumi.Output[str] | None:
        return config.require_secret(name) if name in secrets_set else None

    secrets = Secrets(
        backend_bearer_token=secret("backendBearerToken"),
        redis_password=secret("redisPassword"),
        grafana_admin_password=secret("grafanaAdminPassword"),
        alert_slack_webhook_url=secret("alertSlackWebhookUrl"),
        alert_webhook_url=secret("alertWebhookUrl"),
        alert_heartbeat_url=secret("alertHeartbeatUrl"),
    )
    return settings, secrets


def _config_text(value: object) -> str:
    """Config as the language host hands it over: strings, with lists as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


__all__ = [
    "CONTAINER_PORTS",
    "KEYS",
    "AlertThresholds",
    "Alerting",
    "BackendAuth",
    "Binding",
    "ConfigKey",
    "Duration",
    "Kind",
    "Port",
    "Receiver",
    "Redis",
    "RedisAuth",
    "Retention",
    "ScrapeTarget",
    "Secrets",
    "Service",
    "Settings",
    "SettingsError",
    "Severity",
    "load_settings",
    "parse_settings",
]

"""The schema: every config key the program accepts, with its type, default and description.

`Pulumi.yaml` and the README table are generated from `KEYS` (`make docs`) and checked against it
by the tests. Defaults live here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from services import Port, Service, container_port
from settings.model import BackendAuth, Kind, Receiver, RedisAuth


@dataclass(frozen=True)
class ConfigKey:
    """One config key. `default=None` makes it required; `""` means unset (optional)."""

    name: str
    kind: Kind
    default: str | int | bool | tuple[str, ...] | None
    description: str
    secret: bool = False


def _image_key(service: Service, image: str) -> ConfigKey:
    return ConfigKey(f"{camel(service)}Image", Kind.STRING, image,
                     f"Container image for {service}, pinned by tag or digest.")


def _memory_key(service: Service, mb: int) -> ConfigKey:
    return ConfigKey(f"{camel(service)}MemoryMb", Kind.INTEGER, mb,
                     f"Memory limit of the {service} container, in MiB.")


def _cpu_key(service: Service, millis: int) -> ConfigKey:
    return ConfigKey(f"{camel(service)}CpuMillis", Kind.INTEGER, millis,
                     f"CPU limit of the {service} container, in thousandths of a CPU (1000: one "
                     "CPU, Docker's `--cpus` times 1000); at most the Docker host's CPUs, which "
                     "Docker checks when it creates the container.")


def _bind_key(port: Port, what: str) -> ConfigKey:
    # Published on the Docker host's loopback, on the port the container listens on.
    return ConfigKey(f"{port}Bind", Kind.STRING, f"127.0.0.1:{container_port(port)}",
                     f"Host address and port that publish {what} (`ip:port`, or `none`).")


def camel(service: Service) -> str:
    head, *rest = service.value.split("-")
    return head + "".join(part.title() for part in rest)


# Pinned releases, each a tag its project publishes (prometheus/prometheus v3.14.0,
# grafana/loki v3.7.6, grafana/tempo v3.0.3, grafana/grafana v13.2.0, prometheus/alertmanager
# v0.34.0, oliver006/redis_exporter v1.88.0 on GitHub). Never `latest`.
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

# Beside the memory limit, so one busy service cannot take the host's CPUs from the others.
# At most one CPU each, so the defaults fit the smallest Docker host (Docker refuses a container
# whose limit exceeds the host's CPUs); kube-prometheus limits Grafana to 0.2 and Alertmanager
# to 0.1, which dashboards and a notification burst outgrow here.
DEFAULT_CPU_MILLIS: Final[Mapping[Service, int]] = {
    Service.PROMETHEUS: 1000,
    Service.LOKI: 1000,
    Service.TEMPO: 1000,
    Service.GRAFANA: 500,
    Service.ALERTMANAGER: 250,
    Service.REDIS_EXPORTER: 250,
}

# The shortest Grafana admin password accepted from config (a generated one has 32 characters).
GRAFANA_PASSWORD_MIN_LENGTH: Final = 16

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
              f"Grafana admin password (secret, at least {GRAFANA_PASSWORD_MIN_LENGTH} "
              "characters; generated when unset).", secret=True),
    ConfigKey("grafanaSecretKey", Kind.STRING, "",
              "Grafana's `secret_key`, which signs its cookies and encrypts its stored secrets "
              "(secret; generated once when unset, and kept).", secret=True),
    ConfigKey("grafanaMetricsPassword", Kind.STRING, "",
              "Password of Grafana's `/metrics` (basic auth, user `prometheus`), which "
              "Prometheus reads from a file (secret; generated when unset).", secret=True),
    ConfigKey("protectData", Kind.BOOLEAN, False,
              "Protect data volumes and retain them on delete (production)."),
    ConfigKey("logMaxSize", Kind.STRING, "10m",
              "json-file log rotation: size of one container log file (e.g. `10m`)."),
    ConfigKey("logMaxFile", Kind.INTEGER, 5,
              "json-file log rotation: how many files are kept per container."),
    *(_image_key(service, image) for service, image in DEFAULT_IMAGES.items()),
    *(_memory_key(service, mb) for service, mb in DEFAULT_MEMORY_MB.items()),
    *(_cpu_key(service, millis) for service, millis in DEFAULT_CPU_MILLIS.items()),
    _bind_key(Port.PROMETHEUS, "the Prometheus UI and API"),
    _bind_key(Port.LOKI, "Loki's push and query API"),
    _bind_key(Port.TEMPO_HTTP, "Tempo's query API"),
    _bind_key(Port.TEMPO_OTLP_GRPC, "Tempo's OTLP gRPC receiver"),
    _bind_key(Port.TEMPO_OTLP_HTTP, "Tempo's OTLP HTTP receiver"),
    _bind_key(Port.GRAFANA, "Grafana"),
    _bind_key(Port.ALERTMANAGER, "the Alertmanager UI and API"),
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

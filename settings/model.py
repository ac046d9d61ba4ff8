"""The settings' vocabulary: closed sets as enums, values as frozen types, the tree `parse` builds.

Nothing here reads config or imports Pulumi at run time, so the pure builders in configs/ use
these types as plain data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from services import (
    SERVICES,
    Listener,
    LokiTarget,
    Published,
    Service,
    docker_prefix,
    internal_url,
)

if TYPE_CHECKING:
    import pulumi

PROJECT: Final = "gatewayz-observability"
# The stack (by name or by `environment`) whose data volumes must be protected; the policy pack's
# PRODUCTION_STACKS says the same.
PRODUCTION: Final = "production"


class Kind(StrEnum):
    """Value types a Pulumi project can declare for a config key."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ARRAY = "array"


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


class Platform(StrEnum):
    """What runs the stack's services: one Docker host, or a Kubernetes cluster."""

    DOCKER = "docker"
    KUBERNETES = "kubernetes"


class Receiver(StrEnum):
    """Where alerts of one severity go; `none` drops them on purpose."""

    NONE = "none"
    SLACK = "slack"
    WEBHOOK = "webhook"



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



# `storage.tsdb.retention.size` is base 2: "1KB is 1024B" (prometheus/prometheus v3.14.0
# cmd/prometheus/main.go, units.Base2Bytes).
_SIZE_UNITS: Final[Mapping[str, int]] = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5}
# ASCII digits only: `\d` and int() take any script's digits, which no service parses.
_SIZE_RE: Final = re.compile(r"([1-9][0-9]*)(B|KB|MB|GB|TB|PB)")


@dataclass(frozen=True)
class Size:
    """A disk budget as Prometheus writes it (`20GB`), and the bytes Prometheus counts in it."""

    count: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> Size | None:
        """The size in `text`, or None when it is not one."""
        match = _SIZE_RE.fullmatch(text)
        return None if match is None else cls(int(match[1]), match[2])

    @classmethod
    def of_bytes(cls, count: int) -> Size:
        """`count` bytes in the largest unit that holds it whole (`1073741824` -> `1GB`)."""
        for unit, power in reversed(list(_SIZE_UNITS.items())):
            if count % (1 << (10 * power)) == 0:
                return cls(count >> (10 * power), unit)
        raise AssertionError("every count divides by 1B")

    @property
    def bytes(self) -> int:
        return self.count << (10 * _SIZE_UNITS[self.unit])

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


def provider_cpus(millis: int) -> str:
    """A CPU limit in thousandths of a CPU as Docker's `--cpus`, written as the docker provider
    reads `cpus` back from the engine's NanoCpus (kreuzwerker/terraform-provider-docker
    `nanoInt64ToDecimalString`: `1.0`, `0.5`, `0.25`), so no preview shows a change. That
    reading rounds a few values to one decimal (`0.05` reads `0.1`): `cpus_read_back_exact`."""
    nano = millis * 1_000_000
    whole, rest = divmod(nano, 1_000_000_000)
    nine = f"{whole}.{rest:09d}"
    if nine.count("0") == 9:
        return f"{nano / 1_000_000_000:.1f}"
    return nine.rstrip("0")


def cpus_read_back_exact(millis: int) -> bool:
    """Whether the provider reads the limit back as the value it was given."""
    whole, _, fraction = provider_cpus(millis).partition(".")
    return int(whole) * 1000 + int(fraction.ljust(3, "0")[:3]) == millis and len(fraction) <= 3


@dataclass(frozen=True)
class Secret:
    """A secret key the stack sets, carried by the slice of settings that needs it: parsing
    makes one only where the settings ask for it and the stack sets it (else the key is named in
    the SettingsError). Its value only the program reads (settings.pulumi_config.reveal)."""

    key: str


@dataclass(frozen=True)
class Binding:
    """Where a container port is published on the host; None when it is not published."""

    host_ip: str
    port: int


def port_url(bindings: Mapping[Published, Binding | None], port: Published) -> str:
    """How an operator on the Docker host reaches a publishable port (`http://<ip>:<port>`,
    0.0.0.0 as 127.0.0.1); the in-network URL where the stack does not publish it. The stack's
    outputs and `make verify` both read it here, from the settings."""
    binding = bindings[port]
    if binding is None:
        facts = port.owner
        return internal_url(facts.service, facts.published[port].listener)
    host = "127.0.0.1" if binding.host_ip == "0.0.0.0" else binding.host_ip
    return f"http://{host}:{binding.port}"


def cluster_url(service: Service, namespace: str, listener: Listener = Listener.HTTP) -> str:
    """Where any pod of the cluster reaches a service on the Kubernetes platform: its Service
    (named by the Docker alias) by the name the cluster's DNS gives it, `<service>.<namespace>
    .svc` (kubernetes.io/docs, "DNS for Services and Pods"), on the container's port."""
    return f"http://{service}.{namespace}.svc:{SERVICES[service].listens[listener]}"


def ingress_url(host: str) -> str:
    """Grafana's URL through its Ingress: https, the controller terminating TLS for `host`."""
    return f"https://{host}"


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    scheme: str
    address: str
    metrics_path: str
    env: str
    interval: Duration
    timeout: Duration
    # The bearer token the job authenticates with; None: none.
    token: Secret | None = None

    @property
    def auth(self) -> BackendAuth:
        return BackendAuth.NONE if self.token is None else BackendAuth.BEARER

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}{self.metrics_path}"


@dataclass(frozen=True)
class Retention:
    metrics_time: Duration
    metrics_size: Size
    logs: Duration
    traces: Duration


@dataclass(frozen=True)
class Redis:
    address: str
    user: str
    # The password the exporter logs in with; None: none.
    password: Secret | None = None

    @property
    def auth(self) -> RedisAuth:
        return RedisAuth.NONE if self.password is None else RedisAuth.PASSWORD


@dataclass(frozen=True)
class GrafanaApi:
    """How the operator running Pulumi reaches Grafana's API (the Grafana provider)."""

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
class Heartbeat:
    """The dead man's switch the Watchdog pings: how often, and its URL."""

    interval: Duration
    url: Secret


@dataclass(frozen=True)
class Alerting:
    receivers: Mapping[Severity, Receiver]
    slack_channel: str
    thresholds: AlertThresholds
    # The URL of each receiver a severity routes to that needs one (Slack's, the webhook's).
    urls: Mapping[Receiver, Secret]
    # None: the stack has no dead man's switch, and the Watchdog reaches no one.
    heartbeat: Heartbeat | None
    # Where docs/alerts.md is read; each alert's runbook_url is this plus `#<its anchor>`.
    runbook_base: str

    @property
    def heartbeat_interval(self) -> Duration | None:
        """How often the Watchdog pings the dead man's switch, where the stack has one."""
        return None if self.heartbeat is None else self.heartbeat.interval

    def uses(self, receiver: Receiver) -> bool:
        return receiver in self.receivers.values()


@dataclass(frozen=True)
class ObjectStorage:
    """The S3-compatible storage Loki and Tempo keep their data in on Kubernetes: where it is,
    each one's bucket, and the key pair (secrets) both sign their requests with."""

    scheme: str
    # `host[:port]`, as Loki's and Tempo's S3 clients take an endpoint.
    endpoint: str
    region: str
    buckets: Mapping[Service, str]
    access_key_id: Secret
    secret_access_key: Secret

    @property
    def insecure(self) -> bool:
        """Whether requests go over plain http (a MinIO beside the cluster)."""
        return self.scheme == "http"


@dataclass(frozen=True)
class Kubernetes:
    """Where and how wide the Kubernetes platform runs the stack: its namespace (a DNS-1123
    label), replicas per service, the volumes each pod claims, the object storage of Loki and
    Tempo (None on the Docker platform, which keeps them on volumes), Grafana's Ingress."""

    namespace: str
    alertmanager_replicas: int
    prometheus_replicas: int
    loki_replicas: Mapping[LokiTarget, int]
    # None: the cluster's default StorageClass.
    storage_class: str | None
    storage: Mapping[Service, Size]
    object_storage: ObjectStorage | None
    # None: no Ingress.
    grafana_ingress_host: str | None
    ingress_class: str | None


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
    grafana: GrafanaApi
    images: Mapping[Service, str]
    memory_mb: Mapping[Service, int]
    cpu_millis: Mapping[Service, int]
    bindings: Mapping[Published, Binding | None]
    log_max_size: str
    log_max_file: int
    protect_data: bool
    alerting: Alerting
    platform: Platform
    kubernetes: Kubernetes

    @property
    def name_prefix(self) -> str:
        """What every Docker name of the stack (network, containers, volumes) starts with.

        From the stack's name, which is unique per backend, so two stacks on one Docker host never
        share a name, whatever their `environment` (only the `env` label) says."""
        return docker_prefix(self.stack)

    @property
    def production(self) -> bool:
        """Whether this is production, by the stack's name or by the label it gives its series."""
        return PRODUCTION in (self.stack, self.environment)

    @property
    def services(self) -> tuple[Service, ...]:
        """The services this stack runs, in `Service` order: every one, but redis_exporter only
        where a Redis is watched. The one place that decides it: the containers, scrape jobs,
        rule files, dashboards and panels, verify checks and diagram nodes of a service all
        follow it."""
        return tuple(service for service in Service
                     if service is not Service.REDIS_EXPORTER or self.redis is not None)

    def url(self, port: Published) -> str:
        """Where a publishable port of the stack is: on Docker, where this machine reaches it
        (`port_url`); on Kubernetes, its in-cluster URL (`cluster_url`), Grafana's being
        `grafana.url` (its Ingress's, where it has one). The stack's outputs read it here."""
        if self.platform is Platform.DOCKER:
            return port_url(self.bindings, port)
        if port is Published.GRAFANA:
            return self.grafana.url
        facts = port.owner
        return cluster_url(facts.service, self.kubernetes.namespace,
                           facts.published[port].listener)

    @property
    def external_targets(self) -> tuple[ScrapeTarget, ...]:
        """Every job that scrapes something outside the stack: the backend first, then extras."""
        return (self.backend, *self.extra_targets)

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Every secret the settings carry, each in the slice that needs it."""
        storage = self.kubernetes.object_storage
        found = (self.backend.token, self.redis.password if self.redis else None,
                 *self.alerting.urls.values(),
                 self.alerting.heartbeat.url if self.alerting.heartbeat else None,
                 *((storage.access_key_id, storage.secret_access_key) if storage else ()))
        return tuple(secret for secret in found if secret is not None)


@dataclass(frozen=True)
class Secrets:
    """The secrets the program generates where the stack leaves them unset (__main__.py), as
    Pulumi secrets; None where unset. Every other secret travels in its slice (`Secret`)."""

    grafana_admin_password: pulumi.Output[str] | None
    grafana_secret_key: pulumi.Output[str] | None
    grafana_metrics_password: pulumi.Output[str] | None


class SettingsError(ValueError):
    """Every problem found in a stack's config, one line each, naming the key."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"stack {stack!r} has {len(problems)} invalid setting(s):\n{lines}")


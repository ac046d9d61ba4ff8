"""What the stack runs: each service's fixed facts, one table row per service.

Ports, config path, data and secrets directories, the image's user and group, its healthcheck,
the ports a stack may publish, where it writes besides its data dir and the capabilities it
needs: what no stack changes. Settings (settings/) hold what a stack may change (images, memory
and CPU limits among them), configs/ build each service's files from both, components/ run
them. Each row also holds its defaults and what each published endpoint serves, from which
settings/keys.py makes its keys. This module imports
nothing of the project, so every other room can read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit


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


class Published(StrEnum):
    """The endpoints a stack may publish on its Docker host: each forwards a host port, set by
    its own bind key, to one listener of one service (`ServiceFacts.published`)."""

    PROMETHEUS = "prometheus"
    LOKI = "loki"
    TEMPO_HTTP = "tempoHttp"
    TEMPO_OTLP_GRPC = "tempoOtlpGrpc"
    TEMPO_OTLP_HTTP = "tempoOtlpHttp"
    GRAFANA = "grafana"
    ALERTMANAGER = "alertmanager"

    @property
    def bind_key(self) -> str:
        """The config key that says where the host publishes it."""
        return f"{self}Bind"

    @property
    def owner(self) -> ServiceFacts:
        """The service it forwards to."""
        (facts,) = (facts for facts in SERVICES.values() if self in facts.published)
        return facts

    @property
    def container_port(self) -> int:
        """The port it forwards to, inside the container."""
        facts = self.owner
        return facts.listens[facts.published[self].listener]


class Listener(StrEnum):
    """What a container port serves. HTTP is the API, /metrics and the health endpoint."""

    HTTP = "http"
    GRPC = "grpc"
    OTLP_GRPC = "otlp-grpc"
    OTLP_HTTP = "otlp-http"


@dataclass(frozen=True)
class Publication:
    """One listener a stack may publish: what it serves, for its bind key's description, the
    stack output (__main__.py) that says where it is (None: the stack does not export it), and
    the name a person reads for it (`make verify`'s UNREACHABLE lines)."""

    listener: Listener
    what: str
    output: str | None
    name: str


@dataclass(frozen=True)
class ServiceDefaults:
    """What a stack may change of one service, with its defaults: its image and where its
    project publishes images, its memory and CPU limits, and what publishing its ports beyond
    loopback risks. Each of its keys (settings/keys.py) is made from it."""

    # A release tag its project publishes, never `latest`.
    image: str
    # Docker Hub (also spelled `docker.io/...`) and the other registries its releases push
    # to. An image of another repository is another service.
    upstream: tuple[str, ...]
    memory_mb: int
    # At most one CPU each, so the defaults fit the smallest Docker host (Docker refuses a
    # container whose limit exceeds the host's CPUs).
    cpu_millis: int
    # For a service that answers anyone who reaches its ports: what that someone can do. None:
    # it asks for a login (Grafana), or publishes nothing.
    exposure_risk: str | None = None
    # The volume each pod of it claims on the Kubernetes platform, where it keeps data (a size
    # as `metricsRetentionSize` takes it; "": derived from its retention size, settings/parse.py);
    # the Docker platform's volumes take what they need.
    storage: str | None = None


class LokiTarget(StrEnum):
    """The three targets of Loki's simple-scalable deployment, each a workload of its own on
    Kubernetes (grafana/loki docs, "Simple scalable deployment"; `-target=`)."""

    READ = "read"
    WRITE = "write"
    BACKEND = "backend"


@dataclass(frozen=True)
class ServiceFacts:
    service: Service
    # Container ports by what they serve; every service has Listener.HTTP.
    listens: Mapping[Listener, int]
    # The image's own user and group, which the container runs as (stated, not inherited from
    # the image); secret files are readable by the user alone.
    user_id: int
    group_id: int
    defaults: ServiceDefaults
    # How the container checks itself: a command of its image, or (None) busybox wget on
    # `health_path` of its HTTP port.
    health_path: str = ""
    health_command: tuple[str, ...] | None = None
    # The host ports a stack may publish, each forwarding to one listener, in the order of
    # their keys and the stack's outputs.
    published: Mapping[Published, Publication] = field(default_factory=dict)
    config_path: str | None = None
    data_dir: str | None = None
    secrets_dir: str | None = None
    # Loki and Tempo replay their WAL on start, which can take a while.
    start_period: str = "30s"
    # Where it writes besides its data dir, as tmpfs (the root filesystem is read-only): a
    # temporary directory for Grafana, Loki and Tempo (Go's os.TempDir), whose releases cannot
    # run here to show they never use one.
    scratch_dirs: tuple[str, ...] = ()
    # Capabilities added back after dropping all: none of the six needs one (each runs as its
    # image's non-root user, listens above port 1024 and writes only its own volumes and tmpfs).
    capabilities: tuple[str, ...] = ()

    @property
    def alias(self) -> str:
        """The name other containers reach it by on the stack network."""
        return self.service.value

    @property
    def user(self) -> str:
        """`uid:gid`, as Docker's `--user` takes it."""
        return f"{self.user_id}:{self.group_id}"

    @property
    def http_port(self) -> int:
        return self.listens[Listener.HTTP]

    @property
    def healthcheck(self) -> tuple[str, ...]:
        if self.health_command is not None:
            return ("CMD", *self.health_command)
        return ("CMD", "wget", "-q", "-O", "/dev/null",
                f"http://localhost:{self.http_port}{self.health_path}")


# Pinned releases: prometheus/prometheus v3.14.0, grafana/loki v3.7.6, grafana/tempo v3.0.3,
# grafana/grafana v13.2.0, prometheus/alertmanager v0.34.0, oliver006/redis_exporter v1.88.0 on
# GitHub. CPU beside memory, so one busy service cannot take the host's CPUs from the others;
# kube-prometheus limits Grafana to 0.2 and Alertmanager to 0.1, which dashboards and a
# notification burst outgrow here.
SERVICES: Final[Mapping[Service, ServiceFacts]] = {
    facts.service: facts for facts in (
        ServiceFacts(
            Service.PROMETHEUS, {Listener.HTTP: 9090},
            # prom/prometheus runs as `nobody` (group nobody). It writes its data dir only.
            user_id=65534, group_id=65534,
            defaults=ServiceDefaults(
                "prom/prometheus:v3.14.0", ("prom/prometheus", "quay.io/prometheus/prometheus"),
                memory_mb=2048, cpu_millis=1000, storage="",
                exposure_risk="Prometheus has no authentication: whoever reaches the port reads "
                              "every series, target and rule, and writes series through the "
                              "remote-write receiver this stack turns on (`/api/v1/write`), "
                              "which can fake or silence any alert"),
            health_command=("promtool", "check", "healthy"),
            published={Published.PROMETHEUS: Publication(
                Listener.HTTP, "the Prometheus UI and API", "prometheusUrl", "Prometheus")},
            config_path="/etc/prometheus/prometheus.yml",
            data_dir="/prometheus",
            secrets_dir="/etc/prometheus/secrets"),
        ServiceFacts(
            Service.LOKI, {Listener.HTTP: 3100, Listener.GRPC: 9095},
            # grafana/loki images run as this uid and gid (grafana/loki cmd/loki/Dockerfile).
            user_id=10001, group_id=10001,
            defaults=ServiceDefaults(
                "grafana/loki:3.7.6", ("grafana/loki",), memory_mb=1024, cpu_millis=1000,
                storage="10GB",
                exposure_risk="Loki runs with `auth_enabled: false`: whoever reaches the port "
                              "reads and pushes every log line, and deletes logs through the "
                              "compactor's delete API (`/loki/api/v1/delete`)"),
            # Distroless image: no shell or wget, but the binary checks its own /ready.
            health_command=("/usr/bin/loki", "-health"),
            published={Published.LOKI: Publication(
                Listener.HTTP, "Loki's push and query API", "lokiUrl", "Loki")},
            config_path="/etc/loki/config.yaml",
            data_dir="/loki",
            # The object storage key pair on Kubernetes (configs/object_storage.py).
            secrets_dir="/etc/loki/secrets",
            start_period="60s",
            # Every path of its config is under common.path_prefix, the data dir
            # (configs/loki.py).
            scratch_dirs=("/tmp",)),
        ServiceFacts(
            Service.TEMPO, {Listener.HTTP: 3200, Listener.GRPC: 9095,
                            Listener.OTLP_GRPC: 4317, Listener.OTLP_HTTP: 4318},
            # grafana/tempo images run as this uid and gid (grafana/tempo cmd/tempo/Dockerfile).
            user_id=10001, group_id=10001,
            defaults=ServiceDefaults(
                "grafana/tempo:3.0.3", ("grafana/tempo",), memory_mb=1024, cpu_millis=1000,
                storage="10GB",
                exposure_risk="Tempo has no authentication: whoever reaches its ports reads "
                              "every trace and pushes spans, which the metrics generator turns "
                              "into series in Prometheus"),
            # Distroless image: no shell or wget, but the binary checks its own /ready.
            health_command=("/tempo", "-health"),
            published={
                Published.TEMPO_HTTP: Publication(
                    Listener.HTTP, "Tempo's query API", "tempoUrl", "Tempo"),
                Published.TEMPO_OTLP_GRPC: Publication(
                    Listener.OTLP_GRPC, "Tempo's OTLP gRPC receiver", "tempoOtlpGrpcEndpoint",
                    "Tempo's OTLP/gRPC receiver"),
                # What `make verify` pushes a span to; not a stack output.
                Published.TEMPO_OTLP_HTTP: Publication(
                    Listener.OTLP_HTTP, "Tempo's OTLP HTTP receiver", None,
                    "Tempo's OTLP/HTTP receiver")},
            config_path="/etc/tempo/tempo.yaml",
            data_dir="/var/tempo",
            # The object storage key pair on Kubernetes (configs/object_storage.py).
            secrets_dir="/etc/tempo/secrets",
            start_period="60s",
            # Its config's paths (traces, WAL, generator WAL) are all under the data dir.
            scratch_dirs=("/tmp",)),
        ServiceFacts(
            Service.GRAFANA, {Listener.HTTP: 3000},
            # grafana/grafana runs as uid 472 in the root group (gid 0), as its Dockerfile sets.
            user_id=472, group_id=0,
            defaults=ServiceDefaults(
                "grafana/grafana:13.2.0", ("grafana/grafana", "grafana/grafana-oss"),
                memory_mb=512, cpu_millis=500, storage="1GB"),
            health_path="/api/health",
            published={Published.GRAFANA: Publication(
                Listener.HTTP, "Grafana", "grafanaUrl", "Grafana")},
            data_dir="/var/lib/grafana",
            secrets_dir="/etc/grafana/secrets",
            # Its database, plugins and sessions are in the data dir; it logs to the console
            # only (configs/grafana.py), so /var/log/grafana stays unwritten.
            scratch_dirs=("/tmp",)),
        ServiceFacts(
            Service.ALERTMANAGER, {Listener.HTTP: 9093},
            # prom/alertmanager runs as `nobody` (group nobody). It writes its data dir only
            # (silences and the notification log, `--storage.path`).
            user_id=65534, group_id=65534,
            defaults=ServiceDefaults(
                "prom/alertmanager:v0.34.0",
                ("prom/alertmanager", "quay.io/prometheus/alertmanager"),
                memory_mb=128, cpu_millis=250, storage="1GB",
                exposure_risk="Alertmanager has no authentication: whoever reaches the port "
                              "creates silences (muting every page, the Watchdog's heartbeat "
                              "too) and posts or resolves alerts through its API"),
            health_path="/-/healthy",
            published={Published.ALERTMANAGER: Publication(
                Listener.HTTP, "the Alertmanager UI and API", "alertmanagerUrl", "Alertmanager")},
            config_path="/etc/alertmanager/alertmanager.yml",
            data_dir="/alertmanager",
            secrets_dir="/etc/alertmanager/secrets"),
        ServiceFacts(
            Service.REDIS_EXPORTER, {Listener.HTTP: 9121},
            # oliver006/redis_exporter images run as 59000 (oliver006/redis_exporter
            # docker/Dockerfile); the -alpine image has busybox wget, the plain one no shell.
            # It writes nothing.
            user_id=59000, group_id=59000,
            defaults=ServiceDefaults(
                "oliver006/redis_exporter:v1.88.0-alpine",
                ("oliver006/redis_exporter", "quay.io/oliver006/redis_exporter",
                 "ghcr.io/oliver006/redis_exporter"),
                memory_mb=64, cpu_millis=250),
            health_path="/health",
            secrets_dir="/etc/redis_exporter"),
    )
}


# The most each scratch dir (`ServiceFacts.scratch_dirs`) holds, in memory on both platforms
# (a Docker tmpfs, a Kubernetes emptyDir of medium Memory), counted in the service's memory.
SCRATCH_MB: Final = 64


# Docker's name for the host a container runs on (Docker Desktop has it; on Docker Engine 20.10+
# a container gets it with `--add-host host.docker.internal:host-gateway`, docs.docker.com
# "Add entries to container hosts file"): how a stack reaches a backend or a Redis that runs
# beside it on the same machine, a local dev stack's default.
DOCKER_HOST_ALIAS: Final = "host.docker.internal"
# The address Docker substitutes with the host's gateway IP in an extra host entry.
HOST_GATEWAY: Final = "host-gateway"


def on_docker_host(url: str) -> bool:
    """Whether `url` names the Docker host itself (DOCKER_HOST_ALIAS)."""
    return urlsplit(url).hostname == DOCKER_HOST_ALIAS


def internal_address(service: Service, listener: Listener = Listener.HTTP) -> str:
    """`host:port` of a service on the stack network (its alias), valid on any Docker host."""
    return f"{service}:{SERVICES[service].listens[listener]}"


def internal_url(service: Service, listener: Listener = Listener.HTTP) -> str:
    return f"http://{internal_address(service, listener)}"


# The label every pod of a service carries on Kubernetes with the service's name: what its
# workload selects its pods by, NetworkPolicies name their peers by, and Prometheus' pod
# discovery keeps a job's targets by (kubernetes.io/docs, "Recommended Labels").
NAME_LABEL: Final = "app.kubernetes.io/name"


def pod_address(service: Service, ordinal: int, listener: Listener = Listener.HTTP) -> str:
    """`host:port` of one pod of a service's StatefulSet on Kubernetes: `<service>-<ordinal>`
    under the StatefulSet's governing headless Service `<service>-pods`, resolved within the
    namespace (kubernetes.io/docs, StatefulSet "Stable Network ID"). A service's own Service
    keeps the Docker alias as its name, so `internal_address` reaches it on both platforms."""
    return f"{service}-{ordinal}.{service}-pods:{SERVICES[service].listens[listener]}"


def docker_prefix(stack: str) -> str:
    """What every Docker name of a stack starts with: from its name, unique per backend, so two
    stacks on one Docker host never share a network, container or volume."""
    return f"gatewayz-{stack}"


def container_name(stack: str, service: Service) -> str:
    """The Docker container of a service in one stack (what `docker logs` takes)."""
    return f"{docker_prefix(stack)}-{service}"


def config_path(service: Service) -> str:
    path = SERVICES[service].config_path
    assert path is not None, f"{service} has no config file"
    return path


def data_dir(service: Service) -> str:
    path = SERVICES[service].data_dir
    assert path is not None, f"{service} keeps no data"
    return path


def secrets_dir(service: Service) -> str:
    path = SERVICES[service].secrets_dir
    assert path is not None, f"{service} reads no secret files"
    return path


__all__ = [
    "NAME_LABEL",
    "SCRATCH_MB",
    "SERVICES",
    "Listener",
    "LokiTarget",
    "Publication",
    "Published",
    "Service",
    "ServiceDefaults",
    "ServiceFacts",
    "config_path",
    "container_name",
    "data_dir",
    "docker_prefix",
    "internal_address",
    "internal_url",
    "pod_address",
    "secrets_dir",
]

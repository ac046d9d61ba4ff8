"""The README's picture of the stack: a Mermaid flowchart generated from the services table and
what the builders write for the production stack, so it cannot drift from the code.

Nodes are the services (container port, and the host port a stack publishes) and what lies outside
the stack (the backend, the Redis it uses, the alert receivers); edges are the flows the configs
set up: Prometheus' scrapes, Tempo's remote write, the backend's log and trace pushes, Grafana's
datasources, and alerts from Prometheus through Alertmanager's routes. `make docs` writes it
between the README's markers; a test fails when the README differs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from configs.alertmanager import HEARTBEAT, alertmanager_config
from configs.datasources import datasources
from configs.prometheus import prometheus_config
from configs.tempo import tempo_config
from services import SERVICES, Listener, Published, Service
from settings import Platform, Receiver, Settings
from settings.stack_file import file_settings

BEGIN: Final = "<!-- stack-diagram:begin -->"
END: Final = "<!-- stack-diagram:end -->"
STACK: Final = "production"
# The README's second picture: the same stack on the Kubernetes platform (Pulumi.cluster.yaml).
KUBERNETES_BEGIN: Final = "<!-- kubernetes-diagram:begin -->"
KUBERNETES_END: Final = "<!-- kubernetes-diagram:end -->"
KUBERNETES_STACK: Final = "cluster"
# What the Kubernetes platform reaches outside the namespace besides the Docker platform's.
KUBE_API: Final = ("kube_api", '[("Kubernetes API")]')
OBJECT_STORAGE: Final = "object_storage"
USERS: Final = "users"
BACKEND: Final = "backend"
# What a service reaches outside the stack, drawn with it where the stack runs it
# (`Settings.services`): the node's id and shape, and the edge's label.
OUTSIDE: Final[Mapping[Service, tuple[str, str, str]]] = {
    Service.REDIS_EXPORTER: ("redis", '[("Redis")]', "INFO"),
}
# Where Alertmanager's receivers deliver, by receiver name.
DESTINATIONS: Final = {Receiver.SLACK.value: "Slack", Receiver.WEBHOOK.value: "pager webhook",
                       HEARTBEAT: "dead man's switch"}


def _node_id(service: Service) -> str:
    return service.value.replace("-", "_")


def _service_of(address: str) -> Service | None:
    """The stack service an in-network `host:port` (or localhost, for Prometheus) names: its
    alias, or on Kubernetes one of its own Services or pods (`loki-read`,
    `prometheus-0.prometheus-pods`)."""
    host = address.rsplit(":", 1)[0]
    if host == "localhost":
        return Service.PROMETHEUS
    label = host.split(".", 1)[0]
    return next((service for service in sorted(Service, key=len, reverse=True)
                 if label == service.value or label.startswith(f"{service.value}-")), None)


def _in_network(url: str) -> Service:
    """The service an in-network URL or `host:port` names."""
    service = _service_of(urlsplit(url).netloc if "//" in url else url)
    assert service is not None, url
    return service


def _replicas(settings: Settings, service: Service) -> str | None:
    """How many pods run the service on Kubernetes, where more than one may."""
    kubernetes = settings.kubernetes
    if service is Service.PROMETHEUS:
        return f"{kubernetes.prometheus_replicas} replicas"
    if service is Service.ALERTMANAGER:
        return f"{kubernetes.alertmanager_replicas} replicas, meshed"
    if service is Service.LOKI:
        return ", ".join(f"{target} x{count}" for target, count in kubernetes.loki_replicas.items())
    return None


def _label(settings: Settings, service: Service) -> str:
    facts = SERVICES[service]
    if settings.platform is Platform.KUBERNETES:
        lines = [str(service), *(f"{listener} :{port}" for listener, port in facts.listens.items()
                                 if listener is not Listener.GRPC)]
        replicas = _replicas(settings, service)
        return "<br/>".join([*lines, *([replicas] if replicas else [])])
    ports = []
    for listener, port in facts.listens.items():
        published = [f"{binding.host_ip}:{binding.port}"
                     for host_port, served in facts.published.items()
                     if served.listener is listener and (binding := settings.bindings[host_port])]
        if listener is Listener.GRPC:
            continue  # internal cluster port of a single binary: nothing talks to it
        ports.append(f"{listener} :{port}" + (f" on {published[0]}" if published else ""))
    return f"{service}<br/>{'<br/>'.join(ports)}"


def _scrapes(settings: Settings) -> Iterator[tuple[str, str, str]]:
    prometheus = _node_id(Service.PROMETHEUS)
    jobs: Any = prometheus_config(settings, ())["scrape_configs"]
    for job in jobs:
        if "kubernetes_sd_configs" in job:
            # On Kubernetes each replica scrapes every pod of the job's service, its twin's too.
            (service,) = (service for service in Service if service.job == job["job_name"])
            yield prometheus, _node_id(service), "scrape"
            continue
        for target in (target for static in job["static_configs"]
                       for target in static["targets"]):
            found = _service_of(target)
            if found is not Service.PROMETHEUS:  # not its own /metrics
                yield prometheus, _node_id(found) if found else BACKEND, "scrape"
    for service in settings.services:
        if service in OUTSIDE:
            node, _, label = OUTSIDE[service]
            yield _node_id(service), node, label


def _writes(settings: Settings) -> Iterator[tuple[str, str, str]]:
    tempo: Any = tempo_config(settings.environment, settings.retention.traces)
    for write in tempo["metrics_generator"]["storage"]["remote_write"]:
        yield (_node_id(Service.TEMPO), _node_id(_in_network(write["url"])),
               "remote write (span metrics)")
    loki = SERVICES[Service.LOKI]
    yield BACKEND, _node_id(Service.LOKI), f"push logs :{loki.http_port}"
    otlp = SERVICES[Service.TEMPO].listens
    yield (BACKEND, _node_id(Service.TEMPO),
           f"OTLP traces :{otlp[Listener.OTLP_GRPC]} / :{otlp[Listener.OTLP_HTTP]}")
    for source in datasources(settings):
        yield _node_id(Service.GRAFANA), _node_id(_in_network(source.url)), "datasource"


def _alerts(settings: Settings) -> Iterator[tuple[str, str, str]]:
    prometheus: Any = prometheus_config(settings, ())
    managers = prometheus["alerting"]["alertmanagers"]
    for manager in managers:
        # Discovered on Kubernetes: every replica of Alertmanager's Service.
        targets = [f"{Service.ALERTMANAGER}:0"] if "kubernetes_sd_configs" in manager else [
            target for static in manager["static_configs"] for target in static["targets"]]
        for target in targets:
            yield _node_id(Service.PROMETHEUS), _node_id(_in_network(target)), "alerts"
    config: Any = alertmanager_config(settings.alerting)
    routes = config["route"]
    by_receiver: dict[str, list[str]] = {}
    for route in routes["routes"]:
        matchers = " ".join(route.get("matchers", []))
        by_receiver.setdefault(route["receiver"], []).append(
            re.sub(r'^(\w+)="([^"]*)"$', r"\2", matchers))
    for receiver, labels in by_receiver.items():
        if receiver in DESTINATIONS:
            yield _node_id(Service.ALERTMANAGER), receiver, ", ".join(labels).replace('"', "'")


def _cluster(settings: Settings) -> Iterator[tuple[str, str, str]]:
    """What only the Kubernetes platform adds: service discovery through the API, the peers'
    gossip, object storage, and Grafana's Ingress."""
    if settings.platform is not Platform.KUBERNETES:
        return
    yield _node_id(Service.PROMETHEUS), KUBE_API[0], "service discovery"
    if settings.kubernetes.alertmanager_replicas > 1:
        alertmanager = _node_id(Service.ALERTMANAGER)
        yield alertmanager, alertmanager, "gossip"
    loki = _node_id(Service.LOKI)
    yield loki, loki, "memberlist, gRPC"
    yield loki, OBJECT_STORAGE, "chunks, index"
    yield _node_id(Service.TEMPO), OBJECT_STORAGE, "blocks"
    if settings.kubernetes.grafana_ingress_host is not None:
        yield USERS, _node_id(Service.GRAFANA), "Ingress"


def _edges(settings: Settings) -> Iterator[tuple[str, str, str]]:
    yield from _scrapes(settings)
    yield from _writes(settings)
    yield from _alerts(settings)
    yield from _cluster(settings)


def mermaid(settings: Settings) -> str:
    lines = ["```mermaid", "flowchart LR"]
    lines.append(f'  {BACKEND}(["GatewayZ backend<br/>{settings.backend.url}"])')
    lines += [f"  {OUTSIDE[service][0]}{OUTSIDE[service][1]}"
              for service in settings.services if service in OUTSIDE]
    kubernetes = settings.platform is Platform.KUBERNETES
    if kubernetes:
        storage = settings.kubernetes.object_storage
        assert storage is not None  # required on the platform (settings/parse.py)
        lines.append(f"  {KUBE_API[0]}{KUBE_API[1]}")
        lines.append(f'  {OBJECT_STORAGE}[("object storage<br/>{storage.endpoint}")]')
        if settings.kubernetes.grafana_ingress_host is not None:
            lines.append(f'  {USERS}(["Grafana users<br/>{settings.url(Published.GRAFANA)}"])')
    where = (f"Kubernetes namespace {settings.kubernetes.namespace}" if kubernetes
             else f"Docker network {settings.name_prefix}")
    lines.append(f'  subgraph stack["{where}"]')
    for service in settings.services:
        lines.append(f'    {_node_id(service)}["{_label(settings, service)}"]')
    lines.append("  end")
    seen = set()
    edges = []
    for edge in _edges(settings):
        if edge not in seen:
            seen.add(edge)
            edges.append(edge)
    for receiver in sorted({target for _, target, _ in edges if target in DESTINATIONS}):
        lines.append(f'  {receiver}>"{DESTINATIONS[receiver]}"]')
    lines += [f'  {source} -->|"{label}"| {target}' for source, target, label in edges]
    lines.append("```")
    return "\n".join(lines)


def stack_diagram() -> str:
    return mermaid(file_settings(STACK))


def kubernetes_diagram() -> str:
    return mermaid(file_settings(KUBERNETES_STACK))


def render_readme(current: str, diagram: str | None = None) -> str:
    for begin, end, drawn in ((BEGIN, END, diagram or stack_diagram()),
                              (KUBERNETES_BEGIN, KUBERNETES_END, kubernetes_diagram())):
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
        # A function, not a replacement string: a diagram's backslashes stay as they are.
        current = pattern.sub(_block(f"{begin}\n{drawn}\n{end}"), current)
    return current


def _block(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _: text


__all__ = ["BEGIN", "END", "KUBERNETES_BEGIN", "KUBERNETES_END", "KUBERNETES_STACK", "STACK",
           "kubernetes_diagram", "mermaid", "render_readme", "stack_diagram"]

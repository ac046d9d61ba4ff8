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
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from configs.alertmanager import HEARTBEAT, alertmanager_config
from configs.datasources import datasources
from configs.prometheus import prometheus_config
from configs.tempo import tempo_config
from services import SERVICES, Listener, Service
from settings import Receiver, Settings
from settings.stack_file import file_settings

BEGIN: Final = "<!-- stack-diagram:begin -->"
END: Final = "<!-- stack-diagram:end -->"
STACK: Final = "production"
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
    """The stack service an in-network `host:port` (or localhost, for Prometheus) names."""
    host = address.rsplit(":", 1)[0]
    if host == "localhost":
        return Service.PROMETHEUS
    return next((service for service in Service if service.value == host), None)


def _in_network(url: str) -> Service:
    """The service an in-network URL or `host:port` names."""
    service = _service_of(urlsplit(url).netloc if "//" in url else url)
    assert service is not None, url
    return service


def _label(settings: Settings, service: Service) -> str:
    facts = SERVICES[service]
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
    for target in (target for job in jobs for static in job["static_configs"]
                   for target in static["targets"]):
        service = _service_of(target)
        if service is not Service.PROMETHEUS:  # not its own /metrics
            yield prometheus, _node_id(service) if service else BACKEND, "scrape"
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
    for target in (target for manager in managers for static in manager["static_configs"]
                   for target in static["targets"]):
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


def _edges(settings: Settings) -> Iterator[tuple[str, str, str]]:
    yield from _scrapes(settings)
    yield from _writes(settings)
    yield from _alerts(settings)


def mermaid(settings: Settings) -> str:
    lines = ["```mermaid", "flowchart LR"]
    lines.append(f'  {BACKEND}(["GatewayZ backend<br/>{settings.backend.url}"])')
    lines += [f"  {OUTSIDE[service][0]}{OUTSIDE[service][1]}"
              for service in settings.services if service in OUTSIDE]
    lines.append(f'  subgraph stack["Docker network {settings.name_prefix}"]')
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


def render_readme(current: str, diagram: str | None = None) -> str:
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{BEGIN}\n{diagram or stack_diagram()}\n{END}", current)


__all__ = ["BEGIN", "END", "STACK", "mermaid", "render_readme", "stack_diagram"]

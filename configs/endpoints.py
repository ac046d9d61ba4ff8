"""Where each service listens inside the stack's Docker network, and the scrape job that watches it.

Containers reach each other by their service name (a network alias), so these URLs hold on any host.
"""

from collections.abc import Mapping
from typing import Final

from settings import ScrapeTarget, Service, Settings

HTTP_PORTS: Final[Mapping[Service, int]] = {
    Service.PROMETHEUS: 9090,
    Service.LOKI: 3100,
    Service.TEMPO: 3200,
    Service.GRAFANA: 3000,
    Service.ALERTMANAGER: 9093,
    Service.REDIS_EXPORTER: 9121,
}
TEMPO_OTLP_GRPC_PORT: Final = 4317
TEMPO_OTLP_HTTP_PORT: Final = 4318


def internal_address(service: Service) -> str:
    return f"{service}:{HTTP_PORTS[service]}"


def internal_url(service: Service) -> str:
    return f"http://{internal_address(service)}"


def job_name(service: Service) -> str:
    """Prometheus job of a stack service: `redis_exporter` for the exporter, else its name."""
    return service.job


def backend_jobs(settings: Settings) -> tuple[ScrapeTarget, ...]:
    """Every job that scrapes something outside the stack: the backend first, then extras."""
    return (settings.backend, *settings.extra_targets)

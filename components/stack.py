"""The stack's components, one line per service: what each service's component takes from the
settings (its container's slice and its own), so `__main__.py` runs the services
`Settings.services` names by looping over this table, never deciding one itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import pulumi

from components.alertmanager import Alertmanager, AlertmanagerArgs
from components.grafana import Grafana, GrafanaArgs
from components.loki import Loki, LokiArgs
from components.prometheus import Prometheus, PrometheusArgs
from components.redis_exporter import RedisExporter, RedisExporterArgs
from components.service import ContainerArgs
from components.tempo import Tempo, TempoArgs
from services import Service
from settings import Settings


@dataclass(frozen=True)
class Generated:
    """The Grafana secrets as the program holds them: from secret config, or generated once
    (__main__.py)."""

    admin_password: pulumi.Output[str]
    secret_key: pulumi.Output[str]
    metrics_password: pulumi.Output[str]


def _redis_exporter(container: ContainerArgs, settings: Settings,
                    _generated: Generated) -> RedisExporter:
    # Settings.services names redis_exporter only where a Redis is watched.
    assert settings.redis is not None
    return RedisExporter(str(Service.REDIS_EXPORTER), RedisExporterArgs(container, settings.redis))


Factory = Callable[[ContainerArgs, Settings, Generated], pulumi.ComponentResource]

# In the order Pulumi registers them; Grafana last, as before this table.
COMPONENTS: Final[Mapping[Service, Factory]] = {
    Service.PROMETHEUS: lambda container, settings, generated: Prometheus(
        str(Service.PROMETHEUS), PrometheusArgs(
            container, settings, grafana_metrics_password=generated.metrics_password)),
    Service.LOKI: lambda container, settings, _: Loki(
        str(Service.LOKI), LokiArgs(container, settings.retention.logs)),
    Service.TEMPO: lambda container, settings, _: Tempo(
        str(Service.TEMPO), TempoArgs(container, settings.retention.traces)),
    Service.ALERTMANAGER: lambda container, settings, _: Alertmanager(
        str(Service.ALERTMANAGER), AlertmanagerArgs(container, settings.alerting)),
    Service.REDIS_EXPORTER: _redis_exporter,
    Service.GRAFANA: lambda container, settings, generated: Grafana(
        str(Service.GRAFANA), GrafanaArgs(
            container, settings.grafana, generated.admin_password,
            secret_key=generated.secret_key, metrics_password=generated.metrics_password)),
}


def run_services(settings: Settings, network: pulumi.Input[str], generated: Generated) -> None:
    """One component per service the stack runs (`Settings.services`)."""
    for service, factory in COMPONENTS.items():
        if service in settings.services:
            factory(ContainerArgs.of(settings, service, network), settings, generated)


__all__ = ["COMPONENTS", "Generated", "run_services"]

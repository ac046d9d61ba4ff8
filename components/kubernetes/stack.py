"""The Kubernetes platform's stack: the namespace, then each service `Settings.services` names,
from its line in components/kubernetes/ (the Docker layer's sibling over the same service table
and config builders)."""

from __future__ import annotations

import pulumi

from components.kubernetes.alertmanager import Alertmanager, AlertmanagerArgs
from components.kubernetes.prometheus import Prometheus, PrometheusArgs
from components.kubernetes.redis_exporter import RedisExporter, RedisExporterArgs
from components.kubernetes.workload import Namespace, WorkloadArgs
from components.stack import Generated
from services import Service
from settings import Settings


def run_kubernetes(settings: Settings, generated: Generated,
                   opts: pulumi.ResourceOptions | None = None) -> Namespace:
    namespace = Namespace("namespace", settings.kubernetes.namespace, settings.protect_data, opts)
    after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
    Prometheus(str(Service.PROMETHEUS), PrometheusArgs(
        WorkloadArgs.of(settings, Service.PROMETHEUS, namespace.name), settings,
        grafana_metrics_password=generated.metrics_password,
        replicas=settings.kubernetes.prometheus_replicas), after)
    Alertmanager(str(Service.ALERTMANAGER), AlertmanagerArgs(
        WorkloadArgs.of(settings, Service.ALERTMANAGER, namespace.name), settings.alerting,
        replicas=settings.kubernetes.alertmanager_replicas), after)
    if Service.REDIS_EXPORTER in settings.services:
        # Settings.services names redis_exporter only where a Redis is watched.
        assert settings.redis is not None
        RedisExporter(str(Service.REDIS_EXPORTER), RedisExporterArgs(
            WorkloadArgs.of(settings, Service.REDIS_EXPORTER, namespace.name), settings.redis),
            after)
    return namespace


__all__ = ["run_kubernetes"]

"""The Kubernetes platform's stack: the namespace, then each service `Settings.services` names,
from its line in components/kubernetes/ (the Docker layer's sibling over the same service table
and config builders)."""

from __future__ import annotations

import pulumi

from components.kubernetes.alertmanager import Alertmanager, AlertmanagerArgs
from components.kubernetes.grafana import Grafana, GrafanaArgs
from components.kubernetes.workload import Namespace, WorkloadArgs
from components.stack import Generated
from services import Service
from settings import Settings


def run_kubernetes(settings: Settings, generated: Generated,
                   opts: pulumi.ResourceOptions | None = None) -> Namespace:
    namespace = Namespace("namespace", settings.kubernetes.namespace, settings.protect_data, opts)
    after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
    Alertmanager(str(Service.ALERTMANAGER), AlertmanagerArgs(
        WorkloadArgs.of(settings, Service.ALERTMANAGER, namespace.name), settings.alerting,
        replicas=settings.kubernetes.alertmanager_replicas), after)
    # Last, as on Docker.
    Grafana(str(Service.GRAFANA), GrafanaArgs(
        WorkloadArgs.of(settings, Service.GRAFANA, namespace.name), settings.grafana,
        ingress_host=settings.kubernetes.grafana_ingress_host,
        ingress_class=settings.kubernetes.ingress_class,
        admin_password=generated.admin_password, secret_key=generated.secret_key,
        metrics_password=generated.metrics_password), after)
    return namespace


__all__ = ["run_kubernetes"]

"""The Kubernetes platform's stack: the namespace, then each service `Settings.services` names,
from its line in components/kubernetes/ (the Docker layer's sibling over the same service table
and config builders)."""

from __future__ import annotations

import pulumi

from components.kubernetes.alertmanager import Alertmanager, AlertmanagerArgs
from components.kubernetes.loki import Loki, LokiArgs
from components.kubernetes.tempo import Tempo, TempoArgs
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
    # Parsing asks for the object storage on this platform (settings/parse.py).
    storage = settings.kubernetes.object_storage
    assert storage is not None
    Loki(str(Service.LOKI), LokiArgs(
        WorkloadArgs.of(settings, Service.LOKI, namespace.name), settings.retention.logs,
        replicas=settings.kubernetes.loki_replicas, storage=storage), after)
    Tempo(str(Service.TEMPO), TempoArgs(
        WorkloadArgs.of(settings, Service.TEMPO, namespace.name), settings.retention.traces,
        storage=storage, prometheus_replicas=settings.kubernetes.prometheus_replicas), after)
    return namespace


__all__ = ["run_kubernetes"]

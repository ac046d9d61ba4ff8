"""The Kubernetes platform's stack so far: the namespace, then each service the layer
deploys. `platform: kubernetes` is refused until it deploys every service `Settings.services`
names (settings/parse.py), so no program runs it on a real stack yet; the tests deploy it."""

from __future__ import annotations

import pulumi

from components.kubernetes.alertmanager import Alertmanager, AlertmanagerArgs
from components.kubernetes.workload import Namespace, WorkloadArgs
from services import Service
from settings import Settings


def run_kubernetes(settings: Settings,
                   opts: pulumi.ResourceOptions | None = None) -> Namespace:
    namespace = Namespace("namespace", settings.kubernetes.namespace, opts)
    after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
    Alertmanager(str(Service.ALERTMANAGER), AlertmanagerArgs(
        WorkloadArgs.of(settings, Service.ALERTMANAGER, namespace.name), settings.alerting,
        replicas=settings.kubernetes.alertmanager_replicas), after)
    return namespace


__all__ = ["run_kubernetes"]

"""The Kubernetes platform's stack: the namespace, then one component per service the stack
runs (`Settings.services`), each from its line of KUBERNETES_COMPONENTS, the sibling of the Docker
layer's table (components/stack.py) over the same service table and config builders."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.alertmanager import Alertmanager, AlertmanagerArgs
from components.kubernetes.grafana import Grafana, GrafanaArgs
from components.kubernetes.loki import Loki, LokiArgs
from components.kubernetes.prometheus import Prometheus, PrometheusArgs
from components.kubernetes.redis_exporter import RedisExporter, RedisExporterArgs
from components.kubernetes.tempo import Tempo, TempoArgs
from components.kubernetes.workload import Namespace, WorkloadArgs
from components.stack import Generated
from services import Service
from settings import ObjectStorage, Settings


def _storage(settings: Settings) -> ObjectStorage:
    # Parsing asks for the object storage on this platform (settings/parse.py).
    storage = settings.kubernetes.object_storage
    assert storage is not None
    return storage


def _redis_exporter(workload: WorkloadArgs, settings: Settings, _generated: Generated,
                    opts: pulumi.ResourceOptions) -> RedisExporter:
    # Settings.services names redis_exporter only where a Redis is watched.
    assert settings.redis is not None
    return RedisExporter(str(Service.REDIS_EXPORTER), RedisExporterArgs(workload, settings.redis),
                         opts)


Factory = Callable[[WorkloadArgs, Settings, Generated, pulumi.ResourceOptions],
                   pulumi.ComponentResource]

# In the order Pulumi registers them; Grafana last, as on Docker.
KUBERNETES_COMPONENTS: Final[Mapping[Service, Factory]] = {
    Service.PROMETHEUS: lambda workload, settings, generated, opts: Prometheus(
        str(Service.PROMETHEUS), PrometheusArgs(
            workload, settings, grafana_metrics_password=generated.metrics_password,
            replicas=settings.kubernetes.prometheus_replicas), opts),
    Service.LOKI: lambda workload, settings, _, opts: Loki(str(Service.LOKI), LokiArgs(
        workload, settings.retention.logs, replicas=settings.kubernetes.loki_replicas,
        storage=_storage(settings)), opts),
    Service.TEMPO: lambda workload, settings, _, opts: Tempo(str(Service.TEMPO), TempoArgs(
        workload, settings.retention.traces, storage=_storage(settings),
        prometheus_replicas=settings.kubernetes.prometheus_replicas), opts),
    Service.ALERTMANAGER: lambda workload, settings, _, opts: Alertmanager(
        str(Service.ALERTMANAGER), AlertmanagerArgs(
            workload, settings.alerting, replicas=settings.kubernetes.alertmanager_replicas),
        opts),
    Service.REDIS_EXPORTER: _redis_exporter,
    Service.GRAFANA: lambda workload, settings, generated, opts: Grafana(
        str(Service.GRAFANA), GrafanaArgs(
            workload, settings.grafana, ingress_host=settings.kubernetes.grafana_ingress_host,
            ingress_class=settings.kubernetes.ingress_class,
            admin_password=generated.admin_password, secret_key=generated.secret_key,
            metrics_password=generated.metrics_password), opts),
}


def run_kubernetes(settings: Settings, generated: Generated,
                   opts: pulumi.ResourceOptions | None = None) -> Namespace:
    # The kubeconfig's cluster, as the default provider would reach it, but with ConfigMaps
    # updated in place (pulumi-kubernetes 4.25.0 `enableConfigMapMutable`) rather than
    # replaced: a changed rule file is one update of its ConfigMap, and the pods' config
    # checksum (each workload's pod template) rolls them, instead of a replace that the
    # StatefulSet reading the ConfigMap's name would follow with a replace of its own.
    provider = kubernetes.Provider("kubernetes", enable_config_map_mutable=True, opts=opts)
    opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=provider))
    namespace = Namespace("namespace", settings.kubernetes.namespace, settings.protect_data, opts)
    after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
    for service, factory in KUBERNETES_COMPONENTS.items():
        if service in settings.services:
            factory(WorkloadArgs.of(settings, service, namespace.name), settings, generated,
                    after)
    return namespace


__all__ = ["KUBERNETES_COMPONENTS", "run_kubernetes"]

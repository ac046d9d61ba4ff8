"""Tempo on Kubernetes: the monolithic binary (`-target=all`) as one pod of a StatefulSet, its
WAL and live store on the pod's claim, its blocks in object storage (the key pair mounted from a
Secret 0400), its span metrics written to every Prometheus replica.

One pod, because Tempo v3.0.3 scales only in microservices mode, whose write path runs through
Kafka (grafana/tempo v3.0.3 docs/sources/tempo/reference-tempo-architecture/deployment-modes.md:
"Microservices mode requires a Kafka-compatible system"; the scalable single binary was removed
in 3.0). Two monolithic pods would each hold the traces sent to it alone, and query only those
until they reach the bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.object_storage import (
    credentials_env,
    credentials_source,
    storage_egress,
)
from components.kubernetes.workload import (
    Allow,
    WorkloadArgs,
    config_file,
    config_mount,
    config_source,
    config_volume,
    container,
    data_mount,
    expose,
    labels,
    network_policy,
    pod_template,
    scratch,
    service_port,
    startup_probe,
    stateful_set,
)
from configs.render import to_yaml
from configs.tempo import tempo_cluster_config, tempo_command
from services import SERVICES, Listener, Service
from settings import Duration, ObjectStorage

SERVICE: Final = Service.TEMPO
NAME: Final = str(SERVICE)
FACTS: Final = SERVICES[SERVICE]
REPLICAS: Final = 1
# The StatefulSet's governing headless Service (`<service>-pods`, services.pod_address).
PODS_SERVICE: Final = f"{NAME}-pods"
OTLP: Final = tuple((FACTS.listens[listener], "TCP")
                    for listener in (Listener.OTLP_GRPC, Listener.OTLP_HTTP))
core = kubernetes.core.v1


@dataclass(frozen=True)
class TempoArgs:
    workload: WorkloadArgs
    retention: Duration
    storage: ObjectStorage
    prometheus_replicas: int


def _ports() -> list[core.ServicePortArgs]:
    return [service_port(str(listener), port) for listener, port in FACTS.listens.items()]


class Tempo(pulumi.ComponentResource):
    def __init__(self, name: str, args: TempoArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:kubernetes:Tempo", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workload = args.workload
        config = to_yaml(tempo_cluster_config(workload.environment, args.retention,
                                              args.storage, args.prometheus_replicas))
        volume = config_volume([
            config_source(f"{NAME}-config", workload, SERVICE, {config_file(SERVICE): config},
                          child),
            credentials_source(f"{NAME}-object-storage", workload, SERVICE, args.storage,
                               child)])

        # The Docker alias: Grafana's datasource and the backend's OTLP exports name `tempo`
        # on both platforms.
        expose(f"{name}-service", NAME, workload, SERVICE, selector=labels(SERVICE),
               ports=_ports(), opts=child)
        headless = expose(f"{name}-pods", PODS_SERVICE, workload, SERVICE,
                          selector=labels(SERVICE), ports=_ports(), headless=True, opts=child)

        scratch_volumes, scratch_mounts = scratch(SERVICE)
        pod = container(
            SERVICE, workload, command=tempo_command(), env=[credentials_env(SERVICE)],
            ports=[core.ContainerPortArgs(name=str(listener), container_port=port)
                   for listener, port in FACTS.listens.items()],
            startup=startup_probe(SERVICE),
            mounts=[config_mount(SERVICE), data_mount(SERVICE), *scratch_mounts])
        # The WAL, the live store's recent traces and the generator's WAL: what has not
        # reached the bucket yet survives a restart. The pod restarts with the file it runs:
        # Tempo reads it at start only.
        stateful_set(name, NAME, workload, SERVICE, replicas=REPLICAS, governing=headless,
                     template=pod_template(
                         SERVICE, pod,
                         [volume, *scratch_volumes], config=[config]),
                     opts=child)
        # One pod, so no PodDisruptionBudget (workload.disruption_budget says why).

        http = ((FACTS.http_port, "TCP"),)
        # In: OTLP from anywhere (the backend exports from outside the cluster); the query API
        # for Grafana's datasource and Prometheus' scrapes. Out: the bucket, and Prometheus'
        # remote-write receiver (span metrics).
        network_policy(f"{NAME}-network", workload, SERVICE, opts=child, ingress=[
            Allow((), OTLP), Allow((Service.GRAFANA, Service.PROMETHEUS), http)],
            egress=[storage_egress(args.storage),
                    Allow((Service.PROMETHEUS,),
                          ((SERVICES[Service.PROMETHEUS].http_port, "TCP"),))])
        self.register_outputs({})

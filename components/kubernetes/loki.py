"""Loki on Kubernetes in simple-scalable mode (grafana/loki v3.7.6 docs, "Simple scalable
deployment"): the write path (a StatefulSet, its WAL on each pod's claim), the read path (a
stateless Deployment) and the backend (a StatefulSet: compactor, index gateway, query scheduler,
ruler), each `loki<Target>Replicas` wide, from one config (configs/loki.py) in a ConfigMap;
chunks and index in object storage, signed with a key pair mounted from a Secret 0400. The three
meet in memberlist rings through one headless Service."""

from __future__ import annotations

from collections.abc import Mapping
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
    DATA_VOLUME,
    Allow,
    WorkloadArgs,
    config_file,
    config_mount,
    config_source,
    config_volume,
    container,
    data_mount,
    disruption_budget,
    expose,
    labels,
    metadata,
    network_policy,
    pod_template,
    scratch,
    service_port,
    startup_probe,
    stateful_set,
)
from configs.loki import (
    MEMBERLIST_PORT,
    MEMBERLIST_SERVICE,
    SERVICE_NAMES,
    loki_cluster_config,
    loki_command,
    pods_service,
    workload_name,
)
from configs.render import to_yaml
from services import SERVICES, Listener, LokiTarget, Service, data_dir
from settings import Duration, ObjectStorage

SERVICE: Final = Service.LOKI
FACTS: Final = SERVICES[SERVICE]
HTTP: Final = FACTS.http_port
GRPC: Final = FACTS.listens[Listener.GRPC]
# Which target a pod runs; beside NAME_LABEL, which every Loki pod carries (Prometheus keeps
# and scrapes pods by it).
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
# The targets that keep data on a claim: the write path its WAL (and the chunks it has not
# flushed), the backend the compactor's and index gateway's working files.
STATEFUL: Final = (LokiTarget.WRITE, LokiTarget.BACKEND)
# Time to flush what the ingesters hold and leave the rings cleanly on the write path and the
# backend: the Helm chart's `terminationGracePeriodSeconds: 300` for both (grafana/loki v3.7.6
# production/helm/loki/values.yaml, `write:`, `backend:`); Kubernetes' default 30 s otherwise.
GRACE_SECONDS: Final = 300
# Loki's pods among themselves: gRPC (distributors to ingesters, queriers to ingesters, the
# scheduler and the index gateways) and memberlist's gossip, which is TCP alone ("uses TCP for
# both packet and stream", grafana/loki v3.7.6 vendor/github.com/grafana/dskit/kv/memberlist/
# tcp_transport.go).
PEERS: Final = ((GRPC, "TCP"), (MEMBERLIST_PORT, "TCP"))
meta = kubernetes.meta.v1
core = kubernetes.core.v1
apps = kubernetes.apps.v1


@dataclass(frozen=True)
class LokiArgs:
    workload: WorkloadArgs
    retention: Duration
    replicas: Mapping[LokiTarget, int]
    storage: ObjectStorage


def target_labels(target: LokiTarget) -> dict[str, str]:
    """A target's selector labels: the service's, and its component."""
    return {**labels(SERVICE), COMPONENT_LABEL: str(target)}


def _ports(*names: str) -> list[core.ServicePortArgs]:
    known = {"http": HTTP, "grpc": GRPC, "memberlist": MEMBERLIST_PORT}
    return [service_port(name, known[name]) for name in names]


def _ingress(target: LokiTarget) -> list[Allow]:
    """Who reaches each target, beside Prometheus (every pod's /metrics on the HTTP port) and
    Loki's own pods (gRPC, gossip)."""
    http = ((HTTP, "TCP"),)
    own = [Allow((Service.PROMETHEUS,), http), Allow((SERVICE,), PEERS)]
    if target is LokiTarget.WRITE:
        # The GatewayZ backend pushes its logs from outside the cluster.
        return [Allow((), http), *own]
    if target is LokiTarget.READ:
        # Grafana's Loki datasource queries the read path (configs/datasources.py).
        return [Allow((Service.GRAFANA,), http), *own]
    return own


class Loki(pulumi.ComponentResource):
    def __init__(self, name: str, args: LokiArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:kubernetes:Loki", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workload = args.workload
        config = to_yaml(loki_cluster_config(args.retention, args.replicas[LokiTarget.WRITE],
                                             args.storage))
        volume = config_volume([
            config_source(f"{SERVICE}-config", workload, SERVICE, {config_file(SERVICE): config},
                          child),
            credentials_source(f"{SERVICE}-object-storage", workload, SERVICE, args.storage,
                               child)])

        # Every Loki pod, ready or not: a starting pod finds the others by this name to join
        # the rings (the Helm chart's memberlist Service, publishNotReadyAddresses too).
        expose(f"{name}-memberlist", MEMBERLIST_SERVICE, workload, SERVICE,
               selector=labels(SERVICE), ports=_ports("memberlist"), headless=True,
               ready_or_not=True, opts=child)
        # Each pod restarts with the file it runs: Loki reads it at start only.
        for target in LokiTarget:
            _target(f"{name}-{target}", target, args, config=config, volume=volume,
                    opts=child)
        self.register_outputs({})


def _target(name: str, target: LokiTarget, args: LokiArgs, *, config: str,
            volume: core.VolumeArgs, opts: pulumi.ResourceOptions) -> None:
    """One target's pods, its Services, disruption budget and NetworkPolicy."""
    workload = args.workload
    selector = target_labels(target)
    object_name = workload_name(target)
    stateful = target in STATEFUL
    # The target's clients reach it here: `loki` (the Docker alias) is the write path,
    # where pushes go; `loki-read` Grafana's; `loki-backend` the read path's compactor client,
    # on gRPC. Within a target, pods reach each other by the addresses the rings hold.
    ports = _ports("http", "grpc") if target is LokiTarget.BACKEND else _ports("http")
    expose(f"{name}-service", SERVICE_NAMES[target], workload, SERVICE, selector=selector,
           ports=ports, opts=opts)
    scratch_volumes, scratch_mounts = scratch(SERVICE)
    # The read path keeps nothing: its caches live as long as the pod.
    data_volumes = [] if stateful else [core.VolumeArgs(
        name=DATA_VOLUME, empty_dir=core.EmptyDirVolumeSourceArgs())]
    pod = container(
        SERVICE, workload, command=loki_command(target), env=[credentials_env(SERVICE)],
        ports=[core.ContainerPortArgs(name=port.name, container_port=port.port)
               for port in _ports("http", "grpc", "memberlist")],
        startup=startup_probe(SERVICE),
        mounts=[config_mount(SERVICE),
                data_mount(SERVICE) if stateful else core.VolumeMountArgs(
                    name=DATA_VOLUME, mount_path=data_dir(SERVICE)),
                *scratch_mounts])
    template = pod_template(SERVICE, pod, [volume, *data_volumes, *scratch_volumes],
                            selector=selector, config=[config], spread_pods=True,
                            grace_seconds=GRACE_SECONDS if stateful else None)
    if stateful:
        # Governs the pods' stable names; gRPC for the index gateways' `dns+` discovery.
        headless = expose(f"{name}-pods", pods_service(target), workload, SERVICE,
                          selector=selector, ports=_ports("http", "grpc"), headless=True,
                          opts=opts)
        stateful_set(name, object_name, workload, SERVICE, replicas=args.replicas[target],
                     governing=headless, template=template, selector=selector, parallel=True,
                     opts=opts)
    else:
        apps.Deployment(
            name, metadata=metadata(object_name, workload, SERVICE),
            spec=apps.DeploymentSpecArgs(
                replicas=args.replicas[target],
                selector=meta.LabelSelectorArgs(match_labels=selector), template=template),
            opts=opts)
    # One pod of a target down at a time on a drain: the write path keeps its
    # replication factor's quorum, the others keep serving.
    disruption_budget(f"{name}-disruption", object_name, workload, SERVICE, selector=selector,
                      opts=opts)
    # Out: the bucket, and the other Loki pods (gRPC, gossip).
    network_policy(f"{object_name}-network", workload, SERVICE, opts=opts,
                   selector=selector, ingress=_ingress(target),
                   egress=[storage_egress(args.storage), Allow((SERVICE,), PEERS)])

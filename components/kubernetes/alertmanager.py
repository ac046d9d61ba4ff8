"""Alertmanager on Kubernetes: the same alertmanager.yml (configs/alertmanager.py) from a
ConfigMap, its receivers' URLs from a Secret mounted read-only beside it, never in the YAML or
the environment; `replicas` pods of a StatefulSet meshed into one cluster through a headless
Service, as kube-prometheus runs it, so one notification leaves per alert group and a silence
survives a node."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.workload import (
    Allow,
    WorkloadArgs,
    config_dir,
    config_file,
    config_mount,
    config_source,
    config_volume,
    container,
    data_mount,
    disruption_budget,
    expose,
    labels,
    network_policy,
    pod_template,
    secret_source,
    service_port,
    stateful_set,
)
from configs.alertmanager import (
    CLUSTER_PORT,
    HEARTBEAT_URL_FILE,
    POD_IP_ENV,
    SECRET_FILES,
    alertmanager_cluster_command,
    alertmanager_command,
    alertmanager_config,
)
from configs.render import to_yaml
from services import SERVICES, Service
from settings import Alerting
from settings.pulumi_config import reveal

SERVICE: Final = Service.ALERTMANAGER
NAME: Final = str(SERVICE)
# The config file and the receivers' URLs, in one projected volume.
CONFIG_DIR: Final = config_dir(SERVICE)
# Who may reach Alertmanager's API: Prometheus, which sends it the alerts, and Grafana, whose
# Alertmanager datasource reads and makes silences.
API_CLIENTS: Final = (Service.PROMETHEUS, Service.GRAFANA)
GOSSIP: Final = tuple((CLUSTER_PORT, protocol) for protocol in ("TCP", "UDP"))
core = kubernetes.core.v1


@dataclass(frozen=True)
class AlertmanagerArgs:
    workload: WorkloadArgs
    alerting: Alerting
    replicas: int


def peers(replicas: int) -> list[str]:
    """Each replica's stable name: the StatefulSet's pod `<name>-<ordinal>` under its headless
    Service, resolved within the namespace."""
    return [f"{NAME}-{ordinal}.{NAME}" for ordinal in range(replicas)]


def command(replicas: int) -> list[str]:
    """A single replica keeps gossip off, as on Docker: it would wait for peers that never
    come."""
    return alertmanager_cluster_command(peers(replicas)) if replicas > 1 \
        else alertmanager_command()


def _secret_files(alerting: Alerting) -> dict[str, pulumi.Output[str]]:
    """Each receiver URL's file, relative to CONFIG_DIR, and its value (a Pulumi secret)."""
    files = {SECRET_FILES[receiver]: reveal(url) for receiver, url in alerting.urls.items()}
    if alerting.heartbeat is not None:
        files[HEARTBEAT_URL_FILE] = reveal(alerting.heartbeat.url)
    return {posixpath.relpath(path, CONFIG_DIR): value for path, value in sorted(files.items())}


class Alertmanager(pulumi.ComponentResource):
    def __init__(self, name: str, args: AlertmanagerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:kubernetes:Alertmanager", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workload = args.workload
        facts = SERVICES[SERVICE]
        config = to_yaml(alertmanager_config(args.alerting))

        sources = [config_source(f"{NAME}-config", workload, SERVICE,
                                 {config_file(SERVICE): config}, child)]
        secret_files = _secret_files(args.alerting)
        if secret_files:
            sources.append(secret_source(f"{NAME}-receivers", workload, SERVICE, secret_files,
                                         child))

        # Headless, and listing replicas before they are ready: a replica finds its peers by
        # their names while the cluster forms, as prometheus-operator's alertmanager-operated.
        headless = expose(f"{name}-peers", NAME, workload, SERVICE, selector=labels(SERVICE),
                          ports=[service_port("http", facts.http_port),
                                 service_port("cluster-tcp", CLUSTER_PORT, "TCP"),
                                 service_port("cluster-udp", CLUSTER_PORT, "UDP")],
                          headless=True, ready_or_not=True, opts=child)

        pod = container(
            SERVICE, workload, command=command(args.replicas),
            env=[core.EnvVarArgs(name=POD_IP_ENV, value_from=core.EnvVarSourceArgs(
                field_ref=core.ObjectFieldSelectorArgs(field_path="status.podIP")))],
            ports=[core.ContainerPortArgs(name="http", container_port=facts.http_port),
                   core.ContainerPortArgs(name="cluster-tcp", container_port=CLUSTER_PORT,
                                          protocol="TCP"),
                   core.ContainerPortArgs(name="cluster-udp", container_port=CLUSTER_PORT,
                                          protocol="UDP")],
            mounts=[config_mount(SERVICE), data_mount(SERVICE)])
        # Silences and the notification log: gossiped between the peers, and kept on each
        # replica's own claim, so a cluster restarted at once keeps them too. Each pod restarts
        # with the file it runs: Alertmanager reads it at start only.
        self.stateful_set = stateful_set(
            name, NAME, workload, SERVICE, replicas=args.replicas, governing=headless,
            template=pod_template(SERVICE, pod, [config_volume(sources)], config=[config],
                                  spread_pods=True),
            parallel=True, opts=child)

        disruption_budget(f"{name}-disruption", NAME, workload, SERVICE,
                          selector=labels(SERVICE), opts=child)

        # In: the API from its clients, gossip from the peers. Out: gossip to the peers, and
        # the receivers, on any port (their URLs are secrets the plan does not read).
        network_policy(f"{NAME}-network", workload, SERVICE, opts=child, ingress=[
            Allow(API_CLIENTS, ((facts.http_port, "TCP"),)), Allow((SERVICE,), GOSSIP)],
            egress=[Allow((SERVICE,), GOSSIP), Allow((), ())])
        self.register_outputs({})

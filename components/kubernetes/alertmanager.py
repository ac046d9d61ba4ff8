"""Alertmanager on Kubernetes: the same alertmanager.yml (configs/alertmanager.py) from a
ConfigMap, its receivers' URLs from a Secret mounted read-only beside it, never in the YAML or
the environment; `replicas` pods of a StatefulSet meshed into one cluster through a headless
Service, as kube-prometheus runs it, so one notification leaves per alert group and a silence
survives a node."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.workload import (
    Allow,
    WorkloadArgs,
    claim_retention,
    container_security,
    data_claim,
    data_mount,
    disruption_budget,
    labels,
    metadata,
    network_policy,
    pod_security,
    probe,
    resources,
    spread,
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
from services import SERVICES, Service, config_path
from settings import Alerting
from settings.pulumi_config import reveal

SERVICE: Final = Service.ALERTMANAGER
NAME: Final = str(SERVICE)
# The directory the config file and the secrets' directory share: one projected volume holds
# both, so no mount lands inside another (a read-only volume cannot take a mount point).
CONFIG_DIR: Final = posixpath.dirname(config_path(SERVICE))
# Read by the service's user alone (the group is the pod's fsGroup, the image's own).
SECRET_MODE: Final = 0o400
CONFIG_MODE: Final = 0o444
# Who may reach Alertmanager's API: Prometheus, which sends it the alerts, and Grafana, whose
# Alertmanager datasource reads and makes silences.
API_CLIENTS: Final = (Service.PROMETHEUS, Service.GRAFANA)
GOSSIP: Final = tuple((CLUSTER_PORT, protocol) for protocol in ("TCP", "UDP"))
meta = kubernetes.meta.v1
core = kubernetes.core.v1
apps = kubernetes.apps.v1


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


def _key(relative: str) -> str:
    # A Secret's keys are file names: `secrets/slack_api_url` is stored as `slack_api_url`.
    return posixpath.basename(relative)


class Alertmanager(pulumi.ComponentResource):
    def __init__(self, name: str, args: AlertmanagerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:kubernetes:Alertmanager", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workload = args.workload
        facts = SERVICES[SERVICE]
        config = to_yaml(alertmanager_config(args.alerting))
        config_file = posixpath.basename(config_path(SERVICE))

        config_map = core.ConfigMap(f"{name}-config", metadata=metadata(f"{NAME}-config",
                                                                        workload, SERVICE),
                                    data={config_file: config}, opts=child)
        sources = [core.VolumeProjectionArgs(config_map=core.ConfigMapProjectionArgs(
            name=config_map.metadata.name,
            items=[core.KeyToPathArgs(key=config_file, path=config_file, mode=CONFIG_MODE)]))]
        secret_files = _secret_files(args.alerting)
        if secret_files:
            secret = core.Secret(
                f"{name}-receivers", metadata=metadata(f"{NAME}-receivers", workload, SERVICE),
                type="Opaque",
                string_data={_key(path): value for path, value in secret_files.items()},
                opts=child)
            sources.append(core.VolumeProjectionArgs(secret=core.SecretProjectionArgs(
                name=secret.metadata.name,
                items=[core.KeyToPathArgs(key=_key(path), path=path, mode=SECRET_MODE)
                       for path in secret_files])))

        ports = [core.ServicePortArgs(name="http", port=facts.http_port,
                                      target_port=facts.http_port, protocol="TCP"),
                 core.ServicePortArgs(name="cluster-tcp", port=CLUSTER_PORT,
                                      target_port=CLUSTER_PORT, protocol="TCP"),
                 core.ServicePortArgs(name="cluster-udp", port=CLUSTER_PORT,
                                      target_port=CLUSTER_PORT, protocol="UDP")]
        # Headless, and listing replicas before they are ready: a replica finds its peers by
        # their names while the cluster forms, as prometheus-operator's alertmanager-operated.
        headless = core.Service(f"{name}-peers", metadata=metadata(NAME, workload, SERVICE),
                                spec=core.ServiceSpecArgs(
                                    cluster_ip="None", publish_not_ready_addresses=True,
                                    selector=labels(SERVICE), ports=ports),
                                opts=child)

        container = core.ContainerArgs(
            name=NAME, image=workload.image, args=command(args.replicas),
            env=[core.EnvVarArgs(name=POD_IP_ENV, value_from=core.EnvVarSourceArgs(
                field_ref=core.ObjectFieldSelectorArgs(field_path="status.podIP")))],
            ports=[core.ContainerPortArgs(name="http", container_port=facts.http_port),
                   core.ContainerPortArgs(name="cluster-tcp", container_port=CLUSTER_PORT,
                                          protocol="TCP"),
                   core.ContainerPortArgs(name="cluster-udp", container_port=CLUSTER_PORT,
                                          protocol="UDP")],
            liveness_probe=probe(SERVICE), readiness_probe=probe(SERVICE),
            resources=resources(workload), security_context=container_security(SERVICE),
            volume_mounts=[core.VolumeMountArgs(name="config", mount_path=CONFIG_DIR,
                                                read_only=True),
                           data_mount(SERVICE)])
        # Each pod restarts with the file it runs: Alertmanager reads it at start only.
        checksum = hashlib.sha256(config.encode()).hexdigest()
        self.stateful_set = apps.StatefulSet(
            name, metadata=metadata(NAME, workload, SERVICE),
            spec=apps.StatefulSetSpecArgs(
                replicas=args.replicas, service_name=headless.metadata.name,
                # All at once: a replica waits for no other to be Ready before it starts.
                pod_management_policy="Parallel",
                selector=meta.LabelSelectorArgs(match_labels=labels(SERVICE)),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(
                        labels=labels(SERVICE),
                        annotations={"gatewayz.ai/config-sha256": checksum}),
                    spec=core.PodSpecArgs(
                        automount_service_account_token=False,
                        security_context=pod_security(SERVICE),
                        containers=[container],
                        topology_spread_constraints=spread(labels(SERVICE)),
                        volumes=[core.VolumeArgs(name="config", projected=(
                            core.ProjectedVolumeSourceArgs(sources=sources)))])),
                # Silences and the notification log: gossiped between the peers, and kept on
                # each replica's own claim, so a cluster restarted at once keeps them too.
                volume_claim_templates=[data_claim(workload, SERVICE)],
                persistent_volume_claim_retention_policy=claim_retention(workload)),
            opts=child)

        disruption_budget(f"{name}-disruption", NAME, workload, SERVICE,
                          selector=labels(SERVICE), opts=child)

        # In: the API from its clients, gossip from the peers. Out: gossip to the peers, and
        # the receivers, on any port (their URLs are secrets the plan does not read).
        network_policy(f"{NAME}-network", workload, SERVICE, opts=child, ingress=[
            Allow(API_CLIENTS, ((facts.http_port, "TCP"),)), Allow((SERVICE,), GOSSIP)],
            egress=[Allow((SERVICE,), GOSSIP), Allow((), ())])
        self.register_outputs({})

"""Prometheus on Kubernetes as an HA pair: `replicas` pods of a StatefulSet that each scrape every
target, evaluate every rule and send every alert (Alertmanager de-duplicates them, the replica
label dropped), each on its own volume claim. The same prometheus.yml and rule files the Docker
layer writes (configs/prometheus.py, configs/mixins.py) from ConfigMaps, its credentials from a
Secret mounted read-only beside them at the Docker layer's paths; a ServiceAccount whose Role
lets it discover the pods and endpoints of its own namespace, and nothing else."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

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
from configs.mixins import rule_files
from configs.prometheus import (
    GRAFANA_PASSWORD_FILE,
    POD_NAME_ENV,
    credentials_file,
    prometheus_command,
    prometheus_config,
)
from configs.render import to_yaml
from configs.rules import RULES_DIR
from services import SERVICES, Service, config_path
from settings import ScrapeTarget, Settings
from settings.pulumi_config import reveal

SERVICE: Final = Service.PROMETHEUS
NAME: Final = str(SERVICE)
# The StatefulSet's governing Service: each pod is `prometheus-<i>.prometheus-pods`
# (services.pod_address), where Tempo remote-writes its span metrics to every replica.
PODS_SERVICE: Final = f"{NAME}-pods"
# prometheus.yml, rules/ and secrets/ share this directory: one projected volume holds them
# all, so no mount lands inside another (a read-only volume cannot take a mount point).
CONFIG_DIR: Final = posixpath.dirname(config_path(SERVICE))
SECRET_MODE: Final = 0o400
CONFIG_MODE: Final = 0o444
# What service discovery reads: pods (the scrape jobs' role), and the endpoint slices of the
# Alertmanager Service with the Services and pods they point at (the endpointslice role
# watches all three; prometheus/prometheus v3.14.0 discovery/kubernetes/kubernetes.go).
# `endpoints` too, the role a later job may take; read-only, in the namespace alone.
DISCOVERY_RULES: Final = (("", ("endpoints", "pods", "services")),
                          ("discovery.k8s.io", ("endpointslices",)))
READ_VERBS: Final = ("get", "list", "watch")
# The API server as pods reach it: the `kubernetes` Service on 443, which most network
# plugins apply policies to after translating it to the server's own port, 6443 where a
# kubeadm or kind cluster runs it.
API_SERVER_PORTS: Final = ((443, "TCP"), (6443, "TCP"))
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
meta = kubernetes.meta.v1
core = kubernetes.core.v1
apps = kubernetes.apps.v1
rbac = kubernetes.rbac.v1


@dataclass(frozen=True)
class PrometheusArgs:
    workload: WorkloadArgs
    # Its config and rules read most of the settings: scrape jobs, retention, thresholds.
    settings: Settings
    # The password of Grafana's /metrics, which its scrape job reads from a file.
    grafana_metrics_password: pulumi.Input[str]
    replicas: int


def target_port(target: ScrapeTarget) -> int:
    """The port a job outside the cluster is scraped on: its URL's, else its scheme's."""
    return urlsplit(target.url).port or _DEFAULT_PORTS[target.scheme]


def _secret_files(args: PrometheusArgs) -> dict[str, pulumi.Input[str]]:
    """Each credential file Prometheus reads, relative to CONFIG_DIR: the paths the Docker
    layer uploads them to, which prometheus.yml names."""
    files: dict[str, pulumi.Input[str]] = {GRAFANA_PASSWORD_FILE: args.grafana_metrics_password}
    backend = args.settings.backend
    if backend.token is not None:
        files[credentials_file(backend)] = reveal(backend.token)
    return {posixpath.relpath(path, CONFIG_DIR): value for path, value in sorted(files.items())}


def _ingress() -> list[Allow]:
    # Its API: Grafana's datasource queries it, Tempo remote-writes span metrics to it, and
    # each replica scrapes its twin.
    return [Allow((SERVICE, Service.GRAFANA, Service.TEMPO),
                  ((SERVICES[SERVICE].http_port, "TCP"),))]


def _egress(settings: Settings) -> list[Allow]:
    # Every service it scrapes, on that service's HTTP port (Alertmanager's is also where alerts
    # go); the jobs outside the cluster (the backend, `extraTargets`) at any address on
    # their own ports; the API server, which discovery lists and watches.
    scraped = [Allow((service,), ((SERVICES[service].http_port, "TCP"),))
               for service in settings.services]
    external = sorted({target_port(target) for target in settings.external_targets})
    return [*scraped, Allow((), tuple((port, "TCP") for port in external)),
            Allow((), API_SERVER_PORTS)]


class Prometheus(pulumi.ComponentResource):
    def __init__(self, name: str, args: PrometheusArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:kubernetes:Prometheus", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workload, settings = args.workload, args.settings
        facts = SERVICES[SERVICE]
        rules = {f"{RULES_DIR}/{file}": to_yaml(document)
                 for file, document in sorted(rule_files(settings).items())}
        config = to_yaml(prometheus_config(settings, rules))
        config_file = posixpath.basename(config_path(SERVICE))

        # Discovery's identity: the only pods of the stack that mount a service-account token.
        account = core.ServiceAccount(
            f"{name}-account", metadata=metadata(NAME, workload, SERVICE),
            automount_service_account_token=False, opts=child)
        role = rbac.Role(f"{name}-discovery", metadata=metadata(f"{NAME}-discovery", workload,
                                                                SERVICE),
                         rules=[rbac.PolicyRuleArgs(api_groups=[group], resources=list(kinds),
                                                    verbs=list(READ_VERBS))
                                for group, kinds in DISCOVERY_RULES],
                         opts=child)
        rbac.RoleBinding(f"{name}-discovery", metadata=metadata(f"{NAME}-discovery", workload,
                                                                SERVICE),
                         role_ref=rbac.RoleRefArgs(api_group="rbac.authorization.k8s.io",
                                                   kind="Role", name=role.metadata.name),
                         subjects=[rbac.SubjectArgs(kind="ServiceAccount",
                                                    name=account.metadata.name,
                                                    namespace=workload.namespace)],
                         opts=child)

        config_map = core.ConfigMap(f"{name}-config", metadata=metadata(f"{NAME}-config",
                                                                        workload, SERVICE),
                                    data={config_file: config}, opts=child)
        # A ConfigMap's keys are file names: `rules/backend.yml` is stored as `backend.yml`.
        rule_map = core.ConfigMap(f"{name}-rules", metadata=metadata(f"{NAME}-rules", workload,
                                                                     SERVICE),
                                  data={posixpath.basename(path): text
                                        for path, text in rules.items()},
                                  opts=child)
        secret_files = _secret_files(args)
        secret = core.Secret(
            f"{name}-credentials", metadata=metadata(f"{NAME}-credentials", workload, SERVICE),
            type="Opaque",
            string_data={posixpath.basename(path): value for path, value in secret_files.items()},
            opts=child)
        sources = [
            core.VolumeProjectionArgs(config_map=core.ConfigMapProjectionArgs(
                name=config_map.metadata.name,
                items=[core.KeyToPathArgs(key=config_file, path=config_file,
                                          mode=CONFIG_MODE)])),
            core.VolumeProjectionArgs(config_map=core.ConfigMapProjectionArgs(
                name=rule_map.metadata.name,
                items=[core.KeyToPathArgs(key=posixpath.basename(path),
                                          path=posixpath.relpath(path, CONFIG_DIR),
                                          mode=CONFIG_MODE) for path in rules])),
            core.VolumeProjectionArgs(secret=core.SecretProjectionArgs(
                name=secret.metadata.name,
                items=[core.KeyToPathArgs(key=posixpath.basename(path), path=path,
                                          mode=SECRET_MODE) for path in secret_files]))]

        http = [core.ServicePortArgs(name="http", port=facts.http_port,
                                     target_port=facts.http_port, protocol="TCP")]
        # Headless, listing pods before they are Ready: each replica's stable name resolves
        # from its start, for Tempo's remote write to each one.
        pods_service = core.Service(f"{name}-pods", metadata=metadata(PODS_SERVICE, workload,
                                                                      SERVICE),
                                    spec=core.ServiceSpecArgs(
                                        cluster_ip="None", publish_not_ready_addresses=True,
                                        selector=labels(SERVICE), ports=http),
                                    opts=child)
        # Both replicas behind the Docker alias: Grafana's datasource queries either.
        core.Service(name, metadata=metadata(NAME, workload, SERVICE),
                     spec=core.ServiceSpecArgs(type="ClusterIP", selector=labels(SERVICE),
                                               ports=http),
                     opts=child)

        container = core.ContainerArgs(
            name=NAME, image=workload.image, args=prometheus_command(settings),
            # The pod's name, which prometheus.yml's replica label expands.
            env=[core.EnvVarArgs(name=POD_NAME_ENV, value_from=core.EnvVarSourceArgs(
                field_ref=core.ObjectFieldSelectorArgs(field_path="metadata.name")))],
            ports=[core.ContainerPortArgs(name="http", container_port=facts.http_port)],
            liveness_probe=probe(SERVICE), readiness_probe=probe(SERVICE),
            resources=resources(workload), security_context=container_security(SERVICE),
            volume_mounts=[core.VolumeMountArgs(name="config", mount_path=CONFIG_DIR,
                                                read_only=True),
                           data_mount(SERVICE)])
        # Each pod restarts with the files it runs: Prometheus reads them at start (the
        # credentials it reads at each scrape, so they need no restart).
        checksum = hashlib.sha256("\n".join([config, *rules.values()]).encode()).hexdigest()
        kubernetes.apps.v1.StatefulSet(
            name, metadata=metadata(NAME, workload, SERVICE),
            spec=apps.StatefulSetSpecArgs(
                replicas=args.replicas, service_name=pods_service.metadata.name,
                # All at once: a replica waits for no other to be Ready before it starts;
                # updates still roll one pod at a time, so one replica always evaluates.
                pod_management_policy="Parallel",
                selector=meta.LabelSelectorArgs(match_labels=labels(SERVICE)),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(
                        labels=labels(SERVICE),
                        annotations={"gatewayz.ai/config-sha256": checksum}),
                    spec=core.PodSpecArgs(
                        service_account_name=account.metadata.name,
                        automount_service_account_token=True,
                        security_context=pod_security(SERVICE),
                        containers=[container],
                        topology_spread_constraints=spread(labels(SERVICE)),
                        volumes=[core.VolumeArgs(name="config", projected=(
                            core.ProjectedVolumeSourceArgs(sources=sources)))])),
                # Each replica's TSDB on its own claim, sized from the retention size.
                volume_claim_templates=[data_claim(workload, SERVICE)],
                persistent_volume_claim_retention_policy=claim_retention(workload)),
            opts=child)

        disruption_budget(f"{name}-disruption", NAME, workload, SERVICE,
                          selector=labels(SERVICE), opts=child)

        network_policy(f"{NAME}-network", workload, SERVICE, opts=child,
                       ingress=_ingress(), egress=_egress(settings))
        self.register_outputs({})

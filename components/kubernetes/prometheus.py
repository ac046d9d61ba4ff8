"""Prometheus on Kubernetes as an HA pair: `replicas` pods of a StatefulSet that each scrape every
target, evaluate every rule and send every alert (Alertmanager de-duplicates them, the replica
label dropped), each on its own volume claim. The same prometheus.yml and rule files the Docker
layer writes (configs/prometheus.py, configs/mixins.py) from ConfigMaps, its credentials from a
Secret mounted read-only beside them at the Docker layer's paths; a ServiceAccount whose Role
lets it discover the pods and endpoints of its own namespace, and nothing else."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

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
    metadata,
    network_policy,
    pod_template,
    secret_source,
    service_port,
    stateful_set,
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
from services import SERVICES, Service
from settings import ScrapeTarget, Settings
from settings.pulumi_config import reveal

SERVICE: Final = Service.PROMETHEUS
NAME: Final = str(SERVICE)
# The StatefulSet's governing Service: each pod is `prometheus-<i>.prometheus-pods`
# (services.pod_address), where Tempo remote-writes its span metrics to every replica.
PODS_SERVICE: Final = f"{NAME}-pods"
# prometheus.yml, rules/ and secrets/, in one projected volume.
CONFIG_DIR: Final = config_dir(SERVICE)
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
core = kubernetes.core.v1
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

        sources = [
            config_source(f"{NAME}-config", workload, SERVICE, {config_file(SERVICE): config},
                          child),
            config_source(f"{NAME}-rules", workload, SERVICE, {
                posixpath.relpath(path, CONFIG_DIR): text for path, text in rules.items()},
                child),
            secret_source(f"{NAME}-credentials", workload, SERVICE, _secret_files(args), child)]

        http = [service_port("http", facts.http_port)]
        # Headless, listing pods before they are Ready: each replica's stable name resolves
        # from its start, for Tempo's remote write to each one.
        pods_service = expose(f"{name}-pods", PODS_SERVICE, workload, SERVICE,
                              selector=labels(SERVICE), ports=http, headless=True,
                              ready_or_not=True, opts=child)
        # Both replicas behind the Docker alias: Grafana's datasource queries either.
        expose(name, NAME, workload, SERVICE, selector=labels(SERVICE), ports=http, opts=child)

        pod = container(
            SERVICE, workload, command=prometheus_command(settings),
            # The pod's name, which prometheus.yml's replica label expands.
            env=[core.EnvVarArgs(name=POD_NAME_ENV, value_from=core.EnvVarSourceArgs(
                field_ref=core.ObjectFieldSelectorArgs(field_path="metadata.name")))],
            ports=[core.ContainerPortArgs(name="http", container_port=facts.http_port)],
            mounts=[config_mount(SERVICE), data_mount(SERVICE)])
        # Each replica's TSDB on its own claim, sized from the retention size. Each pod
        # restarts with the files it runs: Prometheus reads them at start (the credentials it
        # reads at each scrape, so they need no restart).
        stateful_set(name, NAME, workload, SERVICE, replicas=args.replicas,
                     governing=pods_service,
                     template=pod_template(SERVICE, pod, [config_volume(sources)],
                                           config=[config, *rules.values()], spread_pods=True,
                                           service_account=account.metadata.name),
                     parallel=True, opts=child)

        disruption_budget(f"{name}-disruption", NAME, workload, SERVICE,
                          selector=labels(SERVICE), opts=child)

        network_policy(f"{NAME}-network", workload, SERVICE, opts=child,
                       ingress=_ingress(), egress=_egress(settings))
        self.register_outputs({})

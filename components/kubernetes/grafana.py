"""Grafana on Kubernetes: the server the Docker layer runs, with the same GF_* settings
(configs/grafana.py), its three secrets from one Secret mounted read-only where the Docker layer
uploads them, its SQLite database on its own volume claim; a Service `grafana`, and an Ingress
where `grafanaIngressHost` names one. Its datasources and dashboards are the content project's
(content/), as on Docker."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.workload import (
    Allow,
    WorkloadArgs,
    container,
    data_mount,
    expose,
    labels,
    metadata,
    network_policy,
    pod_template,
    probe,
    scratch,
    secrets_mount,
    secrets_volume,
    service_port,
    stateful_set,
)
from configs.grafana import (
    ADMIN_PASSWORD_FILE,
    METRICS_PASSWORD_FILE,
    SECRET_KEY_FILE,
    SECRETS_DIR,
    grafana_env,
)
from services import SERVICES, Listener, Service
from settings import GrafanaApi

SERVICE: Final = Service.GRAFANA
NAME: Final = str(SERVICE)
# Grafana's first start creates its database, an upgrade migrates it: up to 5 minutes (30
# probes 10s apart) before the liveness probe may restart it.
STARTUP_PROBES: Final = 30
# What Grafana's datasources query (configs/datasources.py), each on its HTTP port: Loki's read
# path is the pods labelled with Loki's name, whichever target serves it.
QUERIED: Final = (Service.PROMETHEUS, Service.LOKI, Service.TEMPO, Service.ALERTMANAGER)
core = kubernetes.core.v1
networking = kubernetes.networking.v1


@dataclass(frozen=True)
class GrafanaArgs:
    workload: WorkloadArgs
    api: GrafanaApi
    # None: no Ingress; Grafana is reached through its Service (a port-forward, a proxy).
    ingress_host: str | None
    # None: the cluster's default IngressClass.
    ingress_class: str | None
    admin_password: pulumi.Input[str]
    # Stable across updates (secret config, or a RandomPassword kept in the state).
    secret_key: pulumi.Input[str]
    # What Prometheus scrapes /metrics with.
    metrics_password: pulumi.Input[str]


class Grafana(pulumi.ComponentResource):
    def __init__(self, name: str, args: GrafanaArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:kubernetes:Grafana", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workload = args.workload
        port = SERVICES[SERVICE].http_port

        # The files the Docker layer uploads, at the same paths, which GF_*__FILE name.
        files = {posixpath.relpath(path, SECRETS_DIR): value for path, value in {
            ADMIN_PASSWORD_FILE: args.admin_password, SECRET_KEY_FILE: args.secret_key,
            METRICS_PASSWORD_FILE: args.metrics_password}.items()}
        secrets = secrets_volume(f"{NAME}-secrets", workload, SERVICE, files, child)

        http = [service_port("http", port)]
        service = expose(f"{name}-service", NAME, workload, SERVICE, selector=labels(SERVICE),
                         ports=http, opts=child)
        # The StatefulSet's governing Service: the pod's stable name `grafana-0.grafana-pods`.
        headless = expose(f"{name}-pods", f"{NAME}-pods", workload, SERVICE,
                          selector=labels(SERVICE), ports=http, headless=True, opts=child)

        volumes, mounts = scratch(SERVICE)
        pod = container(
            SERVICE, workload,
            # Names and paths only: every secret is a file (`__FILE`), never a value here.
            env=[core.EnvVarArgs(name=key, value=value)
                 for key, value in sorted(grafana_env(args.api).items())],
            ports=[core.ContainerPortArgs(name=str(Listener.HTTP), container_port=port)],
            startup=probe(SERVICE, failure_threshold=STARTUP_PROBES),
            mounts=[secrets_mount(SECRETS_DIR), data_mount(SERVICE), *mounts])
        # One replica: grafana.db is SQLite on a ReadWriteOnce claim, which one pod opens;
        # several would each keep their own users, sessions and alert state (Grafana shares
        # them only through a MySQL or PostgreSQL database, which this stack does not run).
        # A StatefulSet, not a Deployment: an update stops the old pod before the new one
        # opens the database.
        stateful_set(name, NAME, workload, SERVICE, replicas=1, governing=headless,
                     template=pod_template(SERVICE, pod, [secrets, *volumes]),
                     opts=child)
        # No PodDisruptionBudget: of one pod, `maxUnavailable: 1` allows every eviction (a
        # budget that says nothing), and `minAvailable: 1` allows none, so every node drain
        # and cluster upgrade would wait on an operator, for a UI whose outage pages no one
        # (alerts go from Prometheus to Alertmanager, not through Grafana).

        ingress_rules = [Allow((Service.PROMETHEUS,), ((port, "TCP"),))]
        if args.ingress_host is not None:
            networking.Ingress(
                f"{name}-ingress", metadata=metadata(NAME, workload, SERVICE),
                spec=networking.IngressSpecArgs(
                    ingress_class_name=args.ingress_class,
                    # TLS for the host, with the controller's certificate (or the one an
                    # operator's cert-manager annotation issues): GF_SERVER_ROOT_URL is https.
                    tls=[networking.IngressTLSArgs(hosts=[args.ingress_host])],
                    rules=[networking.IngressRuleArgs(
                        host=args.ingress_host,
                        http=networking.HTTPIngressRuleValueArgs(paths=[
                            networking.HTTPIngressPathArgs(
                                path="/", path_type="Prefix",
                                backend=networking.IngressBackendArgs(
                                    service=networking.IngressServiceBackendArgs(
                                        name=service.metadata.name,
                                        port=networking.ServiceBackendPortArgs(
                                            number=port))))]))]),
                opts=child)
            # The ingress controller's pods run in a namespace of their own, which no label
            # of this stack names: any pod, any address, on Grafana's port (it asks for a
            # login, and serves the UI on nothing else).
            ingress_rules.append(Allow((), ((port, "TCP"),), any_pod=True))
        # In: Prometheus' scrape of /metrics (basic auth), and the Ingress's traffic. Out: the
        # datasources' queries. A port-forward reaches the pod without crossing its policy.
        network_policy(
            f"{NAME}-network", workload, SERVICE, opts=child, ingress=ingress_rules,
            egress=[Allow((queried,), ((SERVICES[queried].http_port, "TCP"),))
                    for queried in QUERIED])
        self.register_outputs({})

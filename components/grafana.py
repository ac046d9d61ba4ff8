"""Grafana: the server only (its datasources and dashboards are in grafana_content.py)."""

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.service import ContainerArgs, ContainerSpec, Upload, service_container
from configs.grafana import (
    ADMIN_PASSWORD_FILE,
    METRICS_PASSWORD_FILE,
    SECRET_KEY_FILE,
    grafana_env,
)
from services import Published, Service
from settings import GrafanaApi, port_url


@dataclass(frozen=True)
class GrafanaArgs:
    container: ContainerArgs
    api: GrafanaApi
    admin_password: pulumi.Input[str]
    # Stable across updates (secret config, or a RandomPassword kept in the state).
    secret_key: pulumi.Input[str]
    # What Prometheus scrapes /metrics with (components/prometheus.py).
    metrics_password: pulumi.Input[str]


class Grafana(pulumi.ComponentResource):
    url: pulumi.Output[str]
    container: docker.Container

    def __init__(self, name: str, args: GrafanaArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Grafana", name, None, opts)
        deployed = service_container(self, name, args.container, ContainerSpec(
            service=Service.GRAFANA,
            env=grafana_env(args.api),
            uploads=[Upload(ADMIN_PASSWORD_FILE, args.admin_password, secret=True),
                     Upload(SECRET_KEY_FILE, args.secret_key, secret=True),
                     Upload(METRICS_PASSWORD_FILE, args.metrics_password, secret=True)],
        ))
        self.container = deployed.container
        self.url = pulumi.Output.from_input(port_url(args.container.bindings, Published.GRAFANA))
        self.register_outputs({"url": self.url})

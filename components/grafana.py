"""Grafana: the server only (its datasources and dashboards are in grafana_content.py)."""

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.service import ContainerSpec, StackArgs, Upload, published_url, service_container
from configs.endpoints import internal_url
from configs.grafana import ADMIN_PASSWORD_FILE, DATA_DIR, grafana_env
from settings import Port, Service

# grafana/grafana runs as uid 472.
GRAFANA_UID = 472


@dataclass(frozen=True)
class GrafanaArgs:
    stack: StackArgs
    admin_password: pulumi.Input[str]


class Grafana(pulumi.ComponentResource):
    url: pulumi.Output[str]
    container: docker.Container
    # grafana.db lives here: what Grafana's content (components/grafana_content.py) follows.
    data_volume: docker.Volume

    def __init__(self, name: str, args: GrafanaArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Grafana", name, None, opts)
        settings = args.stack.settings
        deployed = service_container(self, name, args.stack, ContainerSpec(
            service=Service.GRAFANA,
            user_id=GRAFANA_UID,
            healthcheck=["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:3000/api/health"],
            env=grafana_env(settings),
            uploads=[Upload(ADMIN_PASSWORD_FILE, args.admin_password, secret=True)],
            ports=[Port.GRAFANA],
            data_dir=DATA_DIR,
        ))
        assert deployed.data_volume is not None  # data_dir is set just above
        self.container, self.data_volume = deployed.container, deployed.data_volume
        self.url = pulumi.Output.from_input(
            published_url(settings.bindings[Port.GRAFANA], internal_url(Service.GRAFANA)))
        self.register_outputs({"url": self.url})

"""Alertmanager: routes the stack's alerts to the receivers a stack configures; one node."""

from dataclasses import dataclass

import pulumi

from components.service import ContainerArgs, ContainerSpec, Upload, service_container
from configs.alertmanager import (
    HEARTBEAT_URL_FILE,
    SECRET_FILES,
    alertmanager_command,
    alertmanager_config,
)
from configs.render import to_yaml
from services import Published, Service, config_path
from settings import Alerting, port_url
from settings.pulumi_config import reveal


@dataclass(frozen=True)
class AlertmanagerArgs:
    container: ContainerArgs
    alerting: Alerting


class Alertmanager(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: AlertmanagerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Alertmanager", name, None, opts)
        alerting = args.alerting
        self.url = pulumi.Output.from_input(port_url(args.container.bindings,
                                                     Published.ALERTMANAGER))
        config = to_yaml(alertmanager_config(alerting))
        uploads = [Upload(config_path(Service.ALERTMANAGER), config)]
        uploads += [Upload(SECRET_FILES[receiver], reveal(url), secret=True)
                    for receiver, url in alerting.urls.items()]
        if alerting.heartbeat is not None:
            uploads.append(Upload(HEARTBEAT_URL_FILE, reveal(alerting.heartbeat.url),
                                  secret=True))
        self.container = service_container(self, name, args.container, ContainerSpec(
            service=Service.ALERTMANAGER,
            command=alertmanager_command(),
            uploads=uploads,
        )).container
        self.register_outputs({"url": self.url})

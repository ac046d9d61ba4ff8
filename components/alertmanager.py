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
from services import Port, Service, config_path
from settings import Alerting, Receiver, port_url


@dataclass(frozen=True)
class AlertmanagerArgs:
    container: ContainerArgs
    alerting: Alerting
    slack_webhook_url: pulumi.Input[str] | None
    webhook_url: pulumi.Input[str] | None
    heartbeat_url: pulumi.Input[str] | None


class Alertmanager(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: AlertmanagerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Alertmanager", name, None, opts)
        alerting = args.alerting
        self.url = pulumi.Output.from_input(port_url(args.container.bindings, Port.ALERTMANAGER))
        config = to_yaml(alertmanager_config(alerting))
        uploads = [Upload(config_path(Service.ALERTMANAGER), config)]
        # Settings validation guarantees each URL a used receiver needs is set.
        for receiver, url in ((Receiver.SLACK, args.slack_webhook_url),
                              (Receiver.WEBHOOK, args.webhook_url)):
            if alerting.uses(receiver):
                assert url is not None
                uploads.append(Upload(SECRET_FILES[receiver], url, secret=True))
        if alerting.heartbeat_interval is not None:
            assert args.heartbeat_url is not None  # guaranteed by settings validation
            uploads.append(Upload(HEARTBEAT_URL_FILE, args.heartbeat_url, secret=True))
        self.container = service_container(self, name, args.container, ContainerSpec(
            service=Service.ALERTMANAGER,
            command=alertmanager_command(),
            uploads=uploads,
        )).container
        self.register_outputs({"url": self.url})

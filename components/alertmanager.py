"""Alertmanager: routes the stack's alerts to the receivers a stack configures; one node."""

from dataclasses import dataclass
from typing import Final

import pulumi

from components.service import ContainerSpec, StackArgs, Upload, published_url, service_container
from configs.alertmanager import HEARTBEAT_URL_FILE, SECRET_FILES, alertmanager_config
from configs.endpoints import internal_url
from configs.render import to_yaml
from settings import Port, Receiver, Service

CONFIG_PATH: Final = "/etc/alertmanager/alertmanager.yml"
DATA_DIR: Final = "/alertmanager"
# prom/alertmanager runs as `nobody`.
ALERTMANAGER_UID: Final = 65534


@dataclass(frozen=True)
class AlertmanagerArgs:
    stack: StackArgs
    slack_webhook_url: pulumi.Input[str] | None
    webhook_url: pulumi.Input[str] | None
    heartbeat_url: pulumi.Input[str] | None


class Alertmanager(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: AlertmanagerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Alertmanager", name, None, opts)
        settings = args.stack.settings
        self.url = pulumi.Output.from_input(
            published_url(settings.bindings[Port.ALERTMANAGER], internal_url(Service.ALERTMANAGER)))
        uploads = [Upload(CONFIG_PATH, to_yaml(alertmanager_config(settings)))]
        # Settings validation guarantees each URL a used receiver needs is set.
        for receiver, url in ((Receiver.SLACK, args.slack_webhook_url),
                              (Receiver.WEBHOOK, args.webhook_url)):
            if settings.alerting.uses(receiver):
                assert url is not None
                uploads.append(Upload(SECRET_FILES[receiver], url, secret=True))
        if settings.alerting.heartbeat_interval is not None:
            assert args.heartbeat_url is not None  # guaranteed by settings validation
            uploads.append(Upload(HEARTBEAT_URL_FILE, args.heartbeat_url, secret=True))
        self.container = service_container(self, name, args.stack, ContainerSpec(
            service=Service.ALERTMANAGER,
            user_id=ALERTMANAGER_UID,
            healthcheck=["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:9093/-/healthy"],
            command=[f"--config.file={CONFIG_PATH}", f"--storage.path={DATA_DIR}",
                     # A single node: gossip off, or it waits for peers that never come.
                     "--cluster.listen-address="],
            uploads=uploads,
            ports=[Port.ALERTMANAGER],
            data_dir=DATA_DIR,
        )).container
        self.register_outputs({"url": self.url})

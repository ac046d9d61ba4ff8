"""Loki: the log store, single binary, data on a named volume."""

import pulumi

from components.service import ContainerSpec, StackArgs, Upload, published_url, service_container
from configs.endpoints import internal_url
from configs.loki import CONFIG_PATH, DATA_DIR, loki_command, loki_config
from configs.render import to_yaml
from settings import Port, Service

# grafana/loki images run as this uid (loki cmd/loki/Dockerfile).
LOKI_UID = 10001


class Loki(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: StackArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Loki", name, None, opts)
        settings = args.settings
        self.container = service_container(self, name, args, ContainerSpec(
            service=Service.LOKI,
            user_id=LOKI_UID,
            # Distroless image: no shell or wget, but the binary checks its own /ready.
            healthcheck=["CMD", "/usr/bin/loki", "-health"],
            command=loki_command(),
            uploads=[Upload(CONFIG_PATH, to_yaml(loki_config(settings)))],
            ports=[Port.LOKI],
            data_dir=DATA_DIR,
            start_period="60s",
        )).container
        self.url = pulumi.Output.from_input(
            published_url(settings.bindings[Port.LOKI], internal_url(Service.LOKI)))
        self.register_outputs({"url": self.url})

"""Loki: the log store, single binary, data on a named volume."""

from dataclasses import dataclass

import pulumi

from components.service import ContainerSpec, StackArgs, Upload, port_url, service_container
from configs.loki import loki_command, loki_config
from configs.render import to_yaml
from services import Port, Service, config_path


@dataclass(frozen=True)
class LokiArgs:
    stack: StackArgs


class Loki(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: LokiArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Loki", name, None, opts)
        settings = args.stack.settings
        self.container = service_container(self, name, args.stack, ContainerSpec(
            service=Service.LOKI,
            command=loki_command(),
            uploads=[Upload(config_path(Service.LOKI), to_yaml(loki_config(settings)))],
        )).container
        self.url = pulumi.Output.from_input(port_url(settings, Port.LOKI))
        self.register_outputs({"url": self.url})

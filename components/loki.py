"""Loki: the log store, single binary, data on a named volume."""

from dataclasses import dataclass

import pulumi

from components.service import ContainerArgs, ContainerSpec, Upload, service_container
from configs.loki import loki_command, loki_config
from configs.render import to_yaml
from services import Published, Service, config_path
from settings import Duration, port_url


@dataclass(frozen=True)
class LokiArgs:
    container: ContainerArgs
    retention: Duration


class Loki(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: LokiArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Loki", name, None, opts)
        self.container = service_container(self, name, args.container, ContainerSpec(
            service=Service.LOKI,
            command=loki_command(),
            uploads=[Upload(config_path(Service.LOKI), to_yaml(loki_config(args.retention)))],
        )).container
        self.url = pulumi.Output.from_input(port_url(args.container.bindings, Published.LOKI))
        self.register_outputs({"url": self.url})

"""Tempo: the trace store with its metrics generator, single binary, data on a named volume."""

from dataclasses import dataclass

import pulumi

from components.service import ContainerSpec, StackArgs, Upload, port_url, service_container
from configs.render import to_yaml
from configs.tempo import tempo_command, tempo_config
from services import Port, Service, config_path


@dataclass(frozen=True)
class TempoArgs:
    stack: StackArgs


class Tempo(pulumi.ComponentResource):
    url: pulumi.Output[str]
    otlp_grpc_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: TempoArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Tempo", name, None, opts)
        settings = args.stack.settings
        self.container = service_container(self, name, args.stack, ContainerSpec(
            service=Service.TEMPO,
            command=tempo_command(),
            uploads=[Upload(config_path(Service.TEMPO), to_yaml(tempo_config(settings)))],
        )).container
        self.url = pulumi.Output.from_input(port_url(settings, Port.TEMPO_HTTP))
        self.otlp_grpc_endpoint = pulumi.Output.from_input(port_url(settings, Port.TEMPO_OTLP_GRPC))
        self.register_outputs({"url": self.url, "otlp_grpc_endpoint": self.otlp_grpc_endpoint})

"""Tempo: the trace store with its metrics generator, single binary, data on a named volume."""

from dataclasses import dataclass

import pulumi

from components.service import ContainerArgs, ContainerSpec, Upload, service_container
from configs.render import to_yaml
from configs.tempo import tempo_command, tempo_config
from services import Published, Service, config_path
from settings import Duration, port_url


@dataclass(frozen=True)
class TempoArgs:
    container: ContainerArgs
    retention: Duration


class Tempo(pulumi.ComponentResource):
    url: pulumi.Output[str]
    otlp_grpc_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: TempoArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Tempo", name, None, opts)
        container = args.container
        config = tempo_config(container.environment, args.retention)
        self.container = service_container(self, name, container, ContainerSpec(
            service=Service.TEMPO,
            command=tempo_command(),
            uploads=[Upload(config_path(Service.TEMPO), to_yaml(config))],
        )).container
        self.url = pulumi.Output.from_input(port_url(container.bindings, Published.TEMPO_HTTP))
        self.otlp_grpc_endpoint = pulumi.Output.from_input(
            port_url(container.bindings, Published.TEMPO_OTLP_GRPC))
        self.register_outputs({"url": self.url, "otlp_grpc_endpoint": self.otlp_grpc_endpoint})

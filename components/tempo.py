"""Tempo: the trace store with its metrics generator, single binary, data on a named volume."""

import pulumi

from components.service import ContainerSpec, StackArgs, Upload, published_url, service_container
from configs.endpoints import TEMPO_OTLP_GRPC_PORT, internal_url
from configs.render import to_yaml
from configs.tempo import CONFIG_PATH, DATA_DIR, tempo_command, tempo_config
from settings import Port, Service

# grafana/tempo images run as this uid (tempo cmd/tempo/Dockerfile).
TEMPO_UID = 10001


class Tempo(pulumi.ComponentResource):
    url: pulumi.Output[str]
    otlp_grpc_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: StackArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Tempo", name, None, opts)
        settings = args.settings
        self.container = service_container(self, name, args, ContainerSpec(
            service=Service.TEMPO,
            user_id=TEMPO_UID,
            # Distroless image: no shell or wget, but the binary checks its own /ready.
            healthcheck=["CMD", "/tempo", "-health"],
            command=tempo_command(),
            uploads=[Upload(CONFIG_PATH, to_yaml(tempo_config(settings)))],
            ports=[Port.TEMPO_HTTP, Port.TEMPO_OTLP_GRPC, Port.TEMPO_OTLP_HTTP],
            data_dir=DATA_DIR,
            start_period="60s",
        )).container
        self.url = pulumi.Output.from_input(
            published_url(settings.bindings[Port.TEMPO_HTTP], internal_url(Service.TEMPO)))
        self.otlp_grpc_endpoint = pulumi.Output.from_input(published_url(
            settings.bindings[Port.TEMPO_OTLP_GRPC],
            f"http://{Service.TEMPO}:{TEMPO_OTLP_GRPC_PORT}"))
        self.register_outputs({"url": self.url, "otlp_grpc_endpoint": self.otlp_grpc_endpoint})

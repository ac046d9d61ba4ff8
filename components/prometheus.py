"""Prometheus: scrapes, stores and evaluates rules; receives Tempo's generated metrics."""

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.service import ContainerSpec, StackArgs, Upload, published_url, service_container
from configs.endpoints import internal_url
from configs.prometheus import (
    CONFIG_PATH,
    DATA_DIR,
    credentials_file,
    prometheus_command,
    prometheus_config,
)
from configs.render import to_yaml
from settings import BackendAuth, Port, Service

# prom/prometheus runs as `nobody`.
PROMETHEUS_UID = 65534


@dataclass(frozen=True)
class PrometheusArgs:
    stack: StackArgs
    # Container path -> content of each rules file.
    rule_files: Mapping[str, str]
    backend_bearer_token: pulumi.Input[str] | None


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: PrometheusArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Prometheus", name, None, opts)
        settings = args.stack.settings
        config = prometheus_config(settings, args.rule_files)
        uploads = [Upload(CONFIG_PATH, to_yaml(config)),
                   *(Upload(path, content) for path, content in sorted(args.rule_files.items()))]
        if settings.backend.auth is BackendAuth.BEARER:
            # Settings validation guarantees the token exists when bearer auth is asked for.
            assert args.backend_bearer_token is not None
            uploads.append(Upload(credentials_file(settings.backend), args.backend_bearer_token,
                                  secret=True))
        self.container = service_container(self, name, args.stack, ContainerSpec(
            service=Service.PROMETHEUS,
            user_id=PROMETHEUS_UID,
            healthcheck=["CMD", "promtool", "check", "healthy"],
            command=prometheus_command(),
            uploads=uploads,
            ports=[Port.PROMETHEUS],
            data_dir=DATA_DIR,
        )).container
        self.url = pulumi.Output.from_input(
            published_url(settings.bindings[Port.PROMETHEUS], internal_url(Service.PROMETHEUS)))
        self.register_outputs({"url": self.url})

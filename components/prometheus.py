"""Prometheus: scrapes, stores and evaluates rules; receives Tempo's generated metrics."""

from dataclasses import dataclass

import pulumi

from components.service import ContainerArgs, ContainerSpec, Upload, service_container
from configs.mixins import rule_files
from configs.prometheus import (
    GRAFANA_PASSWORD_FILE,
    credentials_file,
    prometheus_command,
    prometheus_config,
    scrapes_docker_host,
)
from configs.render import to_yaml
from configs.rules import RULES_DIR
from services import Published, Service, config_path
from settings import Settings, port_url
from settings.pulumi_config import reveal


@dataclass(frozen=True)
class PrometheusArgs:
    container: ContainerArgs
    # Its config and rules read most of the settings: scrape jobs, retention, thresholds.
    settings: Settings
    # The password of Grafana's /metrics, which its scrape job reads from a file.
    grafana_metrics_password: pulumi.Input[str]


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: PrometheusArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:Prometheus", name, None, opts)
        settings = args.settings
        rules = {f"{RULES_DIR}/{file}": to_yaml(document)
                 for file, document in rule_files(settings).items()}
        config = prometheus_config(settings, rules)
        uploads = [Upload(config_path(Service.PROMETHEUS), to_yaml(config)),
                   *(Upload(path, content) for path, content in sorted(rules.items())),
                   Upload(GRAFANA_PASSWORD_FILE, args.grafana_metrics_password, secret=True)]
        if settings.backend.token is not None:
            uploads.append(Upload(credentials_file(settings.backend),
                                  reveal(settings.backend.token), secret=True))
        self.container = service_container(self, name, args.container, ContainerSpec(
            service=Service.PROMETHEUS,
            command=prometheus_command(settings),
            uploads=uploads,
            reaches_docker_host=scrapes_docker_host(settings),
        )).container
        self.url = pulumi.Output.from_input(port_url(args.container.bindings, Published.PROMETHEUS))
        self.register_outputs({"url": self.url})

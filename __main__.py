"""GatewayZ observability stack: Prometheus, Loki, Tempo, Grafana, Alertmanager and redis_exporter
as Docker containers on one network. Grafana's datasources, folders and dashboards are the
project in content/, a stack of their own that reads this one's outputs.

Wiring only: settings -> components -> exports. What each file says lives in configs/, each
service's fixed facts in services.py.
"""

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.alertmanager import Alertmanager, AlertmanagerArgs
from components.grafana import Grafana, GrafanaArgs
from components.loki import Loki, LokiArgs
from components.prometheus import Prometheus, PrometheusArgs
from components.redis_exporter import RedisExporter, RedisExporterArgs
from components.service import ContainerArgs
from components.tempo import Tempo, TempoArgs
from services import Service
from settings.pulumi_config import load_settings

settings, secrets = load_settings()

# Every Docker name derives from the stack's name (unique per backend), never from `environment`.
network = docker.Network("network", name=settings.name_prefix, driver="bridge")


def container(service: Service) -> ContainerArgs:
    """Each service's container gets its own slice of the settings."""
    return ContainerArgs.of(settings, service, network.name)


def generated(name: str, configured: pulumi.Output[str] | None) -> pulumi.Output[str]:
    """A secret from config, else one generated once and kept in the state (a secret either way:
    RandomPassword's `result` is). The random provider is needed only where one is unset."""
    if configured is not None:
        return configured
    result: pulumi.Output[str] = random.RandomPassword(name, length=32, special=False).result
    return result


admin_password = generated("grafana-admin-password", secrets.grafana_admin_password)
grafana_secret_key = generated("grafana-secret-key", secrets.grafana_secret_key)
grafana_metrics_password = generated("grafana-metrics-password",
                                     secrets.grafana_metrics_password)

prometheus = Prometheus("prometheus", PrometheusArgs(
    container(Service.PROMETHEUS), settings, grafana_metrics_password=grafana_metrics_password))
loki = Loki("loki", LokiArgs(container(Service.LOKI), settings.retention.logs))
tempo = Tempo("tempo", TempoArgs(container(Service.TEMPO), settings.retention.traces))
alertmanager = Alertmanager("alertmanager", AlertmanagerArgs(
    container(Service.ALERTMANAGER), settings.alerting))
# Where the stack runs it (Settings.services decides: where a Redis is watched).
if settings.redis is not None:
    RedisExporter("redis-exporter", RedisExporterArgs(
        container(Service.REDIS_EXPORTER), settings.redis))

grafana_server = Grafana("grafana", GrafanaArgs(
    container(Service.GRAFANA), settings.grafana, admin_password,
    secret_key=grafana_secret_key, metrics_password=grafana_metrics_password))

pulumi.export("environment", settings.environment)
pulumi.export("prometheusUrl", prometheus.url)
pulumi.export("lokiUrl", loki.url)
pulumi.export("tempoUrl", tempo.url)
pulumi.export("tempoOtlpGrpcEndpoint", tempo.otlp_grpc_endpoint)
pulumi.export("alertmanagerUrl", alertmanager.url)
pulumi.export("grafanaUrl", grafana_server.url)
pulumi.export("grafanaAdminUser", settings.grafana.admin_user)
# Secret either way: from secret config, or RandomPassword's secret `result`. The content
# stack (content/) logs in to Grafana with it.
pulumi.export("grafanaAdminPassword", admin_password)

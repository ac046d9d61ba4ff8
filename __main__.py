"""GatewayZ observability stack: Prometheus, Loki, Tempo, Grafana, Alertmanager and redis_exporter,
on one Docker host (`platform: docker`) or a Kubernetes cluster (`platform: kubernetes`), from the
same settings and config builders. Grafana's datasources, folders and dashboards are the project
in content/, a stack of their own that reads this one's outputs.

Wiring only: settings -> components -> exports. What each file says lives in configs/, each
service's fixed facts in services.py.
"""

import pulumi
import pulumi_random as random

from components.stack import Generated, run_services
from services import SERVICES
from settings import Platform
from settings.pulumi_config import load_settings

settings, secrets = load_settings()


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
secret_values = Generated(admin_password, secret_key=grafana_secret_key,
                          metrics_password=grafana_metrics_password)

if settings.platform is Platform.KUBERNETES:
    # Imported here: a Docker stack needs no Kubernetes SDK, and the other way round.
    from components.kubernetes.stack import run_kubernetes

    namespace = run_kubernetes(settings, secret_values)
    pulumi.export("kubernetesNamespace", namespace.name)
else:
    import pulumi_docker as docker

    # Every Docker name derives from the stack's name (unique per backend), never from
    # `environment`.
    network = docker.Network("network", name=settings.name_prefix, driver="bridge")
    # The services Settings.services names, each from its line in components/stack.py.
    run_services(settings, network.name, secret_values)

# Where each published endpoint is, under the output its row names: on Docker where this
# machine reaches it, on Kubernetes its in-cluster URL, Grafana's its Ingress's (settings.url).
for facts in SERVICES.values():
    for port, publication in facts.published.items():
        if publication.output is not None:
            pulumi.export(publication.output, settings.url(port))

pulumi.export("environment", settings.environment)
pulumi.export("grafanaAdminUser", settings.grafana.admin_user)
# Secret either way: from secret config, or RandomPassword's secret `result`. The content
# stack (content/) logs in to Grafana with it.
pulumi.export("grafanaAdminPassword", admin_password)

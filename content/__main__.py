"""GatewayZ's Grafana content: datasources, folders and dashboards, through Grafana's API.

A project of its own beside the containers' one (`..`), one stack per observability stack: a
dashboard edit never touches a container, and this runs wherever Grafana's API is reachable.
It reads its settings from the same `Pulumi.<stack>.yaml` and Grafana's address and admin
credentials from the observability stack's outputs. Run it after that stack's `pulumi up`,
with `--refresh`: grafana.db lives on Grafana's data volume, and a new volume starts empty.
"""

import sys
from pathlib import Path

# The program's packages live in the repository root, one level up from this project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumiverse_grafana as grafana

from components.grafana_content import GrafanaContent, GrafanaContentArgs
from settings.pulumi_config import load_content_settings

settings, observability_stack = load_content_settings()
observability = pulumi.StackReference("observability", stack_name=observability_stack)

grafana_provider = grafana.Provider(
    "grafana-api", url=settings.grafana.url,
    # Secret because the password is: concat keeps the secret mark.
    auth=pulumi.Output.concat(settings.grafana.admin_user, ":",
                              observability.require_output("grafanaAdminPassword")))
GrafanaContent("grafana-content", GrafanaContentArgs(settings),
               opts=pulumi.ResourceOptions(providers=[grafana_provider]))

pulumi.export("observabilityStack", observability_stack)

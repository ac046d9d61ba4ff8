"""The dead man's switch: `Watchdog`, an alert that always fires, so that its silence at a
heartbeat service (configs/alertmanager.py routes it there) pages when Prometheus, its rules,
Alertmanager or the path between them stop working.

As kube-prometheus ships it (prometheus-operator/kube-prometheus v0.18.0
jsonnet/kube-prometheus/components/mixin/alerts/general.libsonnet): `vector(1)`, no `for`, and
severity `none`, which no severity route and no inhibit rule matches.
"""

from typing import Final

from configs.dashboards import prometheus as prometheus_dashboard
from configs.promql import eq, selector
from configs.rules.helpers import (
    RUNBOOK,
    Panel,
    PromQL,
    Runbook,
    Verify,
    container_log,
    group,
    rule_file,
)
from services import Service
from settings import Settings

WATCHDOG: Final = "Watchdog"
SEVERITY: Final = "none"
# configs/alertmanager.py's receiver for it (which imports this module, hence the name again).
HEARTBEAT: Final = "heartbeat"


def _runbook(settings: Settings) -> Runbook:
    env = settings.environment
    # Docker names are the stack's (services.container_name).
    stack = settings.stack
    interval = settings.alerting.heartbeat_interval
    if interval:
        meaning = (f"Nothing is wrong with the Watchdog: it fires all the time, by design, and "
                   f"Alertmanager sends it to the heartbeat receiver every {interval}. You read "
                   "this because the heartbeat service paged: it has not heard the Watchdog for "
                   "its grace period, so something between Prometheus and the heartbeat URL is "
                   "dead, and no other alert can reach you either.")
    else:
        meaning = ("Nothing is wrong with the Watchdog: it fires all the time, by design. This "
                   "stack has no heartbeat (`alertHeartbeat` is false), so it goes to the "
                   "`none` receiver and nobody is told when the alerting chain dies: run the "
                   "checks below when alerts seem suspiciously quiet, or set `alertHeartbeat`.")
    return Runbook(
        meaning=meaning,
        impact="Possibly none yet, but GatewayZ is unwatched: a backend outage would page "
               "nobody until the chain is back.",
        causes=("Prometheus is down, or cannot evaluate its rules.",
                "Alertmanager is down, or Prometheus cannot reach it.",
                "Alertmanager cannot reach the heartbeat URL (egress, DNS, the secret "
                "`alertHeartbeatUrl` changed at the service).",
                "The Docker host itself is down: then every container is."),
        checks=(
            Verify("Which link broke: each service, the rule groups, Alertmanager's "
                   "discovery and the Watchdog itself:",
                   ("prometheus ready", "prometheus rules",
                    "prometheus alertmanager discovered", "alertmanager ready",
                    # make verify looks for the Watchdog only where it has a heartbeat.
                    *(("alertmanager watchdog",) if interval else ()))),
            PromQL("Is the Watchdog firing in Prometheus, and has Prometheus found "
                   "Alertmanager:",
                   f'ALERTS{{alertname="{WATCHDOG}", env="{env}"}} or '
                   + selector("prometheus_notifications_alertmanagers_discovered",
                              eq("job", Service.PROMETHEUS.job))),
            PromQL("Is Alertmanager failing to deliver (the heartbeat is a webhook "
                   "integration):",
                   "sum by (integration) (rate(" + selector(
                       "alertmanager_notifications_failed_total",
                       eq("job", Service.ALERTMANAGER.job)) + "[15m]))"),
            container_log(stack, Service.ALERTMANAGER, f"receiver={HEARTBEAT}|error"),
            Panel("Every target's state at a glance:", prometheus_dashboard.TITLE,
                  "Targets up by job"),
        ),
        actions=("If `make verify` cannot reach anything, the Docker host or its network is "
                 "down: get it back first (`make up` recreates missing containers).",
                 "If Prometheus and Alertmanager are fine and the Watchdog is active in "
                 "Alertmanager, the heartbeat URL is the problem: compare it with the "
                 "service's settings and set it again (`pulumi config set --secret "
                 "alertHeartbeatUrl`, `make up`).",
                 "Until the chain works, watch the dashboards by hand."),
        resolves="The heartbeat service closes its page itself when pings arrive again; the "
                 "Watchdog never resolves (it always fires).")


def document(settings: Settings) -> dict[str, object]:
    env = settings.environment
    return rule_file(group("watchdog", [{
        "alert": WATCHDOG,
        "expr": "vector(1)",
        # `vector(1)` has no labels, so `env` is set here; annotation templates see only the
        # expression's labels (`$labels.env` would be empty), hence the literal below.
        "labels": {"severity": SEVERITY, "env": env},
        "annotations": {
            "summary": f"Alerting chain of {env} is alive",
            "description": f"Always firing in {env}, by design: it is sent to the heartbeat URL "
                           "only. When that service stops receiving it, Prometheus, its rule "
                           "evaluation or Alertmanager is down, or cannot reach the next.",
        },
        RUNBOOK: _runbook(settings),
    }]))

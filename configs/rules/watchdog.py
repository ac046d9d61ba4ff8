"""The dead man's switch: `Watchdog`, an alert that always fires, so that its silence at a
heartbeat service (configs/alertmanager.py routes it there) pages when Prometheus, its rules,
Alertmanager or the path between them stop working.

As kube-prometheus ships it (prometheus-operator/kube-prometheus v0.18.0
jsonnet/kube-prometheus/components/mixin/alerts/general.libsonnet): `vector(1)`, no `for`, and
severity `none`, which no severity route and no inhibit rule matches.
"""

from typing import Final

from configs.rules.helpers import group, rule_file
from settings import Settings

WATCHDOG: Final = "Watchdog"
SEVERITY: Final = "none"


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
    }]))

"""What each service brings beyond its container, one row per service: its rule files and its
dashboards, as a kube-prometheus component carries its mixin (kube-prometheus v0.14.0
jsonnet/kube-prometheus/components/*.libsonnet: each component's `mixin` holds its rules and
dashboards). A row's rules and dashboards are written only where the stack runs its service
(`Settings.services`): without the exporter, RedisExporterDown would fire for its missing target
forever and the Redis dashboard could only say "No data".

The registry stands above configs/rules/ and configs/dashboards/ (whose modules stay pure: a
rule module links a dashboard module, never this table), so `rule_files()`, `runbooks()` and
`dashboards()`, which read it, live here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from configs.dashboards import Dashboard, FolderUid
from configs.dashboards import application_health as application_health_dashboard
from configs.dashboards import backend_metrics as backend_metrics_dashboard
from configs.dashboards import fastapi as fastapi_dashboard
from configs.dashboards import loki as loki_dashboard
from configs.dashboards import model_health as model_health_dashboard
from configs.dashboards import prometheus as prometheus_dashboard
from configs.dashboards import redis as redis_dashboard
from configs.dashboards import tempo as tempo_dashboard
from configs.rules import backend, pipeline, recording, redis, replicas, rings, stack, watchdog
from configs.rules.helpers import RUNBOOK, Runbook, runbook_url
from services import Service
from settings import Platform, Settings


@dataclass(frozen=True)
class RuleFile:
    name: str
    build: Callable[[Settings], dict[str, Any]]
    # Its alerts' section of docs/alerts.md; none for recording rules.
    section: str
    # The platforms whose stacks write it: what only a cluster has (rings of many pods) is
    # watched only there.
    platforms: frozenset[Platform] = frozenset(Platform)


@dataclass(frozen=True)
class Builder:
    build: Callable[[Settings], dict[str, object]]
    folder: FolderUid


@dataclass(frozen=True)
class Mixin:
    """One row: a service, or (None) what is no service of the stack: the GatewayZ backend's
    rules and dashboards, or the stack's as a whole."""

    service: Service | None
    rules: tuple[RuleFile, ...] = ()
    dashboards: tuple[Builder, ...] = ()


# Each service once (tests/test_mixins.py). Rule files in the order docs/alerts.md lists them,
# recording rules first; dashboards in the order Pulumi registers them, which stays stable.
# Who reads a dashboard: the service folder is for whoever runs GatewayZ, the stack folder for
# whoever runs this monitoring stack.
MIXINS: Final[tuple[Mixin, ...]] = (
    Mixin(None,
          rules=(RuleFile("recording.yml", lambda _settings: recording.document(), ""),
                 RuleFile("backend.yml", backend.document, "The GatewayZ backend")),
          dashboards=(Builder(application_health_dashboard.build, FolderUid.SERVICE),
                      Builder(fastapi_dashboard.build, FolderUid.SERVICE),
                      Builder(backend_metrics_dashboard.build, FolderUid.SERVICE),
                      Builder(model_health_dashboard.build, FolderUid.SERVICE))),
    Mixin(Service.REDIS_EXPORTER,
          rules=(RuleFile("redis.yml", redis.document, "Redis"),),
          dashboards=(Builder(redis_dashboard.build, FolderUid.SERVICE),)),
    Mixin(None,
          rules=(RuleFile("stack.yml", stack.document, "The observability stack"),
                 RuleFile("pipeline.yml", pipeline.document,
                          "The alerting pipeline and the stores"),
                 RuleFile("watchdog.yml", watchdog.document, "The dead man's switch"))),
    # What runs as replicas on Kubernetes alone: Prometheus' HA pair, Alertmanager's cluster.
    Mixin(None, rules=(RuleFile("replicas.yml", replicas.document, "Replicas on Kubernetes",
                                frozenset({Platform.KUBERNETES})),)),
    Mixin(Service.PROMETHEUS, dashboards=(Builder(prometheus_dashboard.build, FolderUid.STACK),)),
    Mixin(Service.LOKI,
          rules=(RuleFile("loki-rings.yml", rings.loki_document, "Loki's rings on Kubernetes",
                          frozenset({Platform.KUBERNETES})),),
          dashboards=(Builder(loki_dashboard.build, FolderUid.STACK),)),
    Mixin(Service.TEMPO,
          rules=(RuleFile("tempo-rings.yml", rings.tempo_document,
                          "Tempo's rings on Kubernetes", frozenset({Platform.KUBERNETES})),),
          dashboards=(Builder(tempo_dashboard.build, FolderUid.STACK),)),
    Mixin(Service.GRAFANA),
    Mixin(Service.ALERTMANAGER),
)
# Every rule file, in row order (docs/alerts.md's sections).
FILES: Final = tuple(file for mixin in MIXINS for file in mixin.rules)


def _mixins(settings: Settings) -> list[Mixin]:
    """The rows this stack writes."""
    return [mixin for mixin in MIXINS
            if mixin.service is None or mixin.service in settings.services]


# --- rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRunbook:
    """One alert rule as a stack renders it, with its runbook."""

    alert: str
    severity: str
    file: str
    group: str
    expr: str
    # The rule's `for`; the Watchdog has none.
    duration: str | None
    runbook: Runbook


def _documents(settings: Settings) -> dict[str, dict[str, Any]]:
    """Rule documents by file name, alerts still carrying `RUNBOOK`."""
    return {file.name: file.build(settings) for mixin in _mixins(settings)
            for file in mixin.rules if settings.platform in file.platforms}


def _alert_rules(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(group["name"], rule) for group in document["groups"] for rule in group["rules"]
            if "alert" in rule]


def rule_files(settings: Settings) -> dict[str, dict[str, object]]:
    """Rule documents (`{"groups": [...]}`) by file name, as Prometheus reads them: each alert's
    runbook replaced by its `runbook_url` under the stack's `alertRunbookBaseUrl`."""
    files = _documents(settings)
    for document in files.values():
        for _, rule in _alert_rules(document):
            if not isinstance(rule.pop(RUNBOOK, None), Runbook):
                raise ValueError(f"alert {rule['alert']} has no runbook")
            rule["annotations"]["runbook_url"] = runbook_url(settings.alerting.runbook_base,
                                                             rule["alert"])
    return dict(files)


def runbooks(settings: Settings) -> list[AlertRunbook]:
    """Every alert rule of the stack with its runbook, in rule-file order."""
    return [AlertRunbook(rule["alert"], rule["labels"]["severity"], file, group, rule["expr"],
                         rule.get("for"), rule[RUNBOOK])
            for file, document in _documents(settings).items()
            for group, rule in _alert_rules(document)]


# --- dashboards ----------------------------------------------------------------------------


def dashboards(settings: Settings) -> tuple[Dashboard, ...]:
    """This stack's dashboards, in a stable order."""
    built = [(builder.build(settings), builder.folder) for mixin in _mixins(settings)
             for builder in mixin.dashboards]
    return tuple(Dashboard(str(model["uid"]), str(model["title"]), folder, model)
                 for model, folder in built)


__all__ = ["FILES", "MIXINS", "AlertRunbook", "Builder", "Mixin", "RuleFile",
           "dashboards", "rule_files", "runbooks"]

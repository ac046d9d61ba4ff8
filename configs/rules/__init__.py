"""Prometheus rule files: recording rules, the backend, Redis, stack and alerting-pipeline alerts,
and the Watchdog, by file name; and each alert's runbook, written beside its rule.

`rule_files()` builds them from the settings, each alert linked to its runbook by a `runbook_url`
annotation; the Prometheus component writes each as YAML (configs.render) under `RULES_DIR`.
`runbooks()` gives the same runbooks to docs/alerts.md (review/alerts_doc.py).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from configs.rules import backend, pipeline, recording, redis, stack, watchdog
from configs.rules.helpers import RUNBOOK, Runbook, runbook_url
from services import Service, config_path
from settings import Settings

# Beside prometheus.yml.
RULES_DIR: Final = f"{posixpath.dirname(config_path(Service.PROMETHEUS))}/rules"


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


@dataclass(frozen=True)
class RuleFile:
    name: str
    build: Callable[[Settings], dict[str, Any]]
    # Its alerts' section of docs/alerts.md; none for recording rules.
    section: str
    # The service whose metrics its alerts read, written only where the stack runs it
    # (`Settings.services`): without an exporter, RedisExporterDown would fire for its missing
    # target forever. None: the backend's, or the stack's as a whole.
    service: Service | None = None


# In the order docs/alerts.md lists them, recording rules first.
FILES: Final[tuple[RuleFile, ...]] = (
    RuleFile("recording.yml", lambda _settings: recording.document(), ""),
    RuleFile("backend.yml", backend.document, "The GatewayZ backend"),
    RuleFile("redis.yml", redis.document, "Redis", Service.REDIS_EXPORTER),
    RuleFile("stack.yml", stack.document, "The observability stack"),
    RuleFile("pipeline.yml", pipeline.document, "The alerting pipeline and the stores"),
    RuleFile("watchdog.yml", watchdog.document, "The dead man's switch"),
)


def _documents(settings: Settings) -> dict[str, dict[str, Any]]:
    """Rule documents by file name, alerts still carrying `RUNBOOK`."""
    return {file.name: file.build(settings) for file in FILES
            if file.service is None or file.service in settings.services}


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


__all__ = ["FILES", "RULES_DIR", "AlertRunbook", "RuleFile", "rule_files", "runbooks"]

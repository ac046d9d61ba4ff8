"""The one shape every rule takes: `record()` and `alert()` build rule entries, `group()` and
`rule_file()` assemble a rule file, and the template snippets they share live here (PromQL comes
from configs.promql).

`alert()` refuses annotations that do not show the alert's value and environment, and an alert
without its `Runbook`, so no rule can reach Alertmanager without saying what it measured, where,
and what the person it wakes should do. The runbook travels inside the rule entry (`RUNBOOK`)
until `configs.mixins.rule_files` turns it into the `runbook_url` annotation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from configs.promql import eq, selector
from services import Service, container_name
from settings import Severity

Rule = dict[str, object]

# Every series carries `env` as a target label; annotations name it so a notification says where.
ENV: Final = "{{ $labels.env }}"


class Value(StrEnum):
    """How annotations show `$value`, with Prometheus' template functions."""

    NUMBER = "{{ $value | humanize }}"
    PERCENT = "{{ $value | humanizePercentage }}"
    DURATION = "{{ $value | humanizeDuration }}"


def label(name: str) -> str:
    """Template reference to one of the alert's labels."""
    return f"{{{{ $labels.{name} }}}}"


def job_down(job: str, env: str) -> str:
    """0 while a target of `job` is down, and also while Prometheus has no target of it at all.

    `absent()` takes its labels from the equality matchers, so naming `env` keeps the label the
    routing and inhibition need; `* 0` gives both branches the same value.
    """
    return (f"min by (env, job) ({selector('up', eq('job', job))}) == 0"
            f" or absent({selector('up', eq('job', job), eq('env', env))}) * 0")


# --- runbooks ------------------------------------------------------------------------------

# The key under which a rule entry carries its runbook until rule_files() links it.
RUNBOOK: Final = "runbook"


@dataclass(frozen=True)
class PromQL:
    """A query to paste into Prometheus (its /query page) or Grafana's Explore."""

    why: str
    expr: str


@dataclass(frozen=True)
class LogQL:
    """A query to paste into Grafana's Explore on the Loki datasource."""

    why: str
    expr: str


@dataclass(frozen=True)
class Panel:
    """A dashboard panel to open, by the titles Grafana shows."""

    why: str
    dashboard: str
    panel: str


@dataclass(frozen=True)
class Verify:
    """`make verify STACK=<stack>`, and the checks of its output to read."""

    why: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Shell:
    """A command for the Docker host (or with DOCKER_HOST set as for `pulumi up`)."""

    why: str
    command: str


Check = PromQL | LogQL | Panel | Verify | Shell


@dataclass(frozen=True)
class Runbook:
    """What the on-call engineer reads when the alert wakes them, in the order they need it.

    `meaning`: what fired, in plain words; `impact`: what GatewayZ's users see meanwhile;
    `causes`, most likely first; `checks`: what to paste or open first; `actions`; `resolves`:
    when it clears by itself (or that it does not).
    """

    meaning: str
    impact: str
    causes: tuple[str, ...]
    checks: tuple[Check, ...]
    actions: tuple[str, ...]
    resolves: str

    def __post_init__(self) -> None:
        empty = [name for name in ("meaning", "impact", "causes", "checks", "actions",
                                   "resolves") if not getattr(self, name)]
        if empty:
            raise ValueError(f"runbook without {', '.join(empty)}")
        # ("one cause") without its comma is a string, which would render letter by letter.
        if any(isinstance(getattr(self, name), str) for name in ("causes", "checks", "actions")):
            raise ValueError("runbook causes, checks and actions must be tuples")
        if not any(isinstance(check, PromQL | LogQL) for check in self.checks):
            raise ValueError("runbook without a query to paste")


def container_log(stack: str, service: Service, pattern: str = "level=(error|warn)"
                  ) -> Shell:
    """The last half hour of a service's container log, the lines `pattern` picks."""
    return Shell(f"{service.value.title()}'s own log, the lines that matter:",
                 f"docker logs --since 30m {container_name(stack, service)} 2>&1 "
                 f"| grep -iE '{pattern}' | tail -n 30")


def container_state(stack: str, service: Service) -> Shell:
    return Shell("Whether the container runs, restarts, or was killed for memory:",
                 "docker inspect -f '{{.State.Status}} restarts={{.RestartCount}} "
                 f"oom={{{{.State.OOMKilled}}}}' {container_name(stack, service)}")


def runbook_url(base: str, alert_name: str) -> str:
    """Where an alert's runbook is: its section of docs/alerts.md (the anchor GitHub, GitLab
    and Gitea give a heading that is the alert's name) under the stack's runbook base."""
    return f"{base}#{anchor(alert_name)}"


def anchor(alert_name: str) -> str:
    return alert_name.lower()


def record(name: str, expr: str) -> Rule:
    return {"record": name, "expr": expr}


def alert(name: str, expr: str, *, severity: Severity, for_minutes: int, summary: str,
          description: str, runbook: Runbook) -> Rule:
    """An alerting rule; `for_minutes` ≥ 1 so a single bad scrape never notifies anyone."""
    if for_minutes < 1:
        raise ValueError(f"alert {name}: `for` must be at least 1m")
    for text in (summary, description):
        if "$value" not in text or ENV not in text:
            raise ValueError(f"alert {name}: annotation {text!r} must show $value and {ENV}")
    return {
        "alert": name,
        "expr": expr,
        "for": f"{for_minutes}m",
        "labels": {"severity": severity.value},
        "annotations": {"summary": summary, "description": description},
        RUNBOOK: runbook,
    }


def group(name: str, rules: Sequence[Rule]) -> dict[str, object]:
    return {"name": name, "rules": list(rules)}


def rule_file(*groups: dict[str, object]) -> dict[str, object]:
    """A rule file as Prometheus reads it."""
    return {"groups": list(groups)}


__all__ = [
    "ENV",
    "RUNBOOK",
    "Check",
    "LogQL",
    "Panel",
    "PromQL",
    "Rule",
    "Runbook",
    "Shell",
    "Value",
    "Verify",
    "alert",
    "anchor",
    "container_log",
    "container_state",
    "group",
    "job_down",
    "label",
    "record",
    "rule_file",
    "runbook_url",
]

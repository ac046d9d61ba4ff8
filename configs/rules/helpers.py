"""The one shape every rule takes: `record()` and `alert()` build rule entries, `group()` and
`rule_file()` assemble a rule file, and the template snippets they share live here (PromQL comes
from configs.promql).

`alert()` refuses annotations that do not show the alert's value and environment, so no rule can
reach Alertmanager without saying what it measured and where.
"""

from collections.abc import Sequence
from enum import StrEnum
from typing import Final

from configs.promql import eq, selector
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


def record(name: str, expr: str) -> Rule:
    return {"record": name, "expr": expr}


def alert(name: str, expr: str, *, severity: Severity, for_minutes: int, summary: str,
          description: str) -> Rule:
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
    }


def group(name: str, rules: Sequence[Rule]) -> dict[str, object]:
    return {"name": name, "rules": list(rules)}


def rule_file(*groups: dict[str, object]) -> dict[str, object]:
    """A rule file as Prometheus reads it."""
    return {"groups": list(groups)}


__all__ = ["ENV", "Rule", "Value", "alert", "group", "job_down", "label", "record", "rule_file"]

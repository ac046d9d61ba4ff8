"""The rendered rule files of both stacks under the real promtool: syntax and lint, and a unit
test (`promtool test rules`) for every alert, firing with the labels Alertmanager will route on
and staying quiet below its threshold; plus the invariants every alert must keep.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from configs.mixins import rule_files
from configs.render import to_yaml as render
from configs.rules.watchdog import WATCHDOG
from settings import AlertThresholds, Settings, Severity, Size, parse_duration
from tests import rule_cases
from tests.rule_cases import Case, Fired
from tests.support.tools import require_tool

_LABEL = re.compile(r"\{\{ \$labels\.(\w+) \}\}")
_VALUE = re.compile(r"\{\{ \$value(?: \| \w+)? \}\}")
# Every grouping clause: `by (...)`, `on (...)`, `ignoring (...)`, `without (...)`.
_GROUPING = re.compile(r"\b(by|on|ignoring|without) \(([^)]*)\)")


@pytest.fixture(params=sorted(rule_cases.RULE_STACKS))
def settings(request: pytest.FixtureRequest) -> Settings:
    return rule_cases.stack_settings(str(request.param))


def _rules(settings: Settings) -> list[dict[str, Any]]:
    """Every rule as Prometheus reads it: from the rendered YAML."""
    return [rule for doc in rule_files(settings).values()
            for group in yaml.safe_load(render(doc))["groups"] for rule in group["rules"]]


def _alerts(settings: Settings) -> list[dict[str, Any]]:
    return [rule for rule in _rules(settings) if "alert" in rule]


def _write_rules(settings: Settings, directory: Path) -> list[Path]:
    paths = []
    for name, doc in rule_files(settings).items():
        path = directory / name
        path.write_text(render(doc), encoding="utf-8")
        paths.append(path)
    return paths


def _run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          check=False, cwd=cwd)


def test_promtool_checks_every_rule_file(settings: Settings, tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    result = _run(promtool, "check", "rules", "--lint=all", "--lint-fatal",
                  *_write_rules(settings, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- promtool unit tests -----------------------------------------------------------------

def _annotations(rule: dict[str, Any], fired: Fired) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them for the case's labels and value."""
    rendered = {}
    for key, template in rule["annotations"].items():
        text = _LABEL.sub(lambda match: fired.labels[match[1]], template)
        text = _VALUE.sub(lambda _: fired.value, text)
        assert "{{" not in text, f"template form the tests do not render: {template}"
        rendered[key] = text
    return rendered


def _unit_test(alert: str, case: Case, rules: dict[tuple[str, str], dict[str, Any]]
               ) -> dict[str, object]:
    return {
        "name": f"{alert}: {case.name}",
        "interval": rule_cases.STEP,
        "input_series": [{"series": name, "values": values}
                         for name, values in case.series.items()],
        "alert_rule_test": [{
            "eval_time": f"{case.eval_minutes}m",
            "alertname": alert,
            "exp_alerts": [{
                "exp_labels": {**fired.labels, "severity": str(fired.severity)},
                "exp_annotations": _annotations(rules[alert, fired.severity], fired),
            } for fired in case.fired],
        }],
    }


def test_promtool_unit_tests_pass_for_every_alert(settings: Settings, tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    rule_paths = _write_rules(settings, tmp_path)
    rules = {(rule["alert"], rule["labels"]["severity"]): rule for rule in _alerts(settings)}
    tests = {
        "rule_files": [path.name for path in rule_paths],
        "evaluation_interval": rule_cases.STEP,
        "tests": [_unit_test(alert, case, rules)
                  for alert, cases in rule_cases.cases(settings).items() for case in cases],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    result = _run(promtool, "test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case(settings: Settings) -> None:
    cases = rule_cases.cases(settings)
    severities: dict[str, set[str]] = {}
    for rule in _alerts(settings):
        severities.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    assert sorted(cases) == sorted(severities), "alerts and rule_cases.py must name the same"
    for alert, expected in severities.items():
        fired = {fired.severity for case in cases[alert] for fired in case.fired}
        assert fired == expected, f"{alert}: no case fires severity {expected - fired}"
        # The Watchdog is quiet only when the alerting chain is dead: the heartbeat's job.
        assert alert == WATCHDOG or any(not case.fired for case in cases[alert]), \
            f"{alert}: no quiet case"


def test_every_fired_alert_carries_the_stack_env(settings: Settings) -> None:
    # promtool compares labels exactly, so these expectations prove the alerts carry `env`.
    for alert, cases in rule_cases.cases(settings).items():
        for case in cases:
            for fired in case.fired:
                assert fired.labels.get("env") == settings.environment, (alert, case.name)


# --- invariants ----------------------------------------------------------------------------

def test_every_alert_has_severity_annotations_and_for(settings: Settings) -> None:
    for rule in _alerts(settings):
        name = rule["alert"]
        if name == WATCHDOG:
            continue  # not a problem to describe; test_the_watchdog_always_fires_alone
        assert set(rule["labels"]) == {"severity"}, name
        assert rule["labels"]["severity"] in {s.value for s in Severity}, name
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}, name
        for key in ("summary", "description"):
            text = rule["annotations"][key]
            assert _VALUE.search(text), (name, text)
            assert "{{ $labels.env }}" in text, (name, text)
        assert (parse_duration(rule["for"]) or 0) >= 60, name


def test_the_watchdog_always_fires_alone(settings: Settings) -> None:
    (rule,) = [rule for rule in _alerts(settings) if rule["alert"] == WATCHDOG]
    # As kube-prometheus: always true, no `for`, a severity no route or inhibit rule knows.
    assert rule["expr"] == "vector(1)"
    assert "for" not in rule
    assert rule["labels"] == {"severity": "none", "env": settings.environment}
    assert "none" not in {severity.value for severity in Severity}


def test_every_aggregation_keeps_env(settings: Settings) -> None:
    for rule in _rules(settings):
        for clause, names in _GROUPING.findall(rule["expr"]):
            kept = {name.strip() for name in names.split(",")}
            assert clause not in ("ignoring", "without"), f"{clause} may drop env: {rule}"
            assert "env" in kept, rule


@pytest.mark.parametrize("field", [field.name for field in dataclasses.fields(AlertThresholds)])
def test_each_threshold_reaches_the_rules(field: str) -> None:
    settings = rule_cases.stack_settings("staging")
    thresholds = settings.alerting.thresholds
    changed = dataclasses.replace(settings, alerting=dataclasses.replace(
        settings.alerting, thresholds=dataclasses.replace(
            thresholds, **{field: getattr(thresholds, field) / 2})))
    expressions = [rule["expr"] for rule in _alerts(settings)]
    changed_expressions = [rule["expr"] for rule in _alerts(changed)]
    assert expressions != changed_expressions


def test_retention_size_reaches_the_disk_alert() -> None:
    settings = rule_cases.stack_settings("staging")
    smaller = dataclasses.replace(settings, retention=dataclasses.replace(
        settings.retention, metrics_size=Size(10, "GB")))
    [disk] = [rule["expr"] for rule in _alerts(smaller)
              if rule["alert"] == "PrometheusStorageNearRetentionSize"]
    assert f"/ {10 * 2**30} >" in disk


def test_retention_size_counts_in_powers_of_two() -> None:
    # As Prometheus parses storage.tsdb.retention.size (units.Base2Bytes).
    sizes = {text: Size.parse(text) for text in ("20GB", "512MB", "1KB", "7B", "20GiB")}
    assert {text: size.bytes if size else None for text, size in sizes.items()} == {
        "20GB": 20 * 2**30, "512MB": 512 * 2**20, "1KB": 1024, "7B": 7, "20GiB": None}
    assert str(sizes["20GB"]) == "20GB"


def test_render_is_deterministic_and_round_trips(settings: Settings) -> None:
    again = rule_files(settings)
    for name, doc in rule_files(settings).items():
        assert render(doc) == render(again[name])
        assert yaml.safe_load(render(doc)) == doc

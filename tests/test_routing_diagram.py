"""The alert-routing diagram follows Alertmanager's config and the rules: each severity drawn to
the receiver the stack routes it to, the Watchdog to its heartbeat on its own clock, and the
rules an inhibition pairs; a stack changed in any of these draws the change."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Final

import pytest

import review.routing_diagram as module
from configs.alertmanager import alertmanager_config
from configs.alertmanager_routing import receiver_for
from review.routing_diagram import (
    SECRET_KEYS,
    Alert,
    alerts,
    inhibitions,
    mermaid,
    routes,
    summary,
)
from settings import KEYS, Duration, Heartbeat, Receiver, Secret, Settings, Severity
from settings.stack_file import file_settings

NODE: Final = re.compile(r'^\s+(\w+)(?:\["|>")(.*?)"\]$', re.M)
EDGE: Final = re.compile(r'^\s+(\w+) (-->|-\.->)(?:\|"(.*?)"\|)? (\w+)$', re.M)


def _nodes(diagram: str) -> dict[str, str]:
    return dict(NODE.findall(diagram))


def _edges(diagram: str) -> list[tuple[str, str, str, str]]:
    return [(source, arrow, label, target)
            for source, arrow, label, target in EDGE.findall(diagram)]


def _receivers_of(diagram: str, text: str) -> set[str]:
    """The receivers the route node whose label holds `text` points to."""
    nodes = _nodes(diagram)
    sources = {node for node, label in nodes.items() if text in label}
    assert sources, f"no node says {text!r}"
    return {target.removeprefix("rcv_") for source, _, _, target in _edges(diagram)
            if source in sources}


def _with_receivers(settings: Settings, **chosen: Receiver) -> Settings:
    receivers = {**settings.alerting.receivers,
                 **{Severity(name): receiver for name, receiver in chosen.items()}}
    return dataclasses.replace(settings, alerting=dataclasses.replace(
        settings.alerting, receivers=receivers))


@pytest.fixture(params=["staging", "production"])
def settings(request: pytest.FixtureRequest) -> Settings:
    return file_settings(str(request.param))


def test_each_severity_is_drawn_to_the_receiver_the_stack_names(settings: Settings) -> None:
    diagram = mermaid(settings)
    for severity in Severity:
        assert _receivers_of(diagram, f"severity = {severity}<br/>") == {
            settings.alerting.receivers[severity].value}


def test_a_stack_that_sends_warnings_elsewhere_draws_them_there() -> None:
    staging = file_settings("staging")
    assert _receivers_of(mermaid(staging), "severity = warning") == {"slack"}
    changed = mermaid(_with_receivers(staging, warning=Receiver.WEBHOOK))
    assert _receivers_of(changed, "severity = warning") == {"webhook"}
    assert _receivers_of(changed, "severity = critical") == {"slack"}
    assert "POST to alertWebhookUrl" in _nodes(changed)["rcv_webhook"]
    # Info dropped on purpose is drawn as a box that notifies nobody; sent to Slack, a flag.
    assert "rcv_none[" in mermaid(staging)
    assert "dropped" in _nodes(mermaid(staging))["rcv_none"]
    to_slack = mermaid(_with_receivers(staging, info=Receiver.SLACK))
    assert _receivers_of(to_slack, "severity = info") == {"slack"}


def test_the_root_receiver_catches_what_no_route_matches(settings: Settings) -> None:
    diagram = mermaid(settings)
    warning = settings.alerting.receivers[Severity.WARNING].value
    assert ("unrouted", "-.->", "", f"rcv_{warning}") in _edges(diagram)


def test_the_watchdog_goes_to_its_heartbeat_on_its_own_clock() -> None:
    production = file_settings("production")
    diagram = mermaid(production)
    assert _receivers_of(diagram, "Watchdog") == {"heartbeat"}
    (label,) = [label for source, _, label, target in _edges(diagram) if target == "rcv_heartbeat"]
    assert "repeated every 5m" in label
    assert "updates at most every 30s" in label
    assert "grouped by alertname" in label
    heartbeat = _nodes(diagram)["rcv_heartbeat"]
    assert "POST to alertHeartbeatUrl" in heartbeat
    assert "never sends resolved" in heartbeat
    slower = dataclasses.replace(production, alerting=dataclasses.replace(
        production.alerting, heartbeat=Heartbeat(Duration(600), Secret("alertHeartbeatUrl"))))
    assert "repeated every 10m" in mermaid(slower)


def test_without_a_heartbeat_the_watchdog_is_drawn_dropped() -> None:
    diagram = mermaid(file_settings("staging"))
    assert _receivers_of(diagram, "Watchdog") == {"none"}
    assert "rcv_heartbeat" not in diagram


def test_the_root_timing_is_shown_once(settings: Settings) -> None:
    route: Any = alertmanager_config(settings.alerting)["route"]
    grouping = _nodes(mermaid(settings))["grouping"]
    assert f"one notification per {', '.join(route['group_by'])}" in grouping
    for key in ("group_wait", "group_interval", "repeat_interval"):
        assert route[key] in grouping


def test_every_alert_reaches_the_route_alertmanager_picks(settings: Settings) -> None:
    config: Any = alertmanager_config(settings.alerting)
    rules = alerts(settings)
    drawn = routes(config, rules)
    assert sum(len(route.alerts) for route in drawn) == len(rules)
    for route in drawn:
        for alert in route.alerts:
            assert receiver_for(config["route"], alert.routing_labels) == route.receiver
    nodes = _nodes(mermaid(settings))
    for route in drawn[:-1]:
        assert nodes[route.node].startswith(f"route {route.index + 1}: ")
        if route.alerts and route.alerts[0].name != "Watchdog":
            count = len(route.alerts)
            assert nodes[route.node].endswith(f"<br/>{count} alert{'' if count == 1 else 's'}")


def test_the_summary_names_every_alert_and_its_receiver(settings: Settings) -> None:
    text = summary(settings)
    for alert in alerts(settings):
        assert f"`{alert.name}`" in text
    # A regex matcher's `|` would split the Markdown table: it is escaped there.
    assert all(line.count(" | ") == 2 for line in text.splitlines() if line.startswith("| `"))


def test_a_route_that_continues_passes_its_alerts_on() -> None:
    config = {"route": {"receiver": "r", "group_by": ["alertname"], "routes": [
        {"matchers": ['severity="critical"'], "receiver": "a", "continue": True},
        {"matchers": ['severity=~"critical|warning"'], "receiver": "b"}]}}
    rules = [Alert("X", {"severity": "critical"}, "5m"), Alert("Y", {"severity": "warning"}, "5m"),
             Alert("Z", {"severity": "other"}, "5m")]
    first, second, root = routes(config, rules)
    assert [alert.name for alert in first.alerts] == ["X"]
    assert [alert.name for alert in second.alerts] == ["X", "Y"]
    assert [alert.name for alert in root.alerts] == ["Z"]
    assert not first.stops


def test_inhibitions_pair_only_rules_the_equal_labels_can_join() -> None:
    config = {"inhibit_rules": [{"source_matchers": ['severity="critical"'],
                                 "target_matchers": ['severity=~"warning|info"'],
                                 "equal": ["alertname", "env"]}]}
    critical = Alert("HighErrors", {"severity": "critical"}, "5m")
    warning = Alert("HighErrors", {"severity": "warning"}, "5m")
    other = Alert("SlowRequests", {"severity": "warning"}, "5m")
    elsewhere = Alert("HighErrors", {"severity": "info", "env": "x"}, "5m")
    pinned = Alert("HighErrors", {"severity": "critical", "env": "y"}, "5m")
    pairs = {(source.name, source.severity, target.name, target.severity,
              target.labels.get("env")) for source, target, _ in
             inhibitions(config, [critical, warning, other, elsewhere, pinned])}
    assert pairs == {("HighErrors", "critical", "HighErrors", "warning", None),
                     ("HighErrors", "critical", "HighErrors", "info", "x")}


def test_the_stacks_draw_the_error_rate_inhibition(settings: Settings) -> None:
    diagram = mermaid(settings)
    edge = [(source, label, target) for source, arrow, label, target in _edges(diagram)
            if arrow == "-.->" and source.startswith("a_")]
    assert edge == [("a_BackendHighErrorRate_critical",
                     "mutes: same env, job, instance, model, provider",
                     "a_BackendHighErrorRate_warning")]


def test_no_inhibition_without_an_inhibit_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    def without(alerting: Any) -> dict[str, object]:
        config = alertmanager_config(alerting)
        return {**config, "inhibit_rules": []}

    monkeypatch.setattr(module, "alertmanager_config", without)
    assert "inhibit" not in mermaid(file_settings("production"))


def test_receivers_name_real_secret_keys() -> None:
    names = {key.name for key in KEYS if key.secret}
    assert set(SECRET_KEYS.values()) <= names

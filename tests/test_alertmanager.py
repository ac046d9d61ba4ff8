"""The rendered Alertmanager configuration of both stacks: accepted by amtool, each severity
routed to the receiver the stack chose, no secret in the file, and a critical alert muting the
warning of the same name, checked on the rule structure and on a running Alertmanager.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from configs.alertmanager import (
    GROUP_BY,
    HEARTBEAT,
    HEARTBEAT_URL_FILE,
    SECRET_FILES,
    SECRETS_DIR,
    alertmanager_config,
)
from configs.alertmanager_routing import matches
from configs.mixins import rule_files
from configs.render import to_yaml as render
from configs.rules.watchdog import SEVERITY as WATCHDOG_SEVERITY
from configs.rules.watchdog import WATCHDOG
from settings import Receiver, Settings, SettingsError, Severity, parse_duration, parse_settings
from tests import rule_cases
from tests.support.tools import require_tool
from tests.support.waiting import wait_until

# A local Alertmanager starts in well under a second; the margin is for a loaded CI machine.
READY_SECONDS: Final = 30.0
SETTLE_SECONDS: Final = 10.0
# What each stack file says (Pulumi.<stack>.yaml); the builder must follow the settings.
EXPECTED_RECEIVERS: Final[Mapping[str, Mapping[Severity, Receiver]]] = {
    "staging": {Severity.CRITICAL: Receiver.SLACK, Severity.WARNING: Receiver.SLACK,
                Severity.INFO: Receiver.NONE},
    "production": {Severity.CRITICAL: Receiver.WEBHOOK, Severity.WARNING: Receiver.SLACK,
                   Severity.INFO: Receiver.NONE},
    "cluster": {Severity.CRITICAL: Receiver.WEBHOOK, Severity.WARNING: Receiver.SLACK,
                Severity.INFO: Receiver.NONE},
}
# Where the always-firing Watchdog goes: production (on either platform) has a dead man's
# switch, staging none.
EXPECTED_WATCHDOG_RECEIVER: Final[Mapping[str, str]] = {"staging": "none",
                                                        "production": "heartbeat",
                                                        "cluster": "heartbeat"}
@pytest.fixture(params=sorted(rule_cases.STACKS))
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(stack: str) -> Settings:
    return rule_cases.stack_settings(stack)


def _config(settings: Settings) -> dict[str, Any]:
    """The configuration as Alertmanager reads it: from the rendered YAML."""
    loaded: dict[str, Any] = yaml.safe_load(render(alertmanager_config(settings.alerting)))
    return loaded


def _write(config: dict[str, Any], directory: Path) -> Path:
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("amtool"), *args], capture_output=True, text=True,
                          check=False)


def test_amtool_refuses_a_key_the_pinned_release_does_not_know(settings: Settings,
                                                               tmp_path: Path) -> None:
    # The pinned amtool reads the config strictly, so a misspelt key cannot pass validation.
    config = _config(settings)
    receiver = next(r for r in config["receivers"] if "webhook_configs" in r
                    or "slack_configs" in r)
    integration = (receiver.get("webhook_configs") or receiver["slack_configs"])[0]
    integration["url_flie"] = "/etc/alertmanager/secrets/typo"
    result = _amtool("check-config", str(_write(config, tmp_path)))
    assert result.returncode != 0
    assert "url_flie" in result.stdout + result.stderr


def test_amtool_accepts_the_config(settings: Settings, tmp_path: Path) -> None:
    path = _write(_config(settings), tmp_path)
    result = _amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("severity", list(Severity))
def test_each_severity_routes_to_the_stack_receiver(stack: str, settings: Settings,
                                                    severity: Severity, tmp_path: Path) -> None:
    expected = EXPECTED_RECEIVERS[stack][severity]
    assert settings.alerting.receivers[severity] is expected
    path = _write(_config(settings), tmp_path)
    result = _amtool("config", "routes", "test", f"--config.file={path}",
                     f"--verify.receivers={expected}", f"severity={severity}",
                     f"env={settings.environment}", "alertname=AnyAlert")
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_alert_without_severity_goes_where_warnings_go(stack: str, settings: Settings,
                                                          tmp_path: Path) -> None:
    path = _write(_config(settings), tmp_path)
    expected = EXPECTED_RECEIVERS[stack][Severity.WARNING]
    result = _amtool("config", "routes", "test", f"--config.file={path}",
                     f"--verify.receivers={expected}", f"env={settings.environment}")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_secret_in_the_config(settings: Settings) -> None:
    config = _config(settings)
    text = render(alertmanager_config(settings.alerting))
    # Every URL sits in a file the component uploads; the YAML names none.
    assert "://" not in text
    url_files = {**{str(kind): path for kind, path in SECRET_FILES.items()},
                 HEARTBEAT: HEARTBEAT_URL_FILE}
    for receiver in config["receivers"]:
        for key in ("slack_configs", "webhook_configs"):
            for integration in receiver.get(key, []):
                files = {name: value for name, value in integration.items()
                         if name.endswith("_file")}
                assert files, integration
                assert set(files.values()) == {url_files[receiver["name"]]}
                assert not {"api_url", "url", "http_config"} & set(integration)


def test_secret_files_live_apart_under_the_secrets_dir() -> None:
    assert set(SECRET_FILES) == {Receiver.SLACK, Receiver.WEBHOOK}
    assert len(set(SECRET_FILES.values())) == len(SECRET_FILES)
    assert all(path.startswith(f"{SECRETS_DIR}/") for path in SECRET_FILES.values())


def test_receivers_are_those_used_and_none_notifies_nobody(stack: str,
                                                           settings: Settings) -> None:
    receivers = {receiver["name"]: receiver for receiver in _config(settings)["receivers"]}
    assert set(receivers) == {str(kind) for kind in EXPECTED_RECEIVERS[stack].values()} | {
        EXPECTED_WATCHDOG_RECEIVER[stack]}
    assert receivers["none"] == {"name": "none"}


def test_every_integration_sends_resolved_and_slack_names_env_and_severity(
        settings: Settings) -> None:
    for receiver in _config(settings)["receivers"]:
        for key in ("slack_configs", "webhook_configs"):
            for integration in receiver.get(key, []):
                # A heartbeat service takes any request for a ping, a "resolved" too.
                assert integration["send_resolved"] is (receiver["name"] != HEARTBEAT)
        for slack in receiver.get("slack_configs", []):
            assert slack["channel"] == settings.alerting.slack_channel
            for label in ("env", "severity"):
                assert f".CommonLabels.{label}" in slack["title"]
                assert f".Labels.{label}" in slack["text"]


def test_slack_templates_render(settings: Settings, tmp_path: Path) -> None:
    # amtool renders with its own example alerts: this catches template syntax and unknown
    # functions, which check-config does not look at.
    require_tool("amtool")
    glob = tmp_path / "none.tmpl"
    glob.write_text("", encoding="utf-8")
    slack = [integration for receiver in _config(settings)["receivers"]
             for integration in receiver.get("slack_configs", [])]
    assert slack
    for template in (slack[0][key] for key in ("title", "text", "color")):
        result = _amtool("template", "render", f"--template.glob={glob}",
                         f"--template.text={template}")
        assert result.returncode == 0, result.stdout + result.stderr


def test_notifications_group_by_alert_env_and_severity(settings: Settings) -> None:
    route = _config(settings)["route"]
    assert route["group_by"] == list(GROUP_BY)
    assert {"alertname", "env", "severity"} <= set(route["group_by"])


class _Slack(http.server.BaseHTTPRequestHandler):
    """Slack's incoming webhook, as far as Alertmanager needs it: 200 "ok" to every post."""

    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:
        pass


def test_the_slack_message_carries_the_runbook_link(tmp_path: Path) -> None:
    # Staging sends criticals to Slack: a rendered BackendDown, as Prometheus would send it,
    # through the pinned Alertmanager to a stand-in Slack.
    settings = rule_cases.stack_settings("staging")
    received: list[dict[str, Any]] = []
    handler = type("Slack", (_Slack,), {"received": received})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = _config(settings)
    config["route"]["group_wait"] = "0s"
    url_file = tmp_path / "slack_api_url"
    url_file.write_text(f"http://127.0.0.1:{server.server_port}/hook", encoding="utf-8")
    for receiver in config["receivers"]:
        for slack in receiver.get("slack_configs", []):
            slack["api_url_file"] = str(url_file)
    [rule] = [rule for doc in rule_files(settings).values()
              for group in yaml.safe_load(render(doc))["groups"] for rule in group["rules"]
              if rule.get("alert") == "BackendDown"]
    runbook = rule["annotations"]["runbook_url"]
    labels = {"alertname": "BackendDown", "env": settings.environment, "job": "gatewayz_staging",
              **rule["labels"]}
    url = f"http://127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [require_tool("alertmanager"), f"--config.file={_write(config, tmp_path)}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address={url[7:]}",
         "--cluster.listen-address=", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(f"Alertmanager to answer {url}/-/ready", READY_SECONDS,
                   lambda: _http(f"{url}/-/ready"))
        _http(f"{url}/api/v2/alerts", [{"labels": labels,
                                        "annotations": {"summary": "s", "description": "d",
                                                        "runbook_url": runbook}}])
        [message] = wait_until("the Slack message", SETTLE_SECONDS, lambda: list(received))
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()
    [attachment] = message["attachments"]
    assert f"runbook: {runbook}\n" in attachment["text"]
    assert runbook == f"{settings.alerting.runbook_base}#backenddown"


# --- the Watchdog ----------------------------------------------------------------------------

def _watchdog_labels(settings: Settings, severity: str = WATCHDOG_SEVERITY) -> dict[str, str]:
    return {"alertname": WATCHDOG, "severity": severity, "env": settings.environment}


@pytest.mark.parametrize("severity", [WATCHDOG_SEVERITY, *Severity])
def test_the_watchdog_reaches_its_receiver_alone(stack: str, settings: Settings,
                                                 severity: str, tmp_path: Path) -> None:
    # Whatever severity it carried, no human receiver gets it; amtool lists every receiver
    # the tree picks, so --verify.receivers fails on any second one.
    path = _write(_config(settings), tmp_path)
    labels = _watchdog_labels(settings, str(severity))
    result = _amtool("config", "routes", "test", f"--config.file={path}",
                     f"--verify.receivers={EXPECTED_WATCHDOG_RECEIVER[stack]}",
                     *(f"{name}={value}" for name, value in labels.items()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_watchdog_is_grouped_alone_and_pinged_on_its_own_clock(stack: str,
                                                                   settings: Settings) -> None:
    route = _config(settings)["route"]["routes"][0]
    assert route["matchers"] == [f'alertname="{WATCHDOG}"']
    assert route["continue"] is False
    beating = EXPECTED_WATCHDOG_RECEIVER[stack] == HEARTBEAT
    if beating:
        assert route["group_by"] == ["alertname"]
        assert route["repeat_interval"] == "5m"  # the alertHeartbeatRepeatInterval default
        # Below the repeat interval, so each repeat goes out at the next tick, not a later one.
        assert (parse_duration(route["group_interval"]) or 0) < (
            parse_duration(route["repeat_interval"]) or 0)
    heartbeats = [r for r in _config(settings)["receivers"] if r["name"] == HEARTBEAT]
    assert len(heartbeats) == (1 if beating else 0)


def test_the_heartbeat_interval_reaches_its_route() -> None:
    raw, secrets = rule_cases.STACKS["production"]
    settings = parse_settings("production", {**raw, "alertHeartbeatRepeatInterval": "2m"},
                              secrets)
    assert _config(settings)["route"]["routes"][0]["repeat_interval"] == "2m"


def test_the_watchdog_is_never_inhibited(settings: Settings) -> None:
    watchdog = _watchdog_labels(settings)
    for rule in _config(settings)["inhibit_rules"]:
        for critical, _ in _fired_pairs(settings):
            assert not _inhibits(rule, {**critical, "alertname": WATCHDOG}, watchdog)
            assert not _inhibits(rule, critical, watchdog)


# --- inhibition ----------------------------------------------------------------------------

def _inhibits(rule: dict[str, Any], source: Mapping[str, str],
              target: Mapping[str, str]) -> bool:
    # A label missing from both sides counts as equal (alertmanager@v0.34.0 inhibit/inhibit.go,
    # `fingerprintEquals`).
    return (matches(rule["source_matchers"], source)
            and matches(rule["target_matchers"], target)
            and all(source.get(name, "") == target.get(name, "") for name in rule["equal"]))


def _fired_pairs(settings: Settings) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """(critical, warning) label sets of each alert whose unit test fires both at once."""
    for alert, cases in rule_cases.cases(settings).items():
        for case in cases:
            by_severity = {fired.severity: {**fired.labels, "alertname": alert,
                                            "severity": fired.severity}
                           for fired in case.fired}
            if {Severity.CRITICAL, Severity.WARNING} <= set(by_severity):
                yield by_severity[Severity.CRITICAL], by_severity[Severity.WARNING]


def _alerts_with_two_severities(settings: Settings) -> set[str]:
    severities: dict[str, set[str]] = {}
    for doc in rule_files(settings).values():
        for group in yaml.safe_load(render(doc))["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    severities.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    return {alert for alert, found in severities.items() if len(found) > 1}


def test_a_critical_mutes_the_warning_of_the_same_alert_only(settings: Settings) -> None:
    [rule] = _config(settings)["inhibit_rules"]
    pairs = list(_fired_pairs(settings))
    assert {critical["alertname"] for critical, _ in pairs} == \
        _alerts_with_two_severities(settings)
    for critical, warning in pairs:
        assert _inhibits(rule, critical, warning)
        assert not _inhibits(rule, warning, critical)
        assert not _inhibits(rule, critical, {**warning, "alertname": "BackendHighLatency"})
        assert not _inhibits(rule, critical, {**warning, "env": "elsewhere"})
        assert not _inhibits(rule, critical, {**critical, "job": "another_backend"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _http(url: str, body: object | None = None) -> str:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text: str = response.read().decode()
        return text


@pytest.fixture
def alertmanager_url(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The pinned Alertmanager on a free port, running this stack's config."""
    binary = require_tool("alertmanager")
    config = _write(_config(settings), tmp_path)
    url = f"http://127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address={url.removeprefix('http://')}", "--cluster.listen-address=",
         "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def ready() -> str:
            if process.poll() is not None:
                pytest.fail(f"Alertmanager exited {process.returncode}: "
                            f"{process.stderr.read() if process.stderr else ''}")
            return _http(f"{url}/-/ready")

        wait_until(f"Alertmanager to answer {url}/-/ready", READY_SECONDS, ready)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_running_alertmanager_mutes_the_warning(settings: Settings,
                                                   alertmanager_url: str) -> None:
    critical, warning = next(_fired_pairs(settings))
    other = {**warning, "alertname": "BackendHighLatency"}
    _http(f"{alertmanager_url}/api/v2/alerts", [{"labels": labels} for labels in
                                                (critical, warning, other)])
    muted = (warning["alertname"], "warning")

    def states() -> dict[tuple[str, str], dict[str, Any]]:
        return {(alert["labels"]["alertname"], alert["labels"]["severity"]): alert["status"]
                for alert in json.loads(_http(f"{alertmanager_url}/api/v2/alerts"))}

    # The inhibitor learns of the critical alert from its own subscription, apart from the
    # API's write (alertmanager@v0.34.0 inhibit/inhibit.go `Run`): a read right after the post
    # can come first. Notifications wait for group_wait, so they see the settled state.
    seen = wait_until(f"{muted} suppressed by {critical['alertname']} (critical)",
                      SETTLE_SECONDS, states,
                      lambda found: found.get(muted, {}).get("state") == "suppressed")
    assert seen[muted]["inhibitedBy"]
    assert seen[critical["alertname"], "critical"]["state"] == "active"
    assert seen["BackendHighLatency", "warning"]["state"] == "active"


# --- settings ------------------------------------------------------------------------------

def test_a_heartbeat_without_its_url_is_refused() -> None:
    raw, _ = rule_cases.STACKS["production"]
    with pytest.raises(SettingsError, match="alertHeartbeatUrl is required"):
        parse_settings("production", raw, frozenset({"alertWebhookUrl", "alertSlackWebhookUrl"}))


@pytest.mark.parametrize(("receiver", "secret"), [(Receiver.SLACK, "alertSlackWebhookUrl"),
                                                  (Receiver.WEBHOOK, "alertWebhookUrl")])
def test_a_receiver_without_its_secret_is_refused(receiver: Receiver, secret: str) -> None:
    raw = {**rule_cases.STACKS["production"][0], "alertCriticalReceiver": str(receiver),
           "alertWarningReceiver": "none"}
    with pytest.raises(SettingsError, match=secret):
        parse_settings("production", raw, frozenset())

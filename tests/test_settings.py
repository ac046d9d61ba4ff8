"""Stack settings: what a user sets is what the stack gets, and bad input fails before deploying."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from review import mock_runtime
from review.config_docs import pulumi_config, readme_table
from review.mock_runtime import run_program, stack_config
from settings import KEYS, Duration, Kind, SettingsError, parse_settings
from settings.stack_file import ROOT, file_settings, read_config


def settings_error(stack: str, **overrides: Any) -> SettingsError:
    """Run the program with bad overrides; it must fail with SettingsError before any resource."""
    config, secret_keys = stack_config(stack, overrides=overrides)
    with pytest.raises(SettingsError) as caught:
        run_program(stack, config, secret_keys)
    return caught.value


@pytest.mark.parametrize(("overrides", "key", "accepted"), [
    ({"logsRetention": "30 days"}, "logsRetention", "a duration such as"),
    ({"logsRetention": "12h"}, "logsRetention", "at least 24h"),
    ({"metricsRetentionTime": "15x"}, "metricsRetentionTime", "a duration such as"),
    ({"metricsRetentionSize": "-5GB"}, "metricsRetentionSize", "a positive size"),
    ({"backendMetricsUrl": "api.gatewayz.ai/metrics"}, "backendMetricsUrl", "http:// or https://"),
    ({"backendMetricsUrl": "https://user:pw@api.gatewayz.ai/metrics"}, "backendMetricsUrl",
     "no credentials"),
    ({"extraTargets": ["job=worker url=https://w.example/metrics env=staging colour=red"]},
     "extraTargets", "unknown field(s) colour"),
    ({"extraTargets": ["job=worker url=w.example/metrics env=staging"]}, "extraTargets",
     "http:// or https://"),
    ({"extraTargets": ["job=worker env=staging"]}, "extraTargets", "missing url"),
    ({"prometheusImage": "prom/prometheus:latest"}, "prometheusImage", "never `latest`"),
    ({"lokiImage": "grafana/loki"}, "lokiImage", "pinned to a version tag"),
    ({"grafanaBind": "0.0.0.0"}, "grafanaBind", "<IPv4 address>:<port>"),
    ({"tempoMemoryMb": "-1"}, "tempoMemoryMb", "a whole number from 32"),
    ({"protectData": "yes"}, "protectData", "true or false"),
    ({"alertWarningReceiver": "email"}, "alertWarningReceiver", "one of none, slack, webhook"),
    ({"redisAddress": "redis-production:6379"}, "redisAddress", "redis://host:port"),
    ({"lokiRetention": "7d"}, "lokiRetention", "not a known key"),
    ({"backendScrapeTimeout": "20s"}, "backendScrapeTimeout", "no longer than job"),
    ({"alertHeartbeat": "yes"}, "alertHeartbeat", "true or false"),
    ({"alertHeartbeatRepeatInterval": "30s"}, "alertHeartbeatRepeatInterval", "at least 1m"),
    ({"alertHeartbeatRepeatInterval": "2h"}, "alertHeartbeatRepeatInterval", "from 1m to 1h"),
])
def test_each_bad_setting_names_its_key_and_the_accepted_form(
        overrides: dict[str, Any], key: str, accepted: str) -> None:
    error = settings_error("production", **overrides)
    assert any(f"gatewayz-observability:{key}" in p and accepted in p for p in error.problems), \
        error.problems


@pytest.mark.parametrize(("stack", "secret"), [
    ("staging", "backendBearerToken"),
    ("staging", "alertSlackWebhookUrl"),
    ("production", "redisPassword"),
    ("production", "alertWebhookUrl"),
    ("production", "alertHeartbeatUrl"),
])
def test_a_missing_required_secret_is_reported_with_how_to_set_it(stack: str, secret: str) -> None:
    error = settings_error(stack, **{secret: None})
    assert any(secret in p and f"pulumi config set --secret {secret}" in p
               for p in error.problems), error.problems


def test_every_problem_is_reported_at_once() -> None:
    error = settings_error("staging", logsRetention="1d2", metricsRetentionSize="0GB",
                           backendBearerToken=None, extraTargets=["job=x env=y"],
                           grafanaImage="grafana/grafana:latest")
    named = {key for key in ("logsRetention", "metricsRetentionSize", "backendBearerToken",
                             "extraTargets", "grafanaImage")
             if any(f":{key}" in problem for problem in error.problems)}
    assert len(named) == 5, error.problems
    assert "5 invalid setting(s)" in str(error)


def test_bad_settings_register_no_resource() -> None:
    config, secret_keys = stack_config("production", overrides={"tracesRetention": "forever"})
    seen: list[str] = []
    original = mock_runtime._RecordingMonitor.RegisterResource

    def spy(self: Any, request: Any) -> Any:
        seen.append(request.type)
        return original(self, request)

    mock_runtime._RecordingMonitor.RegisterResource = spy  # type: ignore[method-assign]
    try:
        with pytest.raises(SettingsError):
            run_program("production", config, secret_keys)
    finally:
        mock_runtime._RecordingMonitor.RegisterResource = original  # type: ignore[method-assign]
    assert [t for t in seen if t != "pulumi:pulumi:Stack"] == []


def test_a_secret_set_in_plain_text_is_refused() -> None:
    config, secret_keys = stack_config("staging")
    secret_keys.remove("gatewayz-observability:backendBearerToken")
    with pytest.raises(SettingsError, match="backendBearerToken is a secret"):
        run_program("staging", config, secret_keys)


def test_extra_targets_get_their_own_job_and_env_label() -> None:
    settings = parse_settings("staging", {
        "backendMetricsUrl": "https://gatewayz-staging.up.railway.app/metrics",
        "extraTargets": '["job=worker url=https://worker.example:8443/internal/metrics '
                        'env=staging-eu interval=30s"]',
    }, frozenset())
    (worker,) = settings.extra_targets
    assert (worker.job, worker.scheme, worker.address, worker.metrics_path, worker.env,
            str(worker.interval), str(worker.timeout)) == (
        "worker", "https", "worker.example:8443", "/internal/metrics", "staging-eu", "30s", "10s")


ONE_TARGET = "job=worker url=https://w.example/metrics env=staging"


def test_the_program_refuses_extra_targets_as_one_string_showing_the_path_form() -> None:
    # What the program is handed for `pulumi config set extraTargets 'job=...'`, were the CLI
    # not to refuse it first: one plain string.
    config, secret_keys = stack_config("staging")
    config["gatewayz-observability:extraTargets"] = ONE_TARGET
    with pytest.raises(SettingsError) as caught:
        run_program("staging", config, secret_keys)
    (problem,) = [p for p in caught.value.problems if ":extraTargets" in p]
    assert "expected a list of strings" in problem
    # The form that works, with the user's own item as the first one.
    assert f"pulumi config set --path 'extraTargets[0]' '{ONE_TARGET}'" in problem
    assert "--path 'extraTargets[1]'" in problem


@pytest.mark.parametrize("value", [
    # JSON text in a string: the CLI refuses it at preview too ("must be of type
    # 'array<string>'"), so the stack file's reader does.
    json.dumps([ONE_TARGET]),
    ONE_TARGET,
])
def test_a_stack_file_holding_extra_targets_as_a_string_is_refused_with_the_path_form(
        value: str) -> None:
    config = {**read_config("staging"), "gatewayz-observability:extraTargets": value}
    with pytest.raises(SettingsError) as caught:
        file_settings("staging", config)
    (problem,) = caught.value.problems
    assert f"pulumi config set --path 'extraTargets[0]' '{ONE_TARGET}'" in problem
    assert "must be of type 'array<string>'" in problem
    # `make render` and the tests' runs refuse it as the CLI does, before the program.
    with pytest.raises(SettingsError) as refused:
        stack_config("staging", overrides={"extraTargets": value})
    assert refused.value.problems == [problem]


def test_extra_targets_items_set_as_objects_show_the_path_form() -> None:
    # `pulumi config set --path 'extraTargets[0].job' worker` makes the item an object.
    config = {**read_config("staging"), "gatewayz-observability:extraTargets": [
        {"job": "worker"}]}
    with pytest.raises(SettingsError) as caught:
        file_settings("staging", config)
    (problem,) = caught.value.problems
    assert "not an object" in problem
    assert "pulumi config set --path 'extraTargets[0]' 'job=" in problem


def test_a_stack_file_list_of_extra_targets_is_taken() -> None:
    config = {**read_config("staging"), "gatewayz-observability:extraTargets": [ONE_TARGET]}
    (worker,) = file_settings("staging", config).extra_targets
    assert worker.job == "worker"


def test_every_list_setting_has_an_item_example_for_its_messages() -> None:
    assert all(key.item for key in KEYS if key.kind is Kind.ARRAY)


def test_readme_shows_the_path_form_for_every_list_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    for key in KEYS:
        if key.kind is Kind.ARRAY:
            assert re.search(rf"pulumi config set (--stack \S+ )?--path '{key.name}\[0\]' ",
                             readme), key.name


def test_one_endpoint_cannot_be_scraped_by_two_jobs() -> None:
    error = settings_error("production", extraTargets=[
        "job=again url=https://api.gatewayz.ai/metrics env=production"])
    assert any("already scraped" in problem for problem in error.problems)


def test_durations_render_in_a_form_every_service_parses() -> None:
    # Go's time.ParseDuration (Tempo) has no `d`; hours work for Prometheus and Loki too.
    assert [str(Duration(s)) for s in (7 * 86400, 90 * 60, 45, 3600)] == [
        "168h", "90m", "45s", "1h"]


def test_environment_defaults_to_the_stack_name_and_can_be_overridden() -> None:
    base = {"backendMetricsUrl": "https://api.gatewayz.ai/metrics"}
    assert parse_settings("production", base, frozenset()).environment == "production"
    renamed = parse_settings("production", {**base, "environment": "prod-eu"}, frozenset())
    assert (renamed.environment, renamed.backend.job) == ("prod-eu", "gatewayz_prod_eu")


def test_pulumi_yaml_declares_every_key_but_the_secrets() -> None:
    text = (ROOT / "Pulumi.yaml").read_text()
    declared = yaml.safe_load(text)["config"]
    assert declared == pulumi_config()
    # A declared secret is refused by the CLI with a default and demanded of every stack
    # without one: the optional secrets stay undeclared, and the file says so, naming them.
    secrets = {key.name for key in KEYS if key.secret}
    assert secrets
    assert not secrets & set(declared)
    assert set(declared) == {key.name for key in KEYS} - secrets
    assert all(name in text.split("\nconfig:\n")[0] for name in secrets)
    # Without a default the CLI demands a value: only truly required keys may lack one.
    assert {name for name, entry in declared.items() if "default" not in entry} == {
        key.name for key in KEYS if key.default is None}
    assert "default" not in declared["backendMetricsUrl"]


def test_readme_lists_every_key_with_its_default() -> None:
    assert readme_table() in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_stack_files_use_only_our_keys_and_provider_namespaces(stack: str) -> None:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    names = {key.name for key in KEYS}
    for full_key in document["config"]:
        namespace, _, name = full_key.partition(":")
        assert namespace in ("gatewayz-observability", "docker"), full_key
        if namespace == "gatewayz-observability":
            assert name in names, full_key

"""Stack settings: what a user sets is what the stack gets, and bad input fails before deploying."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from review import mock_runtime
from review.config_docs import pulumi_config, readme_table
from review.mock_runtime import run_program, stack_config
from settings import KEYS, Duration, SettingsError, parse_settings
from settings.stack_file import ROOT


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
    ({"prometheusCpuMillis": "50"}, "prometheusCpuMillis", "a whole number from 100"),
    ({"grafanaCpuMillis": "1.5"}, "grafanaCpuMillis", "a whole number from 100"),
    # The provider reads NanoCpus 10.05e9 back as `10.1`: a change at every preview.
    ({"lokiCpuMillis": "10050"}, "lokiCpuMillis", "reads 10.05 CPUs as 10.1"),
    ({"grafanaAdminPassword": "admin"}, "grafanaAdminPassword", "at least 16"),
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


def test_a_short_admin_password_is_refused_without_showing_it() -> None:
    error = settings_error("staging", grafanaAdminPassword="Tr0ub4dor&3")
    assert any("grafanaAdminPassword is 11 characters long" in p for p in error.problems)
    assert "Tr0ub4dor&3" not in str(error)


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

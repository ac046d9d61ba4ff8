"""Stack settings: what a user sets is what the stack gets, and bad input fails before deploying."""

from __future__ import annotations

import json
import re
from typing import Any, Final

import pytest
import yaml

from configs.mixins import rule_files
from policy.policies import PRODUCTION_STACKS
from review import mock_runtime
from review.config_docs import pulumi_config, readme_table
from review.mock_runtime import run_program, stack_config, stack_settings
from services import Service
from settings import (
    DEFAULT_IMAGES,
    KEYS,
    KEYS_BY_NAME,
    Duration,
    Kind,
    SettingsError,
    parse_duration,
    parse_settings,
)
from settings.keys import RATE_WINDOW, UPSTREAM_REPOSITORIES, camel
from settings.model import PRODUCTION
from settings.stack_file import ROOT, file_settings, read_config
from toolchain import images, releases


def settings_error(stack: str, **overrides: Any) -> SettingsError:
    """Run the program with bad overrides; it must fail with SettingsError before any resource."""
    config, secret_keys = stack_config(stack, overrides=overrides)
    with pytest.raises(SettingsError) as caught:
        run_program(stack, config, secret_keys)
    return caught.value


@pytest.mark.parametrize(("overrides", "key", "accepted"), [
    ({"logsRetention": "30 days"}, "logsRetention", "a duration such as"),
    ({"logsRetention": "12h"}, "logsRetention", "from 24h"),
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
    ({"alertHeartbeatRepeatInterval": "30s"}, "alertHeartbeatRepeatInterval", "from 1m"),
    ({"alertHeartbeatRepeatInterval": "2h"}, "alertHeartbeatRepeatInterval", "from 1m to 1h"),
    ({"prometheusCpuMillis": "50"}, "prometheusCpuMillis", "a whole number from 100"),
    ({"grafanaCpuMillis": "1.5"}, "grafanaCpuMillis", "a whole number from 100"),
    # The provider reads NanoCpus 10.05e9 back as `10.1`: a change at every preview.
    ({"lokiCpuMillis": "10050"}, "lokiCpuMillis", "reads 10.05 CPUs as 10.1"),
    ({"grafanaAdminPassword": "admin"}, "grafanaAdminPassword", "at least 16"),
    ({"platform": "nomad"}, "platform", "one of docker, kubernetes"),
    ({"kubernetesNamespace": "Gatewayz_Prod"}, "kubernetesNamespace", "a DNS-1123 label"),
    ({"kubernetesNamespace": "x" * 64}, "kubernetesNamespace", "at most 63"),
    ({"alertmanagerReplicas": "0"}, "alertmanagerReplicas", "a whole number from 1 to 9"),
    ({"prometheusReplicas": "4"}, "prometheusReplicas", "a whole number from 1 to 3"),
    ({"lokiWriteReplicas": "0"}, "lokiWriteReplicas", "a whole number from 1 to 32"),
    ({"kubernetesStorageClass": "Fast_SSD"}, "kubernetesStorageClass", "a DNS-1123 subdomain"),
    ({"kubernetesIngressClass": "-nginx"}, "kubernetesIngressClass", "a DNS-1123 subdomain"),
    ({"lokiStorageSize": "10 GB"}, "lokiStorageSize", "a positive size"),
    ({"grafanaStorageSize": "512MB"}, "grafanaStorageSize", "from 1GB to 64TB"),
    # Production keeps 50GB of samples: a volume of that size fills before retention trims.
    ({"prometheusStorageSize": "50GB"}, "prometheusStorageSize",
     "a size above `metricsRetentionSize` (50GB)"),
    ({"objectStorageEndpoint": "s3.example.com"}, "objectStorageEndpoint", "`https://host"),
    ({"objectStorageEndpoint": "https://s3.example.com/loki"}, "objectStorageEndpoint",
     "no path"),
    ({"objectStorageEndpoint": "https://key:secret@s3.example.com"}, "objectStorageEndpoint",
     "or credentials"),
    ({"objectStorageRegion": "EU West"}, "objectStorageRegion", "a region such as us-east-1"),
    ({"lokiBucket": "Loki_Chunks"}, "lokiBucket", "an S3 bucket name"),
    ({"tempoBucket": "192.168.1.1"}, "tempoBucket", "not an IP address"),
    ({"lokiBucket": "gatewayz-obs", "tempoBucket": "gatewayz-obs"}, "tempoBucket",
     "a bucket other than `lokiBucket`'s"),
    ({"grafanaIngressHost": "grafana"}, "grafanaIngressHost", "a DNS name such as"),
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
    base = {"backendMetricsUrl": "https://api.gatewayz.ai/metrics", "protectData": "true"}
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


# --- Issue 18's classes of bad settings: each refused before any resource, naming its key ------
# Each row: a value the program took before its rule (or took silently), the key a problem must
# name, and a phrase of the accepted form it must give. The bounds are read from the key table,
# so the rows hold on an edit of a bound that still refuses the value.

_BOUND_TEXT = {key.name: key.bounds.describe() for key in KEYS if key.bounds is not None}

BAD_SETTINGS: Final[tuple[tuple[str, dict[str, Any], str, str], ...]] = (
    # Surrounding whitespace or a trailing newline (a YAML block scalar).
    ("newline-in-environment", {"environment": "production\n"}, "environment",
     "without surrounding whitespace"),
    ("newline-in-url", {"backendMetricsUrl": "https://api.gatewayz.ai/metrics\n"},
     "backendMetricsUrl", "without surrounding whitespace"),
    ("space-in-metrics-path",
     {"extraTargets": ["job=worker url='https://w.example/metrics ' env=production"]},
     "extraTargets", "no spaces"),
    ("space-after-grafana-url", {"grafanaUrl": "http://127.0.0.1:3000 "}, "grafanaUrl",
     "without surrounding whitespace"),
    ("newline-in-size", {"metricsRetentionSize": "20GB\n"}, "metricsRetentionSize",
     "without surrounding whitespace"),
    ("tab-in-image", {"lokiImage": "grafana/loki:3.7.6\t"}, "lokiImage",
     "without surrounding whitespace"),
    # Binds and ports.
    ("leading-zeros", {"prometheusBind": "127.000.000.001:9090"}, "prometheusBind",
     "no leading zeros"),
    ("arabic-indic-port", {"grafanaBind": "127.0.0.1:\u0663\u0660\u0660\u0660"}, "grafanaBind",
     "ASCII digits"),
    ("arabic-indic-octet", {"grafanaBind": "\u0661\u0662\u0667.0.0.1:3000"}, "grafanaBind",
     "ASCII digits"),
    ("bind-port-0", {"alertmanagerBind": "127.0.0.1:0"}, "alertmanagerBind",
     "a port from 1 to 65535"),
    ("url-port-0", {"backendMetricsUrl": "https://api.gatewayz.ai:0/metrics"},
     "backendMetricsUrl", "port from 1 to 65535"),
    ("redis-port-0", {"redisAddress": "redis://redis.internal:0"}, "redisAddress",
     "a port from 1 to 65535"),
    ("fullwidth-url-port", {"backendMetricsUrl": "https://api.gatewayz.ai:\uff18443/metrics"},
     "backendMetricsUrl", "port from 1 to 65535"),
    ("two-services-one-port", {"grafanaBind": "127.0.0.1:9090"}, "grafanaBind",
     "prometheusBind publishes 127.0.0.1:9090"),
    ("any-and-loopback-one-port", {"prometheusBind": "0.0.0.0:9090",
                                   "prometheusBindBeyondLoopback": "true",
                                   "grafanaBind": "127.0.0.1:9090"}, "grafanaBind",
     "a host port no other bind key takes"),
    ("prometheus-beyond-loopback", {"prometheusBind": "0.0.0.0:9090"}, "prometheusBind",
     "`prometheusBindBeyondLoopback: true`"),
    ("loki-beyond-loopback", {"lokiBind": "10.0.0.5:3100"}, "lokiBind",
     "`lokiBindBeyondLoopback: true`"),
    ("tempo-beyond-loopback", {"tempoOtlpHttpBind": "0.0.0.0:4318"}, "tempoOtlpHttpBind",
     "`tempoBindBeyondLoopback: true`"),
    ("alertmanager-beyond-loopback", {"alertmanagerBind": "0.0.0.0:9093"}, "alertmanagerBind",
     "`alertmanagerBindBeyondLoopback: true`"),
    # Durations and sizes beyond what the services parse; rotation that is rotation in name only.
    ("retention-300y", {"metricsRetentionTime": "300y"}, "metricsRetentionTime",
     _BOUND_TEXT["metricsRetentionTime"]),
    ("logs-past-go-duration", {"logsRetention": "2562048h"}, "logsRetention",
     _BOUND_TEXT["logsRetention"]),
    ("traces-300y", {"tracesRetention": "300y"}, "tracesRetention",
     _BOUND_TEXT["tracesRetention"]),
    ("size-8192PB", {"metricsRetentionSize": "8192PB"}, "metricsRetentionSize",
     _BOUND_TEXT["metricsRetentionSize"]),
    ("fullwidth-duration", {"logsRetention": "\uff17d"}, "logsRetention", "a duration such as"),
    ("rotation-1k", {"logMaxSize": "1k"}, "logMaxSize", _BOUND_TEXT["logMaxSize"]),
    ("rotation-100g", {"logMaxSize": "100g"}, "logMaxSize", _BOUND_TEXT["logMaxSize"]),
    # Values that leave the [5m] rate windows empty or run rules a few times a day.
    ("scrape-5m", {"scrapeInterval": "5m"}, "scrapeInterval", _BOUND_TEXT["scrapeInterval"]),
    ("backend-scrape-151s", {"backendScrapeInterval": "151s", "backendScrapeTimeout": "10s"},
     "backendScrapeInterval", _BOUND_TEXT["backendScrapeInterval"]),
    ("extra-target-scrape-10m",
     {"extraTargets": ["job=worker url=https://w.example/metrics env=production interval=10m"]},
     "extraTargets", _BOUND_TEXT["backendScrapeInterval"]),
    ("evaluation-6h", {"evaluationInterval": "6h"}, "evaluationInterval",
     _BOUND_TEXT["evaluationInterval"]),
    ("retention-under-an-hour", {"metricsRetentionTime": "30m"}, "metricsRetentionTime",
     _BOUND_TEXT["metricsRetentionTime"]),
    # Credentials.
    ("bearer-over-http", {"backendAuth": "bearer", "backendBearerToken": "t0ken-Value-1234",
                          "backendMetricsUrl": "http://api.gatewayz.ai/metrics"},
     "backendMetricsUrl", "https:// URL while `backendAuth` is `bearer`"),
    ("slack-over-http", {"alertSlackWebhookUrl": "http://hooks.slack.com/services/T/B/x"},
     "alertSlackWebhookUrl", "an https:// URL"),
    ("slack-not-a-url", {"alertSlackWebhookUrl": "hooks.slack.com/services/T/B/x"},
     "alertSlackWebhookUrl", "an https:// URL"),
    ("colon-in-admin-user", {"grafanaAdminUser": "ad:min"}, "grafanaAdminUser", "no `:`"),
    ("short-password", {"grafanaAdminPassword": "Sh0rt-pass"}, "grafanaAdminPassword",
     "at least 16 characters"),
    ("one-kind-password", {"grafanaAdminPassword": "correcthorsebatterystaple"},
     "grafanaAdminPassword", "of at least 2 kinds"),
    ("password-newline", {"grafanaAdminPassword": "Correct-Horse-Battery-9\n"},
     "grafanaAdminPassword", "trailing newline"),
    ("password-expands", {"grafanaAdminPassword": "Correct-${HORSE}-Battery-9"},
     "grafanaAdminPassword", "without `${` or `$__`"),
    ("password-file-provider", {"grafanaAdminPassword": "Correct-$__file{/etc/x}-9"},
     "grafanaAdminPassword", "without `${` or `$__`"),
    ("weak-secret-key", {"grafanaSecretKey": "grafanasecretkey"}, "grafanaSecretKey",
     "of at least 2 kinds"),
    ("metrics-password-expands", {"grafanaMetricsPassword": "Correct-${HORSE}-Battery-9"},
     "grafanaMetricsPassword", "without `${` or `$__`"),
    # Images: a version tag or a digest, of a repository that is the service.
    ("floating-main", {"prometheusImage": "prom/prometheus:main"}, "prometheusImage",
     "never `latest`, `main`"),
    ("floating-minor", {"lokiImage": "grafana/loki:3.7"}, "lokiImage", "version tag X.Y.Z"),
    ("another-services-image", {"lokiImage": "grafana/tempo:3.0.3"}, "lokiImage",
     "an image of loki"),
    ("unknown-repository", {"grafanaImage": "example/grafana:13.2.0"}, "grafanaImage",
     "an image of grafana"),
    ("unconfigured-mirror", {"tempoImage": "registry.example.com/hub/grafana/tempo:3.0.3"},
     "tempoImage", "an image of tempo"),
    # Keys the program would not read, and production without protected data.
    ("misspelt-namespace", {"gatewayz-observabilty:logsRetention": "30d"},
     "gatewayz-observabilty:logsRetention", "set it as `gatewayz-observability:logsRetention`"),
    ("family-namespace", {"gatewayz:logsRetention": "30d"}, "gatewayz:logsRetention",
     "is not read"),
    ("production-unprotected", {"protectData": "false"}, "protectData", "true in production"),
    # Extra targets that scrape what the stack scrapes already.
    ("rescrape-service-alias",
     {"extraTargets": ["job=loki_again url=http://loki:3100/metrics env=production"]},
     "extraTargets", "is loki, which the stack scrapes already"),
    ("rescrape-container-name",
     {"extraTargets": ["job=g url=http://gatewayz-production-grafana:3000/metrics env=production"]},
     "extraTargets", "is grafana, which the stack scrapes already"),
    ("rescrape-own-loopback",
     {"extraTargets": ["job=self url=http://localhost:9090/metrics env=production"]},
     "extraTargets", "is prometheus, which the stack scrapes already"),
    ("rescrape-backend-spelt-otherwise",
     {"extraTargets": ["job=again url=https://API.gatewayz.ai:443/metrics env=production"]},
     "extraTargets", "is already scraped"),
)


def _problem_for(error: SettingsError, key: str, accepted: str) -> bool:
    return any((f"gatewayz-observability:{key}" in p or p.startswith(key)) and accepted in p
               for p in error.problems)


@pytest.mark.parametrize(("overrides", "key", "accepted"),
                         [case[1:] for case in BAD_SETTINGS],
                         ids=[case[0] for case in BAD_SETTINGS])
def test_each_class_of_bad_setting_is_refused_naming_key_and_form(
        overrides: dict[str, Any], key: str, accepted: str) -> None:
    error = settings_error("production", **overrides)
    assert _problem_for(error, key, accepted), error.problems
    # One problem per bad value: a refused value does not come back as another key's problem.
    assert len(error.problems) == 1, error.problems


def test_a_refused_secret_is_never_shown() -> None:
    password = "correcthorsebatterystaple"
    webhook = "http://hooks.slack.com/services/T/B/not-shown"
    error = settings_error("production", grafanaAdminPassword=password,
                           alertSlackWebhookUrl=webhook)
    assert len(error.problems) == 2, error.problems
    assert password not in str(error)
    assert webhook not in str(error)


def test_a_staging_stack_labelled_production_must_protect_its_data() -> None:
    error = settings_error("staging", environment="production")
    assert _problem_for(error, "protectData", "true in production"), error.problems


@pytest.mark.parametrize("overrides", [
    # Beyond loopback with the service's named opt-in; Grafana asks for its login, so none.
    {"lokiBind": "0.0.0.0:3100", "lokiBindBeyondLoopback": "true"},
    {"tempoOtlpGrpcBind": "10.1.2.3:4317", "tempoOtlpHttpBind": "10.1.2.3:4318",
     "tempoBindBeyondLoopback": "true"},
    {"grafanaBind": "0.0.0.0:3000"},
    # One port on two specific addresses is two sockets.
    {"grafanaBind": "127.0.0.2:9090"},
    # Each form of an image of its service: digest, registry spellings, mirror, local builds.
    {"lokiImage": "grafana/loki@sha256:" + "a" * 64},
    {"lokiImage": "docker.io/grafana/loki:3.7.6"},
    {"prometheusImage": "quay.io/prometheus/prometheus:v3.14.0"},
    {"imageMirror": "registry.example.com:5000/hub",
     "prometheusImage": "registry.example.com:5000/hub/prometheus/prometheus:v3.14.0",
     "tempoImage": "registry.example.com:5000/hub/grafana/tempo:3.0.3"},
    {"grafanaImage": "gatewayz-local/grafana-standin:13.2.0",
     "alertmanagerImage": "gatewayz-local/alertmanager:v0.34.0"},
    # The bounds' own ends.
    {"scrapeInterval": "75s", "evaluationInterval": "75s", "metricsRetentionTime": "292y",
     "metricsRetentionSize": "8191PB", "logMaxSize": "1g", "tracesRetention": "2562047h"},
    {"grafanaAdminPassword": "Sixteen-chars-ok", "grafanaAdminUser": "ops.admin@gatewayz"},
    {"docker:host": "ssh://deploy@obs.example.com"},
])
def test_legitimate_values_of_those_keys_are_accepted(overrides: dict[str, Any]) -> None:
    config, secret_keys = stack_config("production", overrides=overrides)
    run_program("production", config, secret_keys)


def test_the_bounds_keep_retention_longer_than_any_interval() -> None:
    retention = KEYS_BY_NAME["metricsRetentionTime"].bounds
    assert retention is not None
    for name in ("scrapeInterval", "backendScrapeInterval", "evaluationInterval"):
        interval = KEYS_BY_NAME[name].bounds
        assert interval is not None
        # A rate needs two samples in the rules' window; retention must hold many windows.
        assert interval.maximum * 2 <= RATE_WINDOW, name
        assert retention.minimum >= 10 * RATE_WINDOW, name


def test_the_rules_rate_no_window_shorter_than_the_bound_assumes(stack: str) -> None:
    rules = rule_files(stack_settings(stack))
    ranges = {found for document in rules.values()
              for found in re.findall(r"\[([0-9]+[smhdw])(?::[0-9a-z]*)?\]", json.dumps(document))}
    assert ranges
    short = {text for text in ranges if (parse_duration(text) or 0) < RATE_WINDOW}
    assert not short, f"ranges under the {RATE_WINDOW}s the interval bounds assume: {short}"


def test_every_image_the_toolchain_builds_is_accepted_for_its_service() -> None:
    built = {release.service: images.image_tag(release) for release in releases.RELEASES}
    overrides = {f"{camel(service)}Image": image
                 for service, image in {**built, **images.standin_images()}.items()}
    config, secret_keys = stack_config("production", overrides=overrides)
    run_program("production", config, secret_keys)
    assert set(images.standin_images()) | set(built) == set(UPSTREAM_REPOSITORIES)


def test_every_default_image_is_of_its_upstream_repository() -> None:
    for service, image in DEFAULT_IMAGES.items():
        assert image.rpartition(":")[0] in UPSTREAM_REPOSITORIES[service], service


def test_the_program_and_the_policy_pack_name_the_same_production_stack() -> None:
    assert {PRODUCTION} == PRODUCTION_STACKS


def test_prometheus_claims_its_retention_size_and_a_quarter_unless_set() -> None:
    production = file_settings("production")
    assert str(production.retention.metrics_size) == "50GB"
    assert production.kubernetes.storage[Service.PROMETHEUS].bytes == (63 << 30)
    config = {**read_config("production"),
              "gatewayz-observability:prometheusStorageSize": "60GB"}
    assert str(file_settings("production", config).kubernetes.storage[Service.PROMETHEUS]) \
        == "60GB"


def test_the_kubernetes_platform_requires_its_object_storage_and_its_key_pair() -> None:
    config, _ = stack_config("staging")
    raw = {key.split(":", 1)[1]: str(value) for key, value in config.items()
           if key.startswith("gatewayz-observability:")}
    secrets = frozenset(key.name for key in KEYS if key.secret) - {
        "objectStorageAccessKeyId", "objectStorageSecretAccessKey"}
    # On Docker, Loki and Tempo keep their data on volumes: nothing is asked for.
    assert parse_settings("staging", raw, secrets).kubernetes.object_storage is None
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", {**raw, "platform": "kubernetes"}, secrets)
    for key in ("objectStorageEndpoint", "lokiBucket", "tempoBucket"):
        assert any(problem.startswith(f"gatewayz-observability:{key} is required")
                   for problem in caught.value.problems), (key, caught.value.problems)
    for key in ("objectStorageAccessKeyId", "objectStorageSecretAccessKey"):
        assert any(f"pulumi config set --secret {key}" in problem
                   for problem in caught.value.problems), (key, caught.value.problems)


def test_the_kubernetes_namespace_defaults_to_the_stacks_docker_prefix() -> None:
    assert file_settings("staging").kubernetes.namespace == "gatewayz-staging"
    config = {**read_config("staging"), "gatewayz-observability:kubernetesNamespace": "obs"}
    assert file_settings("staging", config).kubernetes.namespace == "obs"


def test_a_derived_namespace_that_is_no_label_is_refused_only_on_kubernetes() -> None:
    # A Docker stack named `Dev_1` keeps working; on Kubernetes its default namespace
    # `gatewayz-Dev_1` is no DNS-1123 label, and the message says to set one.
    config, _ = stack_config("staging")
    raw = {key.split(":", 1)[1]: str(value) for key, value in config.items()
           if key.startswith("gatewayz-observability:")}
    secrets = frozenset(key.name for key in KEYS if key.secret)
    raw["environment"] = "dev"
    assert parse_settings("Dev_1", raw, secrets).kubernetes.namespace == "gatewayz-Dev_1"
    with pytest.raises(SettingsError) as caught:
        parse_settings("Dev_1", {**raw, "platform": "kubernetes"}, secrets)
    assert any("kubernetesNamespace = 'gatewayz-Dev_1'" in problem and "set it" in problem
               for problem in caught.value.problems), caught.value.problems

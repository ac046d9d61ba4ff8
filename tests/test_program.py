"""The whole program under mocks, per stack: what `pulumi up` would create, as a user checks it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest

from configs.alertmanager import HEARTBEAT_URL_FILE
from configs.prometheus import CONFIG_PATH as PROMETHEUS_CONFIG
from configs.prometheus import RESEND_DELAY_FLAG
from ops.verify.context import duration_seconds
from review.mock_runtime import (
    FAKE_SECRET_PREFIX,
    FAKE_SECRETS,
    SECRET_SIG,
    ProgramRun,
    run_program,
    stack_config,
    stack_settings,
)
from services import SERVICES, Service
from settings import DEFAULT_IMAGES, BackendAuth, Duration, Settings, provider_cpus
from tests.support.stack import CONTAINER, containers, files, yaml_file

STATEFUL = {"prometheus", "loki", "tempo", "grafana", "alertmanager"}


def plain_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string outside a secret wrapper, with where it sits."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return
        for key, child in value.items():
            yield from plain_strings(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from plain_strings(child, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def test_no_secret_value_sits_in_a_plain_input(program: ProgramRun) -> None:
    leaks = [(resource.name, path) for resource in program.resources
             for path, text in plain_strings(resource.inputs) if FAKE_SECRET_PREFIX in text]
    assert leaks == []


def test_secrets_reach_their_containers_as_files_only(program: ProgramRun) -> None:
    for name, container in containers(program).items():
        inputs = container.plain_inputs()
        assert not any(FAKE_SECRET_PREFIX in env for env in inputs.get("envs", [])), name
        for upload in inputs.get("uploads", []):
            if FAKE_SECRET_PREFIX in upload["content"]:
                assert upload["permissions"] == "0400", (name, upload["file"])


def test_exports_reveal_no_secret_in_plain(program: ProgramRun) -> None:
    for name, (value, secret) in program.outputs.items():
        if FAKE_SECRET_PREFIX in str(value):
            assert secret, name
    assert program.outputs["grafanaAdminPassword"][1] is True


def test_grafana_admin_password_is_generated_when_not_set() -> None:
    config, secret_keys = stack_config("staging", overrides={"grafanaAdminPassword": None})
    run = run_program("staging", config, secret_keys)
    (password,) = run.of_type("random:index/randomPassword:RandomPassword")
    assert password.plain_inputs()["length"] >= 24
    value, secret = run.outputs["grafanaAdminPassword"]
    assert secret
    assert value.startswith(FAKE_SECRET_PREFIX)
    grafana_files = files(containers(run)["grafana"])
    assert value in grafana_files.values()


def test_every_container_is_run_to_survive_on_its_own(program: ProgramRun) -> None:
    for name, container in containers(program).items():
        inputs = container.plain_inputs()
        assert inputs["restart"] == "unless-stopped", name
        assert inputs["healthcheck"]["tests"][0] in ("CMD", "CMD-SHELL"), name
        assert inputs["wait"] is True, name
        assert inputs["memory"] > 0, name
        assert inputs["memorySwap"] == inputs["memory"], name
        assert inputs["logDriver"] == "json-file", name
        assert set(inputs["logOpts"]) == {"max-size", "max-file"}, name
        assert container.delete_before_replace, name


def _go_duration_string(seconds: int) -> str:
    """Go's `time.Duration.String()` for whole seconds (src/time/time.go), written apart from
    the program's own helper."""
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60}m{seconds % 60}s"


def test_healthcheck_durations_are_written_as_the_provider_reads_them_back(
        program: ProgramRun) -> None:
    # The provider reads a container's healthcheck from the engine as Go durations; "60s"
    # against the engine's "1m0s" was a change at every preview (found by `make engine`).
    for name, container in containers(program).items():
        health = container.plain_inputs()["healthcheck"]
        for key in ("interval", "timeout", "startPeriod"):
            seconds = duration_seconds(health[key])
            assert health[key] == _go_duration_string(int(seconds)), (name, key, health[key])


def test_images_are_the_pinned_releases(program: ProgramRun) -> None:
    pulled = {image.plain_inputs()["name"] for image in
              program.of_type("docker:index/remoteImage:RemoteImage")}
    # Staging watches no Redis, so it runs no exporter.
    expected = {image for service, image in DEFAULT_IMAGES.items()
                if program.stack == "production" or service is not Service.REDIS_EXPORTER}
    assert pulled == expected
    assert all(":" in image and not image.endswith(":latest") for image in pulled)


def test_published_ports_bind_to_loopback_by_default(program: ProgramRun) -> None:
    published = {}
    for name, container in containers(program).items():
        for port in container.plain_inputs().get("ports", []):
            assert port["ip"] == "127.0.0.1", (name, port)
            published[port["internal"]] = name
    # The exporter is scraped over the stack network only.
    assert "redis-exporter" not in published.values()
    assert published == {9090: "prometheus", 3100: "loki", 3200: "tempo", 4317: "tempo",
                         4318: "tempo", 3000: "grafana", 9093: "alertmanager"}


def test_all_containers_share_one_user_defined_network(program: ProgramRun) -> None:
    (network,) = program.of_type("docker:index/network:Network")
    network_name = network.plain_inputs()["name"]
    for name, container in containers(program).items():
        (attachment,) = container.plain_inputs()["networksAdvanced"]
        assert attachment["name"] == network_name, name
        assert attachment["aliases"] == [name], name


def test_stateful_services_keep_data_on_named_volumes(program: ProgramRun) -> None:
    volumes = {v.plain_inputs()["name"]: v for v in program.of_type("docker:index/volume:Volume")}
    for name in STATEFUL:
        mounts = containers(program)[name].plain_inputs()["volumes"]
        named = [m for m in mounts if "fromContainer" not in m]
        assert [m["volumeName"] in volumes for m in named] == [True], name
        volume = volumes[named[0]["volumeName"]]
        protected = program.stack == "production"
        assert (volume.protect, volume.retain_on_delete) == (protected, protected), name


def scrape_jobs(program: ProgramRun) -> list[dict[str, Any]]:
    config = yaml_file(containers(program)["prometheus"], PROMETHEUS_CONFIG)
    jobs: list[dict[str, Any]] = config["scrape_configs"]
    return jobs


def test_a_lost_alert_send_is_retried_at_the_next_evaluation(program: ProgramRun) -> None:
    # Prometheus' first sends after a start can go nowhere; a resend delay of one evaluation
    # interval (not the default 1m) makes the next evaluation send them again.
    prometheus = containers(program)["prometheus"]
    config = yaml_file(prometheus, PROMETHEUS_CONFIG)
    flags = dict(arg.partition("=")[::2] for arg in prometheus.plain_inputs()["command"])
    assert duration_seconds(flags[RESEND_DELAY_FLAG]) == \
        duration_seconds(config["global"]["evaluation_interval"])


def test_every_job_labels_its_series_with_env(program: ProgramRun) -> None:
    for job in scrape_jobs(program):
        for static in job["static_configs"]:
            assert static["labels"]["env"] == program.stack, job["job_name"]


def test_no_endpoint_is_scraped_twice(program: ProgramRun) -> None:
    endpoints = [(job.get("scheme", "http"), target, job.get("metrics_path", "/metrics"))
                 for job in scrape_jobs(program)
                 for static in job["static_configs"] for target in static["targets"]]
    names = [job["job_name"] for job in scrape_jobs(program)]
    assert len(endpoints) == len(set(endpoints))
    assert len(names) == len(set(names))


def test_jobs_are_named_for_the_backend_and_each_service(program: ProgramRun) -> None:
    settings = stack_settings(program.stack)
    names = [job["job_name"] for job in scrape_jobs(program)]
    assert names[0] == f"gatewayz_{settings.environment}"
    running = {Service(name).job for name in containers(program)}
    assert set(names) == {target.job for target in settings.external_targets} | running
    assert ("redis_exporter" in names) == (settings.redis is not None)


def test_backend_credentials_only_through_a_credentials_file(program: ProgramRun) -> None:
    prometheus = containers(program)["prometheus"]
    uploaded = files(prometheus)
    for job in scrape_jobs(program):
        assert "bearer_token" not in job
        # Basic auth (Grafana's /metrics) only by a password file, never a password.
        assert set(job.get("basic_auth", {})) <= {"username", "password_file"}
        for path in (job.get("authorization", {}).get("credentials_file"),
                     job.get("basic_auth", {}).get("password_file")):
            if path is not None:
                assert uploaded[path].startswith(FAKE_SECRET_PREFIX), path
    backend = stack_settings(program.stack).backend
    assert ("authorization" in scrape_jobs(program)[0]) == (backend.auth is BackendAuth.BEARER)


def test_retention_reaches_each_service(program: ProgramRun) -> None:
    retention = stack_settings(program.stack).retention
    found = containers(program)
    prometheus = yaml_file(found["prometheus"], "/etc/prometheus/prometheus.yml")
    tsdb = prometheus["storage"]["tsdb"]["retention"]
    assert duration_seconds(tsdb["time"]) == retention.metrics_time.seconds
    assert tsdb["size"] == str(retention.metrics_size)
    loki = yaml_file(found["loki"], "/etc/loki/config.yaml")
    assert duration_seconds(loki["limits_config"]["retention_period"]) == retention.logs.seconds
    assert loki["compactor"]["retention_enabled"] is True
    tempo = yaml_file(found["tempo"], "/etc/tempo/tempo.yaml")
    assert duration_seconds(tempo["overrides"]["defaults"]["compaction"]["block_retention"]) \
        == retention.traces.seconds


def _container_inputs(stack: str, **overrides: Any) -> dict[str, dict[str, Any]]:
    config, secret_keys = stack_config(stack, overrides=overrides)
    run = run_program(stack, config, secret_keys)
    return {name: c.plain_inputs() for name, c in containers(run).items()}


def _longer(duration: Duration) -> str:
    """A valid duration other than the stack's own, whatever the stack file says today."""
    return f"{duration.seconds // 3600 + 24}h"


# Each a setting one service sees, changed away from what the stack has.
ONE_SERVICE_CHANGES: Final[tuple[tuple[str, Callable[[Settings], str], str], ...]] = (
    ("logsRetention", lambda s: _longer(s.retention.logs), "loki"),
    ("tracesRetention", lambda s: _longer(s.retention.traces), "tempo"),
    ("backendScrapeInterval", lambda s: f"{s.backend.interval.seconds + 15}s", "prometheus"),
    ("redisUser", lambda s: "exporter2" if s.redis and s.redis.user == "exporter" else "exporter",
     "redis-exporter"),
    ("grafanaMemoryMb", lambda s: str(s.memory_mb[Service.GRAFANA] + 256), "grafana"),
)


@pytest.mark.parametrize(("key", "changed_value", "changed"), ONE_SERVICE_CHANGES,
                         ids=[key for key, _, _ in ONE_SERVICE_CHANGES])
def test_a_change_to_one_service_replaces_only_its_container(
        key: str, changed_value: Callable[[Settings], str], changed: str) -> None:
    stack = "production"  # the stack that runs every service, redis_exporter included
    before = _container_inputs(stack)
    after = _container_inputs(stack, **{key: changed_value(stack_settings(stack))})
    assert {name for name in before if before[name] != after[name]} == {changed}


def _replaced(before: ProgramRun, after: ProgramRun) -> set[str]:
    """Names of the resources a change from `before` to `after` replaces: each whose inputs
    changed (every input of a Docker container or image forces a new one), and each whose
    `replace_with` names a replaced resource."""
    previous = {r.urn: r.inputs for r in before.resources}
    replaced = {r.urn for r in after.resources if r.custom and previous.get(r.urn) != r.inputs}
    while grown := {r.urn for r in after.resources
                    if r.urn not in replaced and replaced & set(r.replace_with)}:
        replaced |= grown
    return {r.name for r in after.resources if r.urn in replaced}


def test_an_image_bump_replaces_the_grafana_container_and_nothing_else(stack: str) -> None:
    config, secret_keys = stack_config(stack)
    before = run_program(stack, config, secret_keys)
    config, secret_keys = stack_config(stack, overrides={"grafanaImage": "grafana/grafana:13.2.1"})
    after = run_program(stack, config, secret_keys)
    # The files container is of the image too, and the service's container mounts it by id.
    assert _replaced(before, after) == {"grafana-image", "grafana-files", "grafana-container"}


def test_grafana_runs_without_anonymous_access(program: ProgramRun) -> None:
    env = dict(e.split("=", 1) for e in containers(program)["grafana"].plain_inputs()["envs"])
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] in files(containers(program)["grafana"])


def test_outputs_name_every_service_url(program: ProgramRun) -> None:
    urls = {name: value for name, (value, _) in program.outputs.items() if name.endswith("Url")}
    assert set(urls) == {"prometheusUrl", "lokiUrl", "tempoUrl", "alertmanagerUrl", "grafanaUrl"}
    assert all(re.fullmatch(r"http://127\.0\.0\.1:\d+", url) for url in urls.values())


def test_the_program_registers_the_same_resources_each_run(program: ProgramRun) -> None:
    config, secret_keys = stack_config(program.stack)
    again = run_program(program.stack, config, secret_keys)
    assert sorted((r.type, r.name, repr(r.inputs)) for r in again.resources) == sorted(
        (r.type, r.name, repr(r.inputs)) for r in program.resources)
    assert CONTAINER in {r.type for r in again.resources}


def test_the_heartbeat_url_reaches_alertmanager_as_a_secret_file(program: ProgramRun) -> None:
    alertmanager = containers(program)["alertmanager"]
    uploads = {u["file"]: u for u in alertmanager.plain_inputs()["uploads"]}
    # Production sets alertHeartbeat (Pulumi.production.yaml); staging has no dead man's switch.
    assert (HEARTBEAT_URL_FILE in uploads) == (program.stack == "production")
    if HEARTBEAT_URL_FILE in uploads:
        assert uploads[HEARTBEAT_URL_FILE]["content"] == FAKE_SECRETS["alertHeartbeatUrl"]
        assert uploads[HEARTBEAT_URL_FILE]["permissions"] == "0400"


def _docker_names(run: ProgramRun) -> set[str]:
    """The names the stack takes on its Docker host: network, containers, volumes."""
    return {resource.plain_inputs()["name"] for resource in run.resources
            if resource.type in ("docker:index/network:Network", CONTAINER,
                                 "docker:index/volume:Volume")}


def test_two_stacks_on_one_host_share_no_docker_name() -> None:
    # Staging labelled production (the env label, the backend job) keeps staging's names, so
    # it can neither take production's network and containers nor destroy production's volumes.
    config, secret_keys = stack_config("production")
    production = run_program("production", config, secret_keys)
    config, secret_keys = stack_config("staging", overrides={"environment": "production",
                                                             "protectData": "true"})
    labelled = run_program("staging", config, secret_keys)
    assert _docker_names(production)
    assert _docker_names(labelled)
    assert not _docker_names(production) & _docker_names(labelled)
    assert all(name.startswith("gatewayz-staging") for name in _docker_names(labelled))
    assert scrape_jobs(labelled)[0]["static_configs"][0]["labels"]["env"] == "production"


# --- hardening -------------------------------------------------------------------------------

def test_every_container_runs_hardened_as_its_services_row_says(program: ProgramRun) -> None:
    settings = stack_settings(program.stack)
    for name, container in containers(program).items():
        facts = SERVICES[Service(name)]
        inputs = container.plain_inputs()
        assert inputs["capabilities"] == {"drops": ["ALL"]}, name
        assert inputs["securityOpts"] == ["no-new-privileges:true"], name
        assert inputs["readOnly"] is True, name
        assert inputs.get("tmpfs", {}).keys() == set(facts.scratch_dirs), name
        assert inputs["user"] == f"{facts.user_id}:{facts.group_id}", name
        assert inputs["cpus"] == provider_cpus(settings.cpu_millis[facts.service]), name
        assert float(inputs["cpus"]) * 1000 == settings.cpu_millis[facts.service], name


def test_each_services_files_are_mounted_read_only_from_a_never_started_container(
        program: ProgramRun) -> None:
    by_id = {files.id: files for files in program.files_containers()}
    for name, container in containers(program).items():
        (mounted,) = [volume["fromContainer"] for volume in container.plain_inputs()["volumes"]
                      if "fromContainer" in volume]
        assert mounted.endswith(":ro"), (name, mounted)
        holder = by_id[mounted.removesuffix(":ro")].plain_inputs()
        assert (holder["start"], holder["mustRun"], holder["networkMode"]) == (
            False, False, "none"), name
        # Every uploaded file sits in one of its volumes.
        dirs = [volume["containerPath"] for volume in holder["volumes"]]
        assert all(any(upload["file"].startswith(d + "/") for d in dirs)
                   for upload in holder["uploads"]), (name, dirs)


def test_a_config_change_replaces_the_files_and_the_container_that_mounts_them() -> None:
    stack = "production"
    config, secret_keys = stack_config(stack)
    before = run_program(stack, config, secret_keys)
    config, secret_keys = stack_config(stack, overrides={"logsRetention": "45d"})
    after = run_program(stack, config, secret_keys)
    assert _replaced(before, after) == {"loki-files", "loki-container"}


def test_grafana_has_its_own_secret_key_and_metrics_password_as_files(
        program: ProgramRun) -> None:
    grafana = containers(program)["grafana"]
    env = dict(e.split("=", 1) for e in grafana.plain_inputs()["envs"])
    uploaded = files(grafana)
    assert uploaded[env["GF_SECURITY_SECRET_KEY__FILE"]] == FAKE_SECRETS["grafanaSecretKey"]
    password = uploaded[env["GF_METRICS_BASIC_AUTH_PASSWORD__FILE"]]
    assert password == FAKE_SECRETS["grafanaMetricsPassword"]
    assert not any(key in env for key in ("GF_SECURITY_SECRET_KEY",
                                          "GF_METRICS_BASIC_AUTH_PASSWORD"))
    # Prometheus scrapes Grafana with the same credential, from its own file.
    (job,) = [job for job in scrape_jobs(program) if job["job_name"] == Service.GRAFANA.job]
    assert job["basic_auth"]["username"] == env["GF_METRICS_BASIC_AUTH_USERNAME"]
    assert files(containers(program)["prometheus"])[job["basic_auth"]["password_file"]] == \
        password


def test_unset_grafana_secrets_are_generated_once_each(stack: str) -> None:
    unset = ("grafanaAdminPassword", "grafanaSecretKey", "grafanaMetricsPassword")
    config, secret_keys = stack_config(stack, secrets={
        key: value for key, value in FAKE_SECRETS.items() if key not in unset})
    run = run_program(stack, config, secret_keys)
    generated = {r.name for r in run.of_type("random:index/randomPassword:RandomPassword")}
    assert generated == {"grafana-admin-password", "grafana-secret-key",
                         "grafana-metrics-password"}

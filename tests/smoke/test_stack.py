"""The rendered stack in real containers: what `pulumi up` would start, checked as an on-call
engineer would after a deploy. Tests run in file order: traffic, alerts, then faults."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import socket
import time
from collections.abc import Mapping
from typing import Any, Final

import httpx
import pytest
import yaml
from docker.models.containers import Container

from configs.alertmanager import HEARTBEAT
from configs.alertmanager_routing import receiver_for
from configs.dashboards.queries import plain, promql_queries, variable_values
from configs.dashboards.targets import WANTED_METRICS
from configs.mixins import runbooks
from configs.promql import metric_names
from configs.render import to_yaml
from configs.rules.helpers import PromQL
from configs.rules.watchdog import WATCHDOG
from ops import verify
from ops.verify.checks import CHECKS
from review.render import Rendered
from services import Service, internal_address
from settings import Receiver, Settings
from tests.smoke.clients import (
    Alertmanager,
    Catcher,
    Prometheus,
    remote_write_body,
)
from tests.smoke.conftest import VERSIONS, Backend, Redis, Running, resend_delay_seconds
from tests.smoke.containers import hardening_problems, logs_tail, replace
from tests.smoke.localize import (
    ERROR_RATE_ALERT,
    NOT_RUN,
    NOTIFICATIONS_FAILING_ALERT,
    REDIS_DOWN_ALERT,
    SMOKE_FOR,
    SMOKE_GROUP_INTERVAL,
    SMOKE_GROUP_WAIT,
    SMOKE_REPEAT_INTERVAL,
    ContainerPlan,
    Host,
    nanoseconds,
    receiver_url_files,
)
from tests.support.waiting import wait_until
from toolchain.dockerd import Engine
from toolchain.releases import RELEASES, GoRelease, download

# Traffic of the stand-in: a little 5xx at rest (5xx panels have data, no alert fires), a 50%
# burst, then a recovery loud enough that the 5m error ratio drops under the threshold in
# seconds; the rules' 5m and 1h windows stay as deployed.
BASELINE: Final[Mapping[str, float]] = {"rps": 50, "error_ratio": 0.01}
ERROR_BURST: Final[Mapping[str, float]] = {"rps": 50, "error_ratio": 0.5}
RECOVERY: Final[Mapping[str, float]] = {"rps": 2000, "error_ratio": 0.0}
# Bounds of the waits, each for a named condition (tests/support/waiting.py), with room for a
# loaded 2-core CI machine. Scrapes and evaluations run every second here (localize).
SCRAPED_SECONDS: Final = 30.0
# An alert firing: its 5s `for`, the rules' rate windows filling.
ALERT_WAIT_SECONDS: Final = 60.0
# Alertmanager taking, grouping (1s group_wait) and sending an alert.
DELIVERY_SECONDS: Final = 20.0
# Beyond a computed delay: a poll step, an evaluation, a scheduling hiccup.
DELIVERY_SLACK_SECONDS: Final = 10.0
# Docker's restart policy starts a crashed container again within a second or so.
RESTART_SECONDS: Final = 30.0
NOT_RUN_JOBS: Final = frozenset(service.job for service in NOT_RUN)
NOT_RUN_PREFIXES: Final = ("loki_", "tempo_", "traces_", "grafana_")


def wait_ready(http: httpx.Client, seconds: float, container: Container) -> None:
    """A replacement is waited for by its readiness API: its healthcheck first runs only one
    interval (15s) after the start, which the first start already proved."""
    wait_until(f"{http.base_url}/-/ready to answer 200", seconds,
               lambda: http.get("/-/ready").status_code, lambda status: status == 200,
               detail=lambda: logs_tail(container))


def _stack_jobs(plans: Mapping[Service, ContainerPlan]) -> dict[str, str]:
    """Each job Prometheus scrapes, by the target it names."""
    return {job["job_name"]: job["static_configs"][0]["targets"][0]
            for job in plans[Service.PROMETHEUS].config()["scrape_configs"]}


def _backend_jobs(plans: Mapping[Service, ContainerPlan], host: Host) -> list[str]:
    """The jobs localize pointed at the stand-in backend."""
    backend = f"{host.gateway}:{host.backend_port}"
    return [job for job, target in _stack_jobs(plans).items() if target == backend]


# --- the containers as Pulumi would have them ------------------------------------------------


def test_each_container_turns_healthy_within_pulumis_wait(
        running: Running, plans: dict[Service, ContainerPlan]) -> None:
    for service, health in running.health.items():
        assert health.status == "healthy"
        assert health.seconds <= plans[service].wait_timeout_seconds, service


def test_the_images_run_the_pinned_releases(prometheus: Prometheus, alertmanager: Alertmanager,
                                            running: Running) -> None:
    expected = {release.service: release.release for release in RELEASES}
    VERSIONS[Service.PROMETHEUS] = prometheus.get("/api/v1/status/buildinfo")["version"]
    status = alertmanager.http.get("/api/v2/status").json()
    VERSIONS[Service.ALERTMANAGER] = status["versionInfo"]["version"]
    if Service.REDIS_EXPORTER in running.containers:
        (info,) = wait_until("redis_exporter_build_info scraped", SCRAPED_SECONDS,
                             lambda: prometheus.query("redis_exporter_build_info"))
        VERSIONS[Service.REDIS_EXPORTER] = info["metric"]["version"].removeprefix("v")
    for service, version in VERSIONS.items():
        assert version == expected[Service(service)], service


def _dockerfile(release: GoRelease) -> dict[str, Any]:
    """USER, EXPOSE, VOLUME, WORKDIR, ENTRYPOINT and CMD of the module's own Dockerfile (its
    last stage: redis_exporter's `alpine` release stage), as the engine reports an image's."""
    text = (download(release)[0] / "Dockerfile").read_text().replace("\\\n", " ")
    stages = re.split(r"(?m)^FROM ", text)
    stage = next((s for s in stages if s.startswith("alpine")), stages[-1])
    found: dict[str, Any] = {"WorkingDir": "", "Volumes": None, "Cmd": None}
    for instruction, argument in re.findall(r"(?m)^(USER|EXPOSE|VOLUME|WORKDIR|ENTRYPOINT|CMD)"
                                            r"\s+(.*)$", stage):
        value = argument.strip()
        if instruction == "USER":
            found["User"] = value
        elif instruction == "EXPOSE":
            found["ExposedPorts"] = {f"{value}/tcp": {}}
        elif instruction == "VOLUME":
            found["Volumes"] = {path: {} for path in json.loads(value)}
        elif instruction == "WORKDIR":
            found["WorkingDir"] = value
        else:
            found[instruction.title()] = json.loads(value)
    return found


def test_each_image_follows_its_modules_dockerfile(docker_engine: Engine,
                                                   local_images: Mapping[Service, str]) -> None:
    for release in RELEASES:
        config = docker_engine.client.images.get(local_images[release.service]).attrs["Config"]
        expected = _dockerfile(release)
        assert {key: config[key] for key in expected} == expected, release.service


def test_each_healthcheck_runs_in_its_own_image(running: Running,
                                                plans: dict[Service, ContainerPlan]) -> None:
    for service, container in running.containers.items():
        kind, *command = plans[service].healthcheck["test"]
        assert kind == "CMD"
        code, output = container.exec_run(command)
        assert code == 0, f"{service}: {command} exited {code}: {output!r}"


def test_prometheus_starts_without_a_warning_on_its_flags(running: Running) -> None:
    # An unknown or deprecated --enable-feature value only logs a warning (prometheus v3.14.0
    # cmd/prometheus/main.go): the validators cannot see it, the running binary can.
    logs = running.containers[Service.PROMETHEUS].logs().decode(errors="replace")
    assert "--enable-feature" not in logs
    assert "deprecated" not in logs.lower()


def test_published_ports_listen_on_loopback_only(running: Running,
                                                 plans: dict[Service, ContainerPlan],
                                                 host: Host) -> None:
    for service, container in running.containers.items():
        bindings = container.attrs["NetworkSettings"]["Ports"] or {}
        published = [binding for entries in bindings.values() for binding in entries or []]
        assert [b["HostIp"] for b in published] == ["127.0.0.1"] * len(plans[service].ports)
        for binding in published:
            with socket.create_connection(("127.0.0.1", int(binding["HostPort"])), timeout=2):
                pass
            # The same port on the host's other address is not open.
            with pytest.raises(ConnectionRefusedError), socket.create_connection(
                    (host.gateway, int(binding["HostPort"])), timeout=2):
                pass


def test_memory_limit_and_log_rotation_are_the_rendered_ones(
        running: Running, plans: dict[Service, ContainerPlan]) -> None:
    for service, container in running.containers.items():
        plan, config = plans[service], container.attrs["HostConfig"]
        assert config["Memory"] == plan.memory_mb * 1024 * 1024, service
        # Swap equal to memory: no swap at all.
        assert config["MemorySwap"] == config["Memory"], service
        assert config["LogConfig"] == {"Type": "json-file", "Config": dict(plan.log_opts)}
        assert config["RestartPolicy"]["Name"] == "unless-stopped"


def test_each_container_runs_hardened_as_planned(
        running: Running, plans: dict[Service, ContainerPlan]) -> None:
    # Capabilities, no-new-privileges, read-only root and files, tmpfs, CPU and memory, user;
    # every other test of this module shows the service still works under them.
    problems = {service: found for service, container in running.containers.items()
                if (found := hardening_problems(container, plans[service]))}
    assert problems == {}


def test_secret_files_are_readable_by_the_service_user_alone(
        running: Running, plans: dict[Service, ContainerPlan]) -> None:
    for service, container in running.containers.items():
        for upload in plans[service].uploads:
            if upload.owner is None:
                continue
            code, out = container.exec_run(["stat", "-c", "%u %a", upload.path])
            assert isinstance(out, bytes)
            assert (code, out.decode().split()) == (0, [str(upload.owner), "400"]), upload.path
            # The image's own user (the container's default) reads it; output is not kept.
            code, _ = container.exec_run(["sh", "-c", f"cat {upload.path} > /dev/null"])
            assert code == 0, f"{service} cannot read {upload.path}"


# --- scraping --------------------------------------------------------------------------------


def test_every_target_of_a_service_run_here_is_up_by_its_network_alias(
        prometheus: Prometheus, plans: dict[Service, ContainerPlan], backend: Backend) -> None:
    backend.control(**BASELINE)
    jobs = _stack_jobs(plans)

    def targets() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = prometheus.get("/api/v1/targets")["activeTargets"]
        return found

    def all_up(found: list[dict[str, Any]]) -> bool:
        waiting = [t for t in found if t["labels"]["job"] not in NOT_RUN_JOBS
                   and t["health"] != "up"]
        return not waiting and len(found) >= len(jobs)

    active = wait_until(f"every target of {sorted(set(jobs) - NOT_RUN_JOBS)} up",
                        SCRAPED_SECONDS, targets, all_up)
    health = {t["labels"]["job"]: (t["health"], t["labels"]["instance"], t.get("lastError"))
              for t in active}
    for job, target in jobs.items():
        if job in NOT_RUN_JOBS:
            continue
        assert health[job][:2] == ("up", target), (job, health[job])
    for service in (Service.ALERTMANAGER, Service.REDIS_EXPORTER):
        if service in plans:
            assert health[service.job][1] == internal_address(service)


def test_prometheus_finds_alertmanager_by_its_alias(prometheus: Prometheus) -> None:
    wanted = [f"http://{internal_address(Service.ALERTMANAGER)}/api/v2/alerts"]
    wait_until(f"Prometheus' notifier to discover {wanted}", SCRAPED_SECONDS,
               lambda: [a["url"] for a in
                        prometheus.get("/api/v1/alertmanagers")["activeAlertmanagers"]],
               lambda urls: urls == wanted)


def test_the_backend_is_scraped_with_the_bearer_token_file(backend: Backend,
                                                           settings: Settings) -> None:
    if backend.token is None:
        pytest.skip("this stack's backend job sends no credentials")
    # The stand-in refuses a scrape without the token, so its target being up (above) means
    # Prometheus read the token from its credentials_file, as its own user.
    assert httpx.get(f"{backend.url}/metrics", timeout=5).status_code == 401


def test_rules_load_and_evaluate(prometheus: Prometheus) -> None:
    def groups() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = prometheus.get("/api/v1/rules")["groups"]
        return found

    def evaluated(found: list[dict[str, Any]]) -> bool:
        rules = [rule for group in found for rule in group["rules"]]
        return bool(rules) and all(r["health"] != "unknown" for r in rules)

    loaded = wait_until("every rule loaded and evaluated once", SCRAPED_SECONDS, groups,
                        evaluated)
    broken = [f"{rule['name']}: {rule.get('lastError')}" for group in loaded
              for rule in group["rules"] if rule["health"] == "err"]
    assert not broken
    shortened = {rule["name"]: rule["duration"] for group in loaded for rule in group["rules"]
                 if rule["name"] in (ERROR_RATE_ALERT, REDIS_DOWN_ALERT)}
    assert set(shortened.values()) == {float(SMOKE_FOR.removesuffix("s"))}


def test_remote_write_from_tempo_is_accepted(prometheus: Prometheus, settings: Settings) -> None:
    probe = {"__name__": "smoke_remote_write_probe", "env": settings.environment,
             "job": "smoke"}
    response = prometheus.http.post(
        "/api/v1/write", content=remote_write_body(probe, 1.0, int(time.time() * 1000)),
        headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                 "X-Prometheus-Remote-Write-Version": "0.1.0"})
    assert response.status_code == 204, response.text
    wait_until(f"the written {probe['__name__']} to be queryable", SCRAPED_SECONDS,
               lambda: prometheus.query(probe["__name__"]))


def test_every_backend_and_redis_series_carries_env(
        prometheus: Prometheus, plans: dict[Service, ContainerPlan], host: Host,
        settings: Settings) -> None:
    jobs = _backend_jobs(plans, host)
    if Service.REDIS_EXPORTER in plans:
        jobs.append(Service.REDIS_EXPORTER.job)
    for job in jobs:
        wait_until(f"series of job {job}", SCRAPED_SECONDS,
                   functools.partial(prometheus.query, f'count({{job="{job}"}})'))
        assert not prometheus.query(f'count({{job="{job}", env!="{settings.environment}"}})')


def test_every_dashboard_query_runs(prometheus: Prometheus, rendered: Rendered,
                                    settings: Settings, plans: dict[Service, ContainerPlan]
                                    ) -> None:
    def run_all() -> tuple[list[str], list[str]]:
        """Queries Prometheus refuses, and queries without data on metrics the stack does
        produce (a rate() needs two scrapes in its window first)."""
        failures, empty = [], []
        for model in rendered.dashboards:
            values = variable_values(model, settings.environment, settings.backend.job)
            for query in promql_queries(model):
                expr = plain(query.expr, values)
                try:
                    result = prometheus.query(expr)
                except ValueError as error:
                    failures.append(f"{query.dashboard} / {query.panel}: {error}")
                    continue
                names = metric_names(query.expr)
                explained = (names & WANTED_METRICS
                             or any(n.startswith(NOT_RUN_PREFIXES) for n in names)
                             or (Service.REDIS_EXPORTER not in plans
                             and any(n.startswith("redis_") for n in names)))
                if not result and not explained:
                    empty.append(f"{query.dashboard} / {query.panel}: {expr}")
        return failures, empty

    failures, _ = wait_until(
        "every dashboard query on a metric the stack produces to return data", SCRAPED_SECONDS,
        run_all, lambda found: bool(found[0]) or not found[1])
    assert not failures


# Placeholders a runbook query asks the on-call engineer to replace (`provider="<provider>"`).
RUNBOOK_PLACEHOLDER: Final = re.compile(r"<[a-z_]+>")


def _runbook_query_may_be_empty(expr: str, plans: Mapping[Service, ContainerPlan]) -> bool:
    """Whether a runbook query may return nothing on this healthy stack; any other must return
    data."""
    names = metric_names(expr)
    # It reads a service not run here, by its metrics or its job.
    not_run = (any(name.startswith(NOT_RUN_PREFIXES) for name in names)
               or any(f'job="{job}"' in expr for job in NOT_RUN_JOBS))
    no_redis = (Service.REDIS_EXPORTER not in plans
                and any(name.startswith("redis_") for name in names))
    return not_run or no_redis or RUNBOOK_PLACEHOLDER.search(expr) is not None


def test_every_runbook_query_runs_on_the_live_prometheus(
        prometheus: Prometheus, settings: Settings, plans: dict[Service, ContainerPlan]
        ) -> None:
    """What a runbook tells the on-call engineer to paste runs on this Prometheus, and returns
    data unless `_runbook_query_may_be_empty` allows none (docs/smoke.md)."""
    queries = sorted({(book.alert, check.expr) for book in runbooks(settings)
                      for check in book.runbook.checks if isinstance(check, PromQL)})
    assert queries

    empty: list[str] = []

    def run_all() -> list[str]:
        """Queries Prometheus refuses; those without data that should have some are kept in
        `empty` (a rate() needs two scrapes in its window first)."""
        refused = []
        empty.clear()
        for alert, expr in queries:
            try:
                result = prometheus.query(expr)
            except ValueError as error:
                refused.append(f"{alert}: {expr}\n  Prometheus: {error}")
                continue
            if not result and not _runbook_query_may_be_empty(expr, plans):
                empty.append(f"{alert}: {expr}")
        return refused

    refused = wait_until(
        f"each of the {len(queries)} runbook queries on data the stack produces to return data",
        SCRAPED_SECONDS, run_all, lambda refused: bool(refused) or not empty,
        detail=lambda: "still without data:\n" + "\n".join(empty))
    assert not refused, "runbook queries Prometheus refuses:\n" + "\n".join(refused)


def test_a_healthy_stack_is_quiet_but_for_its_watchdog(prometheus: Prometheus) -> None:
    alerts = wait_until(f"{WATCHDOG} firing in Prometheus", SCRAPED_SECONDS,
                        lambda: prometheus.get("/api/v1/alerts")["alerts"],
                        lambda found: any(a["labels"]["alertname"] == WATCHDOG for a in found))
    noisy = sorted({f"{a['labels']['alertname']} ({a['state']})" for a in alerts
                    if a["labels"].get("job") not in NOT_RUN_JOBS
                    and a["labels"]["alertname"] != WATCHDOG})
    assert not noisy
    assert [a["state"] for a in alerts if a["labels"]["alertname"] == WATCHDOG] == ["firing"]


def _deployed_evaluation_interval(rendered: Rendered, plans: Mapping[Service, ContainerPlan]
                                  ) -> tuple[str, float]:
    """Prometheus' evaluation interval as the stack deploys it (localize shortens the run's), and
    in seconds."""
    deployed: str = yaml.safe_load(rendered.files[Service.PROMETHEUS.value][
        plans[Service.PROMETHEUS].config_path])["global"]["evaluation_interval"]
    return deployed, nanoseconds(deployed) / 1e9


def test_the_first_watchdog_reaches_alertmanager_within_one_evaluation_interval(
        running: Running, plans: dict[Service, ContainerPlan], rendered: Rendered) -> None:
    # Its first send can go nowhere (the notifier has not discovered Alertmanager yet): the
    # stack as deployed sends it again one evaluation interval later, not Prometheus' default
    # resend delay of a minute.
    deployed, interval = _deployed_evaluation_interval(rendered, plans)
    assert running.watchdog_delivery_seconds <= interval + DELIVERY_SLACK_SECONDS, (
        f"{WATCHDOG} reached Alertmanager {running.watchdog_delivery_seconds:.1f}s after it "
        f"fired; the deployed evaluation interval is {deployed}, the resend delay "
        f"{resend_delay_seconds(plans[Service.PROMETHEUS]):g}s")


def test_the_watchdog_heartbeat_repeats_and_reaches_no_human_receiver(
        catcher: Catcher, alertmanager: Alertmanager, settings: Settings) -> None:
    (watchdog,) = alertmanager.alerts(WATCHDOG)
    if settings.alerting.heartbeat_interval is None:
        # Routed to the `none` receiver, which has no integration: nothing may arrive anywhere.
        assert [receiver["name"] for receiver in watchdog["receivers"]] == [str(Receiver.NONE)]
        config = yaml.safe_load(alertmanager.http.get("/api/v2/status").json()["config"][
            "original"])
        (none,) = [r for r in config["receivers"] if r["name"] == str(Receiver.NONE)]
        assert not [key for key in none if key.endswith("_configs")]
        assert not catcher.received(alertname=WATCHDOG)
        return
    # The first ping after group_wait, the second one repeat interval and at most one group
    # interval later (configs/alertmanager.py HEARTBEAT_GROUP_INTERVAL).
    seconds = sum(nanoseconds(duration) for duration in (
        SMOKE_GROUP_WAIT, SMOKE_GROUP_INTERVAL, SMOKE_REPEAT_INTERVAL)) / 1e9
    beats = wait_until(f"two {WATCHDOG} heartbeats at the catcher",
                       seconds + DELIVERY_SLACK_SECONDS,
                       lambda: catcher.received(alertname=WATCHDOG),
                       lambda found: len(found) >= 2,
                       detail=lambda: f"catcher errors: {catcher.errors or 'none'}")
    assert {n.receiver for n in beats} == {HEARTBEAT}
    assert {n.status for n in beats} == {"firing"}


def _verify(prometheus: Prometheus, alertmanager: Alertmanager, settings: Settings
            ) -> dict[str, verify.Result]:
    """`make verify`'s checks of the services the stack runs, as `run_checks` picks them, less
    those that do not run here (stand-ins), by name."""
    urls = dataclasses.replace(verify.published_urls(settings), prometheus=prometheus.url,
                               alertmanager=alertmanager.url)
    expected = verify.expected_for(settings)
    with verify.open_context(urls, expected) as context:
        results = [result for service, checks in CHECKS.items()
                   if service in expected.services and service not in NOT_RUN
                   for result in checks(context)]
    return {result.name: result for result in results}


# Fail on a healthy stack here: their services do not run (a down target), or Tempo sends
# no span metrics.
VERIFY_NOT_RUN: Final = frozenset({*(f"prometheus target {job}" for job in NOT_RUN_JOBS),
                                   "prometheus remote write from tempo"})


def test_make_verify_passes_on_the_running_stack(prometheus: Prometheus,
                                                 alertmanager: Alertmanager,
                                                 settings: Settings, redis: Redis | None) -> None:
    results = _verify(prometheus, alertmanager, settings)
    failed = {name: r.value for name, r in results.items()
              if not r.ok and name not in VERIFY_NOT_RUN}
    assert not failed
    # A down target fails the check that should catch it, naming the address it tried.
    for job in NOT_RUN_JOBS:
        assert not results[f"prometheus target {job}"].ok
    assert ("redis_exporter redis_up" in results) == (redis is not None)
    assert ("alertmanager watchdog" in results) == (
        settings.alerting.heartbeat_interval is not None)


# --- alerting --------------------------------------------------------------------------------


def _receiver(plans: dict[Service, ContainerPlan], labels: Mapping[str, str]) -> tuple[str, bool]:
    config = plans[Service.ALERTMANAGER].config()
    receiver = receiver_for(config["route"], labels)
    notifies = any(key.endswith("_configs")
                   for key in next(r for r in config["receivers"] if r["name"] == receiver))
    return receiver, notifies


def follow_alert(prometheus: Prometheus, alertmanager: Alertmanager, catcher: Catcher,
                 plans: dict[Service, ContainerPlan], settings: Settings, name: str,
                 severity: str) -> None:
    """An alert fires in Prometheus, reaches Alertmanager, and is notified to the receiver its
    severity routes to, with its env."""
    env = settings.environment
    firing = wait_until(f"{name} firing with severity={severity} in Prometheus",
                        ALERT_WAIT_SECONDS,
                        lambda: [a for a in prometheus.alerts(name) if a["state"] == "firing"
                                 and a["labels"]["severity"] == severity])
    assert firing[0]["labels"]["env"] == env
    wait_until(f"{name} with severity={severity} at Alertmanager", DELIVERY_SECONDS,
               lambda: [a for a in alertmanager.alerts(name)
                        if a["labels"].get("severity") == severity])
    receiver, notifies = _receiver(plans, {"alertname": name, "severity": severity, "env": env})
    if not notifies:
        pytest.skip(f"severity {severity} routes to `{receiver}`, which notifies nobody")
    sent = wait_until(f"{name} ({severity}) notified to the catcher", DELIVERY_SECONDS,
                      lambda: catcher.received(alertname=name, severity=severity,
                                               status="firing"),
                      detail=lambda: f"catcher errors: {catcher.errors or 'none'}")
    assert {(n.receiver, n.env) for n in sent} == {(receiver, env)}


def test_the_error_rate_alert_fires_notifies_inhibits_its_warning_and_resolves(
        prometheus: Prometheus, alertmanager: Alertmanager, catcher: Catcher,
        backend: Backend, plans: dict[Service, ContainerPlan], settings: Settings) -> None:
    backend.control(**ERROR_BURST)
    follow_alert(prometheus, alertmanager, catcher, plans, settings, ERROR_RATE_ALERT,
                 "critical")
    # The warning of the same name fires too; the inhibit rule keeps it quiet. Alertmanager's
    # inhibitor learns of the critical apart from the API (alertmanager@v0.34.0
    # inhibit/inhibit.go `Run`), so its state is read once it has settled.
    wait_until(f"{ERROR_RATE_ALERT} (warning) at Alertmanager, suppressed", DELIVERY_SECONDS,
               lambda: [a["status"]["state"] for a in alertmanager.alerts(ERROR_RATE_ALERT)
                        if a["labels"].get("severity") == "warning"],
               lambda states: bool(states) and set(states) == {"suppressed"})
    assert not catcher.received(alertname=ERROR_RATE_ALERT, severity="warning")
    backend.control(**RECOVERY)
    wait_until(f"{ERROR_RATE_ALERT} (critical) notified resolved", ALERT_WAIT_SECONDS,
               lambda: catcher.received(alertname=ERROR_RATE_ALERT, severity="critical",
                                        status="resolved"))
    backend.control(**BASELINE)


# --- Redis -----------------------------------------------------------------------------------


def test_redis_exporter_authenticates_with_its_password_file(
        prometheus: Prometheus, redis: Redis | None, host: Host) -> None:
    if redis is None:
        pytest.skip("this stack watches no Redis (no exporter, no job, no Redis rules)")
    wait_until("redis_up 1 from the exporter", SCRAPED_SECONDS,
               lambda: [s["value"][1] for s in prometheus.query(
                   f'redis_up{{job="{Service.REDIS_EXPORTER.job}"}}')],
               lambda up: up == ["1"])
    if redis.password is not None:
        # Redis refuses a client without the password (or the ACL user), so redis_up 1 means
        # the exporter found it in its REDIS_PASSWORD_FILE, read as its own user.
        assert redis.ping(host.gateway).startswith(b"-NOAUTH")
    if redis.user is not None:
        # No client reported: the exporter is not logged in.
        wait_until("redis_connected_clients from the logged-in exporter", SCRAPED_SECONDS,
                   lambda: prometheus.query(
                       f'redis_connected_clients{{job="{Service.REDIS_EXPORTER.job}"}}'))


def test_a_stopped_redis_fires_redis_down(
        prometheus: Prometheus, alertmanager: Alertmanager, catcher: Catcher,
        redis: Redis | None, plans: dict[Service, ContainerPlan], settings: Settings) -> None:
    if redis is None:
        pytest.skip("this stack watches no Redis")
    redis.stop()
    follow_alert(prometheus, alertmanager, catcher, plans, settings, REDIS_DOWN_ALERT,
                 "critical")
    stopped = _verify(prometheus, alertmanager, settings)["redis_exporter redis_up"]
    assert not stopped.ok, stopped.value


# --- faults ----------------------------------------------------------------------------------


def test_a_crashed_prometheus_comes_back_by_its_restart_policy(
        running: Running, prometheus: Prometheus, plans: dict[Service, ContainerPlan]) -> None:
    container = running.containers[Service.PROMETHEUS]
    container.reload()
    restarts = container.attrs["RestartCount"]
    # A crash, not `docker kill` (which the engine counts as a manual stop, so no restart).
    # SIGABRT from inside, as the process' own user: the Go runtime dies on it with a stack dump
    # (exit 2), and unlike a SIGKILL from the host it needs no root (CI runners have none).
    code, output = container.exec_run(["kill", "-ABRT", "1"])
    assert code == 0, output
    killed = time.time()

    def restart_count() -> int:
        container.reload()
        count: int = container.attrs["RestartCount"]
        return count

    wait_until("the engine to restart the crashed Prometheus", RESTART_SECONDS, restart_count,
               lambda count: count > restarts, detail=lambda: logs_tail(container))
    # The newest sample of its own `up` is from a scrape after the kill.
    wait_until("Prometheus to scrape itself again after its restart",
               plans[Service.PROMETHEUS].wait_timeout_seconds,
               lambda: [s for s in prometheus.query('timestamp(up{job="prometheus"} == 1)')
                        if float(s["value"][1]) > killed],
               detail=lambda: logs_tail(container))


def test_a_replaced_prometheus_keeps_its_data(
        docker_engine: Any, running: Running, plans: dict[Service, ContainerPlan],
        prometheus: Prometheus) -> None:
    written = time.time()
    before = prometheus.query('count(up{job="prometheus"})', at=written)
    assert before
    plan = plans[Service.PROMETHEUS]
    # The change: one more rule, which fails at every evaluation (`on()` matches every `up`
    # with every other: Prometheus refuses the many-to-many match).
    rules = plan.config()["rule_files"][0]
    document = yaml.safe_load(plan.file(rules))
    document["groups"].append({"name": "smoke_broken", "rules": [
        {"record": "smoke:broken", "expr": "up * on() up"}]})
    changed = plan.with_file(rules, to_yaml(document))
    new = replace(docker_engine.client, running.containers[Service.PROMETHEUS], changed)
    running.containers[Service.PROMETHEUS] = new
    wait_ready(prometheus.http, changed.wait_timeout_seconds, new)
    # Empty when the series written before the replacement are gone.
    wait_until("the series written before the replacement, queried again", SCRAPED_SECONDS,
               lambda: prometheus.query('count(up{job="prometheus"})', at=written),
               lambda after: after == before)


def test_make_verify_names_a_rule_that_fails_to_evaluate(
        prometheus: Prometheus, alertmanager: Alertmanager, settings: Settings) -> None:
    result = wait_until("make verify's `prometheus rules` check to fail", SCRAPED_SECONDS,
                        lambda: _verify(prometheus, alertmanager, settings)["prometheus rules"],
                        lambda result: not result.ok)
    assert "smoke:broken" in result.value


def _notification_errors(prometheus: Prometheus) -> float:
    """Alerts Prometheus failed to send (and dropped), from its own /metrics."""
    text = prometheus.http.get("/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("prometheus_notifications_errors_total"))


def test_a_restarted_alertmanager_holds_the_firing_alerts_again_within_one_interval(
        running: Running, plans: dict[Service, ContainerPlan], rendered: Rendered,
        prometheus: Prometheus, alertmanager: Alertmanager) -> None:
    """Alertmanager keeps alerts in memory only: after a restart (a host reboot, an image
    bump) it knows what fires only once Prometheus sends it again. A send while it is down is
    dropped, so the resend delay decides how long it is blind: one evaluation interval of the
    stack as deployed, not Prometheus' default minute."""
    plan, container = plans[Service.ALERTMANAGER], running.containers[Service.ALERTMANAGER]
    deployed, interval = _deployed_evaluation_interval(rendered, plans)
    resend = resend_delay_seconds(plans[Service.PROMETHEUS])
    errors = _notification_errors(prometheus)
    container.stop(timeout=plan.stop_grace_seconds)
    wait_until("Prometheus to fail a send to the stopped Alertmanager",
               2 * resend + DELIVERY_SLACK_SECONDS, lambda: _notification_errors(prometheus),
               lambda count: count > errors)
    lost = time.monotonic()
    container.start()
    wait_ready(alertmanager.http, plan.wait_timeout_seconds, container)
    wait_until(f"{WATCHDOG} at the restarted Alertmanager", 2 * resend + DELIVERY_SLACK_SECONDS,
               lambda: alertmanager.alerts(WATCHDOG))
    blind = time.monotonic() - lost
    assert blind <= interval + DELIVERY_SLACK_SECONDS, (
        f"Alertmanager held no {WATCHDOG} for {blind:.1f}s after Prometheus' send was lost; "
        f"the deployed evaluation interval is {deployed}, the resend delay {resend:g}s")


def test_an_alertmanager_silence_survives_its_replacement(
        docker_engine: Any, running: Running, plans: dict[Service, ContainerPlan],
        alertmanager: Alertmanager) -> None:
    now = time.time()
    silence = {"matchers": [{"name": "alertname", "value": "SmokeSilence", "isRegex": False,
                             "isEqual": True}],
               "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
               "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
               "createdBy": "smoke", "comment": "survives a replacement"}
    created = alertmanager.http.post("/api/v2/silences", json=silence)
    assert created.status_code == 200, created.text
    silence_id = created.json()["silenceID"]
    plan = plans[Service.ALERTMANAGER]
    new = replace(docker_engine.client, running.containers[Service.ALERTMANAGER], plan)
    running.containers[Service.ALERTMANAGER] = new
    wait_ready(alertmanager.http, plan.wait_timeout_seconds, new)
    found = wait_until(f"silence {silence_id} read back from the new Alertmanager",
                       DELIVERY_SECONDS,
                       lambda: alertmanager.http.get(f"/api/v2/silence/{silence_id}").json())
    assert found["status"]["state"] == "active"



def test_a_receiver_that_refuses_fires_the_notification_failure_alert(
        docker_engine: Any, running: Running, plans: dict[Service, ContainerPlan],
        alertmanager: Alertmanager, prometheus: Prometheus, host: Host, catcher: Catcher,
        settings: Settings) -> None:
    plan = plans[Service.ALERTMANAGER]
    receiver, _ = _receiver(plans, {"alertname": "SmokeWarning", "severity": "warning",
                                    "env": settings.environment})
    refusing = plan
    for path in receiver_url_files(plan)[receiver]:
        refusing = refusing.with_file(path, f"{host.url(host.catcher_port)}/refuse/{receiver}")
    new = replace(docker_engine.client, running.containers[Service.ALERTMANAGER], refusing)
    running.containers[Service.ALERTMANAGER] = new
    wait_ready(alertmanager.http, plan.wait_timeout_seconds, new)
    posted = alertmanager.http.post("/api/v2/alerts", json=[{"labels": {
        "alertname": "SmokeWarning", "severity": "warning", "env": settings.environment}}])
    assert posted.status_code == 200, posted.text
    wait_until(f"{NOTIFICATIONS_FAILING_ALERT} firing for the refusing {receiver}",
               ALERT_WAIT_SECONDS,
               lambda: [a for a in prometheus.alerts(NOTIFICATIONS_FAILING_ALERT)
                        if a["state"] == "firing"],
               detail=lambda: f"catcher errors: {catcher.errors or 'none'}")

"""The smoke test's pieces, without Docker: `localize` changes each rendered container only where
its docstring says, and the notification, query, remote-write and routing helpers the smoke test
judges by do what it relies on."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import cramjam
import pytest
import yaml

from configs.alertmanager_routing import receiver_for
from configs.promql import metric_names
from review.mock_runtime import stack_settings
from review.render import Rendered, load, render
from services import Service
from tests.smoke.clients import Notification, parse_notification, remote_write_body
from tests.smoke.localize import (
    ERROR_RATE_ALERT,
    NOT_RUN,
    NOTIFICATIONS_FAILING_ALERT,
    REDIS_DOWN_ALERT,
    RUN,
    SMOKE_ALERTS,
    SMOKE_FOR,
    SMOKE_GROUP_INTERVAL,
    SMOKE_GROUP_WAIT,
    SMOKE_INTERVAL,
    SMOKE_OVERRIDES,
    SMOKE_REPEAT_INTERVAL,
    ContainerPlan,
    Host,
    localize,
    nanoseconds,
    standin_plans,
)

STACKS: Final = ("staging", "production")
GATEWAY: Final = "10.213.7.1"
BACKEND_PORT: Final = 41001
REDIS_PORT: Final = 41002
CATCHER_PORT: Final = 41003
IMAGES: Final = {service: f"local.test/{service.value}:smoke" for service in Service}
PROMETHEUS_CONFIG: Final = "/etc/prometheus/prometheus.yml"
ALERTMANAGER_CONFIG: Final = "/etc/alertmanager/alertmanager.yml"
# Every input the program gives a container, each carried into the plan by the test below; a new
# one fails here until the smoke test creates it too.
CONTAINER_INPUTS: Final = frozenset({
    "capabilities", "command", "cpus", "destroyGraceSeconds", "env", "filesContainer",
    "healthcheck", "image", "logDriver", "logOpts", "memory", "memorySwap", "name",
    "networksAdvanced", "ports", "readOnly", "restart", "securityOpts", "tmpfs", "uploads",
    "user", "volumes", "wait", "waitTimeout"})
PLAN_FIELDS: Final = frozenset({
    "service", "name", "image", "command", "env", "uploads", "healthcheck", "memory_mb",
    "memory_swap_mb", "log_driver", "log_opts", "restart", "network", "aliases", "ports",
    "volumes", "wait_timeout_seconds", "stop_grace_seconds", "user", "cap_drop", "cap_add",
    "security_opt", "read_only", "tmpfs", "nano_cpus", "files_name", "files_dirs"})
_GO_UNITS: Final = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours"}


def _published_port(service: Service, port: int) -> int:
    """A made-up free port, distinct per service and container port."""
    return 42000 + 100 * list(Service).index(service) + port % 100


@dataclass(frozen=True)
class Case:
    stack: str
    rendered: Rendered
    host: Host
    plans: dict[Service, ContainerPlan]
    # The jobs that scrape outside the stack (the backend, then extraTargets), from the settings.
    external_jobs: tuple[str, ...]

    def external(self, job: Mapping[str, Any]) -> bool:
        return job["job_name"] in self.external_jobs


def _case(stack: str, tmp_path_factory: pytest.TempPathFactory) -> Case:
    out = tmp_path_factory.mktemp(f"rendered-{stack}")
    render(stack, out, SMOKE_OVERRIDES.get(stack))
    rendered = load(out)
    published = {(Service(name), int(port["internal"])):
                 _published_port(Service(name), int(port["internal"]))
                 for name, spec in rendered.containers.items() for port in spec.get("ports", [])}
    host = Host(images=IMAGES, published=published, gateway=GATEWAY, backend_port=BACKEND_PORT,
                redis_port=REDIS_PORT, catcher_port=CATCHER_PORT)
    settings = stack_settings(stack, SMOKE_OVERRIDES.get(stack))
    return Case(stack, rendered, host, localize(rendered, host),
                tuple(target.job for target in settings.external_targets))


@pytest.fixture(scope="module", params=STACKS)
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Case:
    return _case(str(request.param), tmp_path_factory)


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """Production alone: the stack that watches a Redis."""
    return _case("production", tmp_path_factory)


def _flag(command: list[str], name: str) -> str:
    (value,) = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"{name}=")]
    return value


def _yaml(text: str) -> Any:
    return yaml.safe_load(text)


def _go_nanoseconds(duration: str) -> int:
    """A Go duration in nanoseconds, by timedelta (independent of the code under test)."""
    assert re.fullmatch(r"(\d+[a-z]+)+", duration), duration
    total = sum((timedelta(**{_GO_UNITS[unit]: int(number)})
                 for number, unit in re.findall(r"(\d+)([a-z]+)", duration)), timedelta())
    return int(total / timedelta(microseconds=1)) * 1000


def _url_files(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each receiver's URL files in a rendered Alertmanager config, by receiver name."""
    return {receiver["name"]: [entry[key] for value in receiver.values()
                               if isinstance(value, list) for entry in value
                               for key in ("url_file", "api_url_file") if key in entry]
            for receiver in config["receivers"]}


def _rewritten_files(rendered: Rendered, service: Service) -> set[str]:
    """The files `localize` documents as changed, read off the rendered stack."""
    spec = rendered.containers[service.value]
    if service is Service.PROMETHEUS:
        path = _flag(spec["command"], "--config.file")
        return {path, *_yaml(rendered.files[service.value][path]).get("rule_files", [])}
    if service is Service.ALERTMANAGER:
        path = _flag(spec["command"], "--config.file")
        config = _yaml(rendered.files[service.value][path])
        return {path, *(file for files in _url_files(config).values() for file in files)}
    return {spec["env"]["REDIS_PASSWORD_FILE"]}


# --- the containers --------------------------------------------------------------------------


def test_the_services_that_run_here_are_planned(case: Case) -> None:
    expected = {service for service in RUN if service.value in case.rendered.containers}
    assert set(case.plans) == expected
    assert {Service.PROMETHEUS, Service.ALERTMANAGER} <= expected
    assert (Service.REDIS_EXPORTER in expected) == (case.stack == "production")


def test_every_container_input_and_plan_field_is_checked(case: Case) -> None:
    for service in case.plans:
        assert set(case.rendered.containers[service.value]) <= CONTAINER_INPUTS, service
        assert case.rendered.containers[service.value]["wait"] is True
    assert {field.name for field in dataclasses.fields(ContainerPlan)} == PLAN_FIELDS


def test_each_container_is_the_rendered_one_but_image_names_and_host_ports(case: Case) -> None:
    for service, plan in case.plans.items():
        spec = case.rendered.containers[service.value]
        (network,) = spec["networksAdvanced"]
        assert plan.service is service
        # What differs, exactly as documented.
        assert plan.image == IMAGES[service] != spec["image"]
        assert plan.name == "smoke-" + spec["name"]
        assert plan.network == "smoke-" + network["name"]
        assert plan.volumes == {"smoke-" + volume["volumeName"]: volume["containerPath"]
                                for volume in spec.get("volumes", []) if "volumeName" in volume}
        holder = spec["filesContainer"]
        assert plan.files_name == "smoke-" + holder["name"]
        assert plan.files_dirs == tuple(v["containerPath"] for v in holder["volumes"])
        assert plan.ports == {
            int(port["internal"]): (port["ip"], _published_port(service, int(port["internal"])))
            for port in spec.get("ports", [])}
        # What does not.
        assert plan.command == tuple(spec.get("command", []))
        assert {k: v for k, v in plan.env.items() if k != "REDIS_ADDR"} == \
            {k: v for k, v in spec["env"].items() if k != "REDIS_ADDR"}
        assert plan.aliases == tuple(network["aliases"])
        assert plan.memory_mb == spec["memory"]
        assert plan.memory_swap_mb == spec["memorySwap"]
        assert plan.log_driver == spec["logDriver"]
        assert plan.log_opts == spec["logOpts"]
        assert plan.restart == spec["restart"]
        assert plan.wait_timeout_seconds == spec["waitTimeout"]
        assert plan.stop_grace_seconds == spec["destroyGraceSeconds"]
        assert plan.user == spec["user"]
        assert plan.cap_drop == tuple(spec["capabilities"]["drops"]) == ("ALL",)
        assert plan.cap_add == tuple(spec["capabilities"].get("adds", ()))
        assert plan.security_opt == tuple(spec["securityOpts"])
        assert plan.read_only is spec["readOnly"] is True
        assert plan.tmpfs == spec.get("tmpfs", {})
        assert plan.nano_cpus == round(float(spec["cpus"]) * 1e9)


def test_standins_are_the_rendered_containers_but_image_names_and_host_ports(case: Case) -> None:
    plans = standin_plans(case.rendered, IMAGES, case.host.published)
    assert set(plans) == set(NOT_RUN)
    for service, plan in plans.items():
        spec = case.rendered.containers[service.value]
        health = spec["healthcheck"]
        files = case.rendered.files.get(service.value, {})
        assert plan.image == IMAGES[service]
        assert plan.name == "smoke-" + spec["name"]
        assert plan.ports == {
            int(port["internal"]): (port["ip"], _published_port(service, int(port["internal"])))
            for port in spec.get("ports", [])}
        assert plan.command == tuple(spec.get("command", []))
        assert plan.env == spec.get("env", {})
        assert plan.healthcheck["test"] == health["tests"]
        assert [(u.path, u.content, u.owner, u.mode) for u in plan.uploads] == [
            (u["file"], files[u["file"]], int(u["owner"]) if "owner" in u else None,
             int(u["permissions"], 8)) for u in spec.get("uploads", [])]


def test_published_ports_keep_the_rendered_host_ip(case: Case) -> None:
    prometheus = case.plans[Service.PROMETHEUS]
    assert prometheus.ports == {9090: ("127.0.0.1", _published_port(Service.PROMETHEUS, 9090))}
    assert case.plans[Service.ALERTMANAGER].ports[9093][0] == "127.0.0.1"


def test_healthchecks_are_the_rendered_ones_in_nanoseconds(case: Case) -> None:
    for service, plan in case.plans.items():
        health = case.rendered.containers[service.value]["healthcheck"]
        assert plan.healthcheck == {
            "test": health["tests"],
            "interval": _go_nanoseconds(health["interval"]),
            "timeout": _go_nanoseconds(health["timeout"]),
            "retries": health["retries"],
            "start_period": _go_nanoseconds(health["startPeriod"])}
    # The stack's usual probe: every 15s, 5s timeout, 30s grace.
    prometheus = case.plans[Service.PROMETHEUS].healthcheck
    assert (prometheus["interval"], prometheus["timeout"], prometheus["start_period"]) == \
        (15_000_000_000, 5_000_000_000, 30_000_000_000)
    assert prometheus["test"][0] == "CMD"


def test_uploads_keep_path_owner_mode_and_content_but_the_documented_files(case: Case) -> None:
    for service, plan in case.plans.items():
        spec = case.rendered.containers[service.value]
        files = case.rendered.files[service.value]
        assert [(u.path, u.owner, u.mode) for u in plan.uploads] == [
            (u["file"], int(u["owner"]) if "owner" in u else None, int(u["permissions"], 8))
            for u in spec["uploads"]]
        rewritten = _rewritten_files(case.rendered, service)
        assert rewritten <= {u.path for u in plan.uploads}
        for upload in plan.uploads:
            if upload.path not in rewritten:
                assert upload.content == files[upload.path], upload.path
    # Secrets stay readable by the service user alone.
    secrets = [u for u in case.plans[Service.ALERTMANAGER].uploads if "/secrets/" in u.path]
    assert secrets
    assert {(u.owner, u.mode) for u in secrets} == {(65534, 0o400)}


# --- Prometheus ------------------------------------------------------------------------------


def _without_timing_and_backend(config: Mapping[str, Any], case: Case) -> dict[str, Any]:
    stripped = copy.deepcopy(dict(config))
    for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        stripped.get("global", {}).pop(key, None)
    for job in stripped["scrape_configs"]:
        job.pop("scrape_interval", None)
        job.pop("scrape_timeout", None)
        if case.external(job):
            job.pop("scheme", None)
            for static in job["static_configs"]:
                static.pop("targets")
    return stripped


def test_prometheus_changes_only_intervals_and_backend_targets(case: Case) -> None:
    before = _yaml(case.rendered.files["prometheus"][PROMETHEUS_CONFIG])
    after = _yaml(case.plans[Service.PROMETHEUS].file(PROMETHEUS_CONFIG))
    assert _without_timing_and_backend(after, case) == _without_timing_and_backend(before, case)
    # Timing keys are shortened where set, and none is added.
    assert set(after["global"]) == set(before["global"])
    for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        assert after["global"][key] == SMOKE_INTERVAL
    for old, new in zip(before["scrape_configs"], after["scrape_configs"], strict=True):
        assert set(new) == set(old), old["job_name"]
        for key in ("scrape_interval", "scrape_timeout"):
            if key in old:
                assert new[key] == SMOKE_INTERVAL


def test_prometheus_scrapes_the_backend_stand_in_over_http(case: Case) -> None:
    before = _yaml(case.rendered.files["prometheus"][PROMETHEUS_CONFIG])
    after = _yaml(case.plans[Service.PROMETHEUS].file(PROMETHEUS_CONFIG))
    backend = [job for job in after["scrape_configs"] if case.external(job)]
    assert [job["job_name"] for job in backend] == list(case.external_jobs)
    for job in backend:
        assert job["scheme"] == "http"
        assert [t for s in job["static_configs"] for t in s["targets"]] == \
            [f"{GATEWAY}:{BACKEND_PORT}"]
    # Targets inside the stack stay as rendered: aliases on the network, Prometheus itself.
    inside = {t for job in before["scrape_configs"] if not case.external(job)
              for s in job["static_configs"] for t in s["targets"]}
    assert {"localhost:9090", "alertmanager:9093"} <= inside
    assert inside == {t for job in after["scrape_configs"] if not case.external(job)
                      for s in job["static_configs"] for t in s["targets"]}
    assert after["alerting"] == before["alerting"]


def _rules(text: str) -> Iterator[dict[str, Any]]:
    for group in _yaml(text).get("groups", []):
        yield from group["rules"]


def test_rules_change_only_the_for_of_the_smoke_alerts(case: Case) -> None:
    files = case.rendered.files["prometheus"]
    rule_files = _yaml(files[PROMETHEUS_CONFIG])["rule_files"]
    assert rule_files
    shortened = set()
    for path in rule_files:
        before = list(_rules(files[path]))
        after = list(_rules(case.plans[Service.PROMETHEUS].file(path)))
        assert len(after) == len(before), path
        for old, new in zip(before, after, strict=True):
            if old.get("alert") in SMOKE_ALERTS:
                assert new["for"] == SMOKE_FOR != old["for"]
                assert {**new, "for": old["for"]} == old
                shortened.add(old["alert"])
            else:
                assert new == old, old
    expected = {ERROR_RATE_ALERT, NOTIFICATIONS_FAILING_ALERT}
    assert shortened == (expected | {REDIS_DOWN_ALERT} if case.stack == "production"
                         else expected)


# --- Alertmanager ----------------------------------------------------------------------------


def _without_timing(route: Mapping[str, Any]) -> dict[str, Any]:
    stripped = {k: v for k, v in route.items()
                if k not in {"group_wait", "group_interval", "repeat_interval"}}
    if "routes" in stripped:
        stripped["routes"] = [_without_timing(child) for child in stripped["routes"]]
    return stripped


def _timing(route: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in route:
            yield key, route[key]
    for child in route.get("routes", []):
        yield from _timing(child)


def test_alertmanager_changes_only_timing(case: Case) -> None:
    before = _yaml(case.rendered.files["alertmanager"][ALERTMANAGER_CONFIG])
    after = _yaml(case.plans[Service.ALERTMANAGER].file(ALERTMANAGER_CONFIG))
    assert {**after, "route": _without_timing(after["route"])} == \
        {**before, "route": _without_timing(before["route"])}
    smoke = {"group_wait": SMOKE_GROUP_WAIT, "group_interval": SMOKE_GROUP_INTERVAL,
             "repeat_interval": SMOKE_REPEAT_INTERVAL}
    old, new = list(_timing(before["route"])), list(_timing(after["route"]))
    assert [key for key, _ in new] == [key for key, _ in old]
    assert {"group_wait", "group_interval", "repeat_interval"} <= {key for key, _ in old}
    assert all(value == smoke[key] for key, value in new)


def test_each_receiver_url_file_points_at_the_catcher(case: Case) -> None:
    plan = case.plans[Service.ALERTMANAGER]
    config = _yaml(case.rendered.files["alertmanager"][ALERTMANAGER_CONFIG])
    url_files = _url_files(config)
    expected = {"slack"} | ({"webhook", "heartbeat"} if case.stack == "production" else set())
    assert {name for name, files in url_files.items() if files} == expected
    for receiver, paths in url_files.items():
        for path in paths:
            assert plan.file(path) == f"http://{GATEWAY}:{CATCHER_PORT}/{receiver}"
            assert case.rendered.files["alertmanager"][path].startswith("https://")


# --- redis_exporter --------------------------------------------------------------------------


def test_redis_exporter_logs_in_at_the_gateway_as_the_stack_user(production: Case) -> None:
    case = production
    plan = case.plans[Service.REDIS_EXPORTER]
    env = case.rendered.containers["redis-exporter"]["env"]
    assert env["REDIS_USER"] == "smoke-exporter"
    assert env["REDIS_ADDR"].startswith("redis://")
    assert plan.env["REDIS_ADDR"] == f"redis://{GATEWAY}:{REDIS_PORT}"
    path = env["REDIS_PASSWORD_FILE"]
    (rendered_key, password), = json.loads(case.rendered.files["redis-exporter"][path]).items()
    assert rendered_key.startswith("redis://smoke-exporter@")
    assert json.loads(plan.file(path)) == {
        f"redis://smoke-exporter@{GATEWAY}:{REDIS_PORT}": password}


def test_a_tls_redis_address_moves_to_plain_redis_with_its_user(production: Case) -> None:
    case = production
    spec = copy.deepcopy(dict(case.rendered.containers["redis-exporter"]))
    spec["env"]["REDIS_ADDR"] = "rediss://ops@redis.example.invalid:6380"
    path = spec["env"]["REDIS_PASSWORD_FILE"]
    passwords = {"rediss://ops@redis.example.invalid:6380": "pw"}
    files = {**case.rendered.files, "redis-exporter": {path: json.dumps(passwords)}}
    rendered = Rendered(files=files, containers={**case.rendered.containers,
                                                 "redis-exporter": spec},
                        dashboards=case.rendered.dashboards)
    plan = localize(rendered, case.host)[Service.REDIS_EXPORTER]
    assert plan.env["REDIS_ADDR"] == f"redis://ops@{GATEWAY}:{REDIS_PORT}"
    assert json.loads(plan.file(path)) == {f"redis://ops@{GATEWAY}:{REDIS_PORT}": "pw"}


# --- the helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(("duration", "expected"), [
    ("15s", 15_000_000_000), ("5m", 300_000_000_000), ("250ms", 250_000_000),
    ("1h", 3_600_000_000_000), ("0s", 0), ("1m0s", 60_000_000_000),
    ("1m30s", 90_000_000_000)])
def test_nanoseconds_converts_go_durations(duration: str, expected: int) -> None:
    assert nanoseconds(duration) == expected


@pytest.mark.parametrize("duration", ["15", "1.5s", "", "15 s", "-1s", "1us", "2d"])
def test_nanoseconds_rejects_what_it_cannot_convert(duration: str) -> None:
    with pytest.raises(ValueError, match="Go duration"):
        nanoseconds(duration)


def test_webhook_and_slack_payloads_parse_alike() -> None:
    labels = {"alertname": "RedisDown", "severity": "critical", "env": "production"}
    webhook = {"status": "firing", "receiver": "webhook",
               "alerts": [{"status": "firing", "labels": labels},
                          {"status": "resolved", "labels": {**labels, "env": "staging"}}]}
    slack = {"channel": "#gatewayz-alerts", "attachments": [
        {"title": "[FIRING:1] CRITICAL RedisDown (production)", "text": "*Redis unreachable*"},
        {"title": "[RESOLVED] CRITICAL RedisDown (staging)", "text": ""}]}
    expected = [("firing", "RedisDown", "critical", "production"),
                ("resolved", "RedisDown", "critical", "staging")]

    def fields(found: list[Notification]) -> list[tuple[str, str, str, str]]:
        return [(n.status, n.alertname, n.severity, n.env) for n in found]

    assert fields(parse_notification("webhook", webhook)) == expected
    assert fields(parse_notification("slack", slack)) == expected
    assert {n.receiver for n in parse_notification("slack", slack)} == {"slack"}


@pytest.mark.parametrize("payload", [
    {}, {"text": "hello"}, {"attachments": []},
    {"attachments": [{"title": "RedisDown is firing"}]},
    {"attachments": [{"title": "[FIRING:1] CRITICAL RedisDown"}]}])
def test_parse_notification_rejects_other_payloads(payload: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"Slack title not understood|neither a webhook nor"):
        parse_notification("slack", payload)


def test_metric_names_skip_functions_labels_and_strings() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, provider) (rate('
            'provider_response_time_seconds_bucket{env="staging", job=~"not_a_metric|b"}[5m])))'
            ' / on (env) group_left (instance) up offset 5m'
            ' or label_replace(vector(0), "dst", "also_not_a_metric", "src", "(.*)")'
            ' and bool redis_up')
    assert metric_names(expr) == {"provider_response_time_seconds", "up", "redis_up"}


def _protobuf(data: bytes) -> list[tuple[int, bytes | int]]:
    """(field, value) pairs of one protobuf message: bytes for length-delimited and 64-bit
    fields, int for varints."""
    fields: list[tuple[int, bytes | int]] = []
    index = 0

    def varint() -> int:
        nonlocal index
        number, shift = 0, 0
        while True:
            byte = data[index]
            index += 1
            number |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return number

    while index < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            fields.append((field, varint()))
        elif wire == 1:
            fields.append((field, data[index:index + 8]))
            index += 8
        elif wire == 2:
            length = varint()
            fields.append((field, data[index:index + length]))
            index += length
        else:
            raise AssertionError(f"wire type {wire}")
    return fields


def _message(value: bytes | int) -> bytes:
    assert isinstance(value, bytes)
    return value


def test_remote_write_body_decodes_to_the_sample() -> None:
    labels = {"service_name": "gatewayz-api", "__name__": "traces_spanmetrics_calls_total",
              "env": "staging"}
    body = remote_write_body(labels, 42.5, 1_700_000_000_123)
    ((field, series),) = _protobuf(bytes(cramjam.snappy.decompress_raw(body)))
    assert field == 1
    parts = _protobuf(_message(series))
    decoded_labels = []
    for number, label in parts:
        if number == 1:
            name, value = (_message(v).decode() for _, v in _protobuf(_message(label)))
            decoded_labels.append((name, value))
    # Prometheus refuses a series whose labels are not sorted by name.
    assert decoded_labels == sorted(labels.items())
    (sample,) = [_protobuf(_message(v)) for number, v in parts if number == 2]
    assert sample[0][0] == 1
    assert struct.unpack("<d", _message(sample[0][1])) == (42.5,)
    assert sample[1] == (2, 1_700_000_000_123)


def test_receiver_for_picks_the_first_matching_route() -> None:
    route = {"receiver": "default", "routes": [
        {"matchers": ['alertname="Watchdog"'], "receiver": "heartbeat"},
        {"matchers": ['severity="critical"'], "receiver": "pager", "routes": [
            {"matchers": ['env="staging"'], "receiver": "staging-pager"}]},
        {"matchers": ['severity=~"critical|warning"'], "receiver": "slack"},
        {"matchers": ['env!="dev"'], "receiver": "catch-all"}]}
    assert receiver_for(route, {"alertname": "Watchdog", "severity": "critical"}) == "heartbeat"
    assert receiver_for(route, {"severity": "critical", "env": "production"}) == "pager"
    assert receiver_for(route, {"severity": "critical", "env": "staging"}) == "staging-pager"
    assert receiver_for(route, {"severity": "warning", "env": "production"}) == "slack"
    assert receiver_for(route, {"severity": "info", "env": "production"}) == "catch-all"
    assert receiver_for(route, {"severity": "info", "env": "dev"}) == "default"


def test_receiver_for_routes_the_rendered_alerts(case: Case) -> None:
    route = _yaml(case.rendered.files["alertmanager"][ALERTMANAGER_CONFIG])["route"]
    critical = "webhook" if case.stack == "production" else "slack"
    # Production's Watchdog heartbeats to its dead-man's switch; staging has none to feed.
    assert receiver_for(route, {"alertname": "Watchdog", "severity": "none"}) == (
        "heartbeat" if case.stack == "production" else "none")
    assert receiver_for(route, {"alertname": ERROR_RATE_ALERT, "severity": "critical",
                                "env": case.stack}) == critical
    assert receiver_for(route, {"alertname": ERROR_RATE_ALERT, "severity": "warning",
                                "env": case.stack}) == "slack"


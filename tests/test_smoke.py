"""The smoke test: end to end per stack against Debian's Prometheus, Alertmanager, redis_exporter
and redis-server (marked `smoke`, about 30-40 s each), and fast tests of its pieces: the one
mapping from the rendered stack to loopback changes only what it says, notifications parse, routes
resolve, metric names are found.
"""

import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from settings import Service
from tests.support.tools import require_tool
from tools.alertmanager_routing import receiver_for
from tools.render import render
from tools.smoke import (
    BACKEND,
    CATCHER,
    HOST,
    REDIS,
    ROOT,
    SMOKE_ALERTS,
    SMOKE_FOR,
    SMOKE_GROUP_INTERVAL,
    SMOKE_GROUP_WAIT,
    SMOKE_INTERVAL,
    Binaries,
    Local,
    Loopback,
    Notification,
    Rendered,
    load_rendered,
    localize,
    metric_names,
    parse_notification,
)

STACKS: Final = ("staging", "production")
PORTS: Final[Mapping[str, int]] = {
    name: 40000 + index for index, name in enumerate(
        [*(service.value for service in Service), BACKEND, REDIS, CATCHER])}
EVERY_FLAG: Final = frozenset({
    "config.file", "storage.tsdb.path", "storage.tsdb.retention.time",
    "storage.tsdb.retention.size", "web.enable-remote-write-receiver", "enable-feature",
    "storage.path", "cluster.listen-address"})
KNOWN: Final = {service.value: EVERY_FLAG for service in Service}
# Debian bookworm's Alertmanager: no webhook `url_file` yet.
DEBIAN: Final = Binaries(KNOWN, (0, 25))
MISSING: Final = object()
PROMETHEUS: Final = Service.PROMETHEUS.value
ALERTMANAGER: Final = Service.ALERTMANAGER.value
EXPORTER: Final = Service.REDIS_EXPORTER.value


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.smoke
@pytest.mark.parametrize("stack", STACKS)
def test_smoke_end_to_end(stack: str) -> None:
    for tool in ("prometheus", "prometheus-alertmanager", "prometheus-redis-exporter",
                 "redis-server"):
        require_tool(tool)
    result = subprocess.run([sys.executable, "-m", "tools.smoke", "--stack", stack], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.fullmatch(r"\d+ passed, 0 failed, \d+ skipped", lines[-1]), lines[-1]
    expected = ["PASS alert BackendHighErrorRate notifies", "PASS alert BackendHighErrorRate "
                "warning inhibited", "PASS alert BackendHighErrorRate resolves"]
    expected += (["PASS redis_up", "PASS redis auth", "PASS alert RedisDown notifies"]
                 if stack == "production" else ["SKIP alert RedisDown", "PASS backend auth"])
    for start in expected:
        assert any(line.startswith(start) for line in lines), start


# --- the mapping -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=STACKS)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Rendered:
    out = tmp_path_factory.mktemp(f"render-{request.param}")
    render(request.param, out)
    return load_rendered(out)


@pytest.fixture
def loop(tmp_path: Path) -> Loopback:
    return Loopback(tmp_path, PORTS)


def changes(before: Any, after: Any, path: tuple[Any, ...] = ()) -> Iterator[
        tuple[tuple[Any, ...], Any, Any]]:
    """Every leaf that differs, as (path, before, after); MISSING where a key is absent."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(key for key in after if key not in before)]:
            yield from changes(before.get(key, MISSING), after.get(key, MISSING), (*path, key))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from changes(old, new, (*path, index))
    elif before != after:
        yield path, before, after


def shape(path: tuple[Any, ...]) -> tuple[Any, ...]:
    """The path with list indices as `*`, to compare against the allowed changes."""
    return tuple("*" if isinstance(part, int) else part for part in path)


def _loopback_address(value: object) -> bool:
    return isinstance(value, str) and value in {f"{HOST}:{port}" for port in PORTS.values()}


def _in(loop: Loopback, service: str, value: object) -> bool:
    return isinstance(value, str) and value.startswith(f"{loop.root}/{service}/")


def _local_yaml(local: Local, loop: Loopback, service: str, path: str) -> Any:
    return yaml.safe_load(local.files[loop.path(service, path)])


def test_prometheus_config_changes_only_addresses_paths_and_intervals(
        rendered: Rendered, loop: Loopback) -> None:
    local = localize(rendered, loop, DEBIAN)
    path = "/etc/prometheus/prometheus.yml"
    before = yaml.safe_load(rendered.files[PROMETHEUS][path])
    after = _local_yaml(local, loop, PROMETHEUS, path)
    allowed: dict[tuple[str, ...], Callable[[object], bool]] = {
        ("global", "scrape_interval"): lambda v: v == SMOKE_INTERVAL,
        ("global", "scrape_timeout"): lambda v: v == SMOKE_INTERVAL,
        ("global", "evaluation_interval"): lambda v: v == SMOKE_INTERVAL,
        ("rule_files", "*"): lambda v: _in(loop, PROMETHEUS, v),
        ("alerting", "alertmanagers", "*", "static_configs", "*", "targets", "*"):
            lambda v: v == f"{HOST}:{PORTS[ALERTMANAGER]}",
        ("scrape_configs", "*", "scrape_interval"): lambda v: v == SMOKE_INTERVAL,
        ("scrape_configs", "*", "scrape_timeout"): lambda v: v == SMOKE_INTERVAL,
        ("scrape_configs", "*", "scheme"): lambda v: v == "http",
        ("scrape_configs", "*", "authorization", "credentials_file"):
            lambda v: _in(loop, PROMETHEUS, v),
        ("scrape_configs", "*", "static_configs", "*", "targets", "*"): _loopback_address,
    }
    changed = list(changes(before, after))
    assert changed
    for where, _, new in changed:
        assert shape(where) in allowed, f"{where} changed"
        assert allowed[shape(where)](new), f"{where}: {new!r}"
    # Labels, `env` above all, are what the smoke test checks: they stay as rendered.
    assert [job["static_configs"][0]["labels"] for job in before["scrape_configs"]] == \
        [job["static_configs"][0]["labels"] for job in after["scrape_configs"]]


def test_jobs_map_to_the_stand_in_or_their_service(rendered: Rendered, loop: Loopback) -> None:
    local = localize(rendered, loop, DEBIAN)
    config = yaml.safe_load(rendered.files[PROMETHEUS]["/etc/prometheus/prometheus.yml"])
    backend_jobs = {job["job_name"] for job in config["scrape_configs"]
                    if job["job_name"].startswith("gatewayz_")}
    assert backend_jobs
    assert {job for job, by in local.jobs.items() if by == BACKEND} == backend_jobs
    for job, served_by in local.jobs.items():
        if served_by != BACKEND:
            assert Service(served_by).job == job


def test_rules_change_only_the_for_of_the_smoke_alerts(rendered: Rendered,
                                                       loop: Loopback) -> None:
    local = localize(rendered, loop, DEBIAN)
    rules = {path: text for path, text in rendered.files[PROMETHEUS].items()
             if path.startswith("/etc/prometheus/rules/")}
    assert rules
    for path, text in rules.items():
        before, after = yaml.safe_load(text), _local_yaml(local, loop, PROMETHEUS, path)
        for where, _, new in changes(before, after):
            assert shape(where) == ("groups", "*", "rules", "*", "for"), where
            assert new == SMOKE_FOR
            assert after["groups"][where[1]]["rules"][where[3]]["alert"] in SMOKE_ALERTS
    assert local.shortened_alerts


def test_alertmanager_changes_only_timing_and_receiver_urls(rendered: Rendered,
                                                            loop: Loopback) -> None:
    local = localize(rendered, loop, DEBIAN)
    path = "/etc/alertmanager/alertmanager.yml"
    before = yaml.safe_load(rendered.files[ALERTMANAGER][path])
    after = _local_yaml(local, loop, ALERTMANAGER, path)
    catcher = f"http://{HOST}:{PORTS[CATCHER]}/"
    allowed: dict[tuple[str, ...], Callable[[object], bool]] = {
        ("route", "group_wait"): lambda v: v == SMOKE_GROUP_WAIT,
        ("route", "group_interval"): lambda v: v == SMOKE_GROUP_INTERVAL,
        ("receivers", "*", "slack_configs", "*", "api_url_file"):
            lambda v: _in(loop, ALERTMANAGER, v),
        # Debian's Alertmanager 0.25 has no webhook `url_file`: the catcher's URL goes inline.
        ("receivers", "*", "webhook_configs", "*", "url_file"): lambda v: v is MISSING,
        ("receivers", "*", "webhook_configs", "*", "url"):
            lambda v: isinstance(v, str) and v.startswith(catcher),
    }
    for where, _, new in changes(before, after):
        assert shape(where) in allowed, f"{where} changed"
        assert allowed[shape(where)](new), f"{where}: {new!r}"
    for receiver in after["receivers"]:
        for slack in receiver.get("slack_configs", []):
            assert local.files[Path(slack["api_url_file"])] == catcher + receiver["name"]


def test_an_alertmanager_with_url_file_keeps_it(rendered: Rendered, loop: Loopback) -> None:
    local = localize(rendered, loop, Binaries(KNOWN, (0, 34)))
    after = _local_yaml(local, loop, ALERTMANAGER, "/etc/alertmanager/alertmanager.yml")
    webhooks = [(receiver["name"], webhook) for receiver in after["receivers"]
                for webhook in receiver.get("webhook_configs", [])]
    for name, webhook in webhooks:
        assert "url" not in webhook
        assert local.files[Path(webhook["url_file"])] == f"http://{HOST}:{PORTS[CATCHER]}/{name}"


def test_other_files_are_copied_unchanged(rendered: Rendered, loop: Loopback) -> None:
    local = localize(rendered, loop, DEBIAN)
    rewritten = {"/etc/prometheus/prometheus.yml", "/etc/alertmanager/alertmanager.yml",
                 "/etc/redis_exporter/passwords.json"}
    for service, files in rendered.files.items():
        for path, content in files.items():
            target = loop.path(service, path)
            assert target in local.files, target
            if (path not in rewritten and "/rules/" not in path
                    and not path.startswith("/etc/alertmanager/secrets/")):
                assert local.files[target] == content, path


def test_redis_exporter_watches_the_loopback_redis_with_the_stack_password(
        rendered: Rendered, loop: Loopback) -> None:
    local = localize(rendered, loop, DEBIAN)
    if EXPORTER not in rendered.containers:
        assert local.redis_exporter_env == {}
        assert local.redis_password is None
        return
    env = rendered.containers[EXPORTER]["env"]
    redis = f"redis://{HOST}:{PORTS[REDIS]}"
    assert local.redis_exporter_env == {**env, "REDIS_ADDR": redis,
                                        "REDIS_PASSWORD_FILE": str(loop.path(
                                            EXPORTER, env["REDIS_PASSWORD_FILE"]))}
    (password,) = yaml.safe_load(
        rendered.files[EXPORTER][env["REDIS_PASSWORD_FILE"]]).values()
    assert local.redis_password == password
    assert yaml.safe_load(local.files[Path(local.redis_exporter_env["REDIS_PASSWORD_FILE"])]) \
        == {redis: password}


def test_flags_keep_the_stack_ones_map_paths_and_drop_unknown(rendered: Rendered,
                                                              loop: Loopback) -> None:
    command = rendered.containers[PROMETHEUS]["command"]
    known = {**KNOWN, PROMETHEUS: EVERY_FLAG - {"enable-feature"}}
    local = localize(rendered, loop, Binaries(known, (0, 25)))
    args = local.args[PROMETHEUS]
    assert args[-1] == f"--web.listen-address={HOST}:{PORTS[PROMETHEUS]}"
    assert local.dropped_flags == ("prometheus --enable-feature=exemplar-storage",)
    kept = [arg for arg in command if not arg.startswith("--enable-feature")]
    assert len(args) == len(kept) + 1
    for old, new in zip(kept, args, strict=False):
        name, _, value = old.partition("=")
        assert new == (f"{name}={loop.path(PROMETHEUS, value)}" if value.startswith("/")
                       else old)
    assert "--cluster.listen-address=" in local.args[ALERTMANAGER]


def test_the_backend_token_is_the_rendered_credentials_file(rendered: Rendered,
                                                            loop: Loopback) -> None:
    local = localize(rendered, loop, DEBIAN)
    tokens = [path for path in rendered.files[PROMETHEUS] if path.endswith(".token")]
    if not tokens:
        assert local.backend_token_file is None
        return
    (token,) = tokens
    assert local.backend_token_file == loop.path(PROMETHEUS, token)
    assert local.files[local.backend_token_file].startswith("FAKE-TEST-SECRET")


# --- notifications, routes, queries --------------------------------------------------------------


def test_webhook_and_slack_payloads_parse_alike() -> None:
    webhook = {"status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "RedisDown", "severity": "critical",
                                        "env": "production"}}]}
    slack = {"channel": "#x", "attachments": [
        {"title": "[RESOLVED] CRITICAL BackendHighErrorRate (staging)", "text": "..."}]}
    assert parse_notification("webhook", webhook) == [
        Notification("webhook", "firing", "RedisDown", "critical", "production")]
    assert parse_notification("slack", slack) == [
        Notification("slack", "resolved", "BackendHighErrorRate", "critical", "staging")]
    with pytest.raises(ValueError, match="Slack title"):
        parse_notification("slack", {"attachments": [{"title": "something else"}]})


def test_receiver_for_follows_the_first_matching_route() -> None:
    route = {"receiver": "slack", "routes": [
        {"matchers": ['severity="critical"'], "receiver": "webhook"},
        {"matchers": ['severity=~"warning|info"', 'env!="dev"'], "receiver": "none"}]}
    assert receiver_for(route, {"severity": "critical"}) == "webhook"
    assert receiver_for(route, {"severity": "info", "env": "production"}) == "none"
    assert receiver_for(route, {"severity": "info", "env": "dev"}) == "slack"


def test_metric_names_skip_functions_labels_and_strings() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, provider) (rate(provider_response_time_seconds'
            '_bucket{env="staging", job=~"a|b"}[1m]))) / on (env) group_left up offset 5m'
            ' or vector(0)')
    assert metric_names(expr) == {"provider_response_time_seconds", "up"}



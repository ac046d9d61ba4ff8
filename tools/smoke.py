"""Smoke test of one rendered stack on this machine, all on 127.0.0.1: Debian's Prometheus,
Alertmanager, redis_exporter and redis-server run the rendered configs against a stand-in backend
(`tools.smoke_backend`) and a webhook catcher; checks targets, `env` labels, every dashboard query,
and that the error-rate and Redis-down alerts fire, route, notify and resolve (docs/smoke.md).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Final, TypeVar
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import yaml

from configs.dashboards.panels import WANTED_METRICS
from configs.endpoints import HTTP_PORTS, internal_address
from settings import PROJECT, Service, Settings, parse_settings
from tools.alertmanager_compat import for_release, tool_version
from tools.alertmanager_routing import receiver_for
from tools.dashboard_queries import plain, promql_queries, variable_values
from tools.mock_runtime import stack_config

ROOT: Final = Path(__file__).resolve().parent.parent
HOST: Final = "127.0.0.1"
DEFAULT_BUDGET_SECONDS: Final = 240.0

# What `localize` shortens, so a run takes a minute instead of an hour.
SMOKE_INTERVAL: Final = "1s"
SMOKE_FOR: Final = "5s"
SMOKE_GROUP_WAIT: Final = "1s"
SMOKE_GROUP_INTERVAL: Final = "2s"
# The alerts the run makes fire (configs/rules/backend.py, configs/rules/redis.py).
ERROR_RATE_ALERT: Final = "BackendHighErrorRate"
REDIS_DOWN_ALERT: Final = "RedisDown"
SMOKE_ALERTS: Final = (ERROR_RATE_ALERT, REDIS_DOWN_ALERT)

# Loopback processes that are not stack services.
BACKEND: Final = "backend"
REDIS: Final = "redis"
CATCHER: Final = "catcher"
# Services that exist here only as Docker images: their targets get a loopback port nobody serves.
NOT_RUN: Final = (Service.LOKI, Service.TEMPO, Service.GRAFANA)
NOT_RUN_REASON: Final = "not run here (only its Docker image runs it; see docs/smoke.md)"
# Metrics only Loki, Tempo (and its metrics generator) or Grafana would produce.
NOT_RUN_PREFIXES: Final = ("loki_", "tempo_", "traces_", "grafana_")
BINARIES: Final[Mapping[str, str]] = {
    Service.PROMETHEUS: "prometheus",
    Service.ALERTMANAGER: "prometheus-alertmanager",
    Service.REDIS_EXPORTER: "prometheus-redis-exporter",
    REDIS: "redis-server",
}
# Traffic of the stand-in: a little 5xx at rest (5xx panels have data, no alert fires), a 50%
# burst, then a recovery loud enough that the 5m error ratio drops under the threshold in
# seconds; the rules' 5m and 1h windows stay as deployed.
BASELINE: Final[Mapping[str, float]] = {"rps": 50, "error_ratio": 0.01}
ERROR_BURST: Final[Mapping[str, float]] = {"rps": 50, "error_ratio": 0.5}
RECOVERY: Final[Mapping[str, float]] = {"rps": 2000, "error_ratio": 0.0}
# Scrapes and evaluations every second: a few cycles give every rate() window two samples.
SETTLE_SECONDS: Final = 6.0
ALERT_WAIT_SECONDS: Final = 60.0
STOP_WAIT_SECONDS: Final = 5.0

T = TypeVar("T")


class SetupError(Exception):
    """A step the rest of the run depends on failed; reported as one FAIL line."""


# --- the rendered stack ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """What `tools.render` wrote: files by service and container path, containers, dashboards."""

    files: Mapping[str, Mapping[str, str]]
    containers: Mapping[str, Mapping[str, Any]]
    dashboards: tuple[Mapping[str, Any], ...]


def render(stack: str, out: Path, timeout: float) -> Rendered:
    """`python -m tools.render` into `out`, then read back."""
    result = subprocess.run([sys.executable, "-m", "tools.render", "--stack", stack, "--out",
                             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            check=False)
    if result.returncode != 0:
        raise SetupError(f"tools.render failed: {result.stderr.strip()[-500:]}")
    return load_rendered(out)


def load_rendered(out: Path) -> Rendered:
    """Read the tree `tools.render` writes (its module docstring describes the layout)."""
    files: dict[str, dict[str, str]] = {}
    for path in sorted((out / "files").rglob("*")):
        if path.is_file():
            service, *parts = path.relative_to(out / "files").parts
            files.setdefault(service, {})["/" + "/".join(parts)] = path.read_text()
    return Rendered(
        files=files,
        containers={path.stem: json.loads(path.read_text())
                    for path in sorted((out / "containers").glob("*.json"))},
        dashboards=tuple(json.loads(path.read_text())
                         for path in sorted((out / "grafana" / "dashboards").glob("*.json"))))


def stack_settings(stack: str) -> Settings:
    """The stack's settings, from its stack file and the fake secrets the render uses: what the
    run expects (environment, backend job), to hold against what the rendered stack does."""
    config, secret_keys = stack_config(stack)
    prefix = f"{PROJECT}:"
    raw = {key.removeprefix(prefix): value for key, value in config.items()
           if key.startswith(prefix) and key not in secret_keys}
    return parse_settings(stack, raw, frozenset(key.removeprefix(prefix) for key in secret_keys))


# --- the one mapping from the rendered stack to this machine ---------------------------------


@dataclass(frozen=True)
class Loopback:
    """Where everything runs here: a temp folder and one loopback port per process."""

    root: Path
    ports: Mapping[str, int]

    def address(self, name: str) -> str:
        return f"{HOST}:{self.ports[name]}"

    def url(self, name: str) -> str:
        return f"http://{self.address(name)}"

    def path(self, service: str, container_path: str) -> Path:
        """A service's container path inside the temp folder."""
        return self.root / service / container_path.lstrip("/")


@dataclass(frozen=True)
class Local:
    """The stack as it runs here; `localize` builds it."""

    files: Mapping[Path, str]
    # Arguments of each binary, by service.
    args: Mapping[str, tuple[str, ...]]
    redis_exporter_env: Mapping[str, str]
    redis_password: str | None
    backend_token_file: Path | None
    # Scrape job -> what serves it here: BACKEND or a service name.
    jobs: Mapping[str, str]
    dropped_flags: tuple[str, ...]
    shortened_alerts: tuple[str, ...]


@dataclass(frozen=True)
class Binaries:
    """What the local binaries accept: flag names by service, and Alertmanager's version."""

    flags: Mapping[str, frozenset[str]]
    alertmanager_version: tuple[int, int]


# Where the rendered configs reach each service: by its network alias, Prometheus itself on
# localhost (configs/prometheus.py).
SERVICE_ADDRESSES: Final[Mapping[str, str]] = {
    **{internal_address(service): service.value for service in Service},
    f"localhost:{HTTP_PORTS[Service.PROMETHEUS]}": Service.PROMETHEUS.value,
}


def localize(rendered: Rendered, loop: Loopback,
             binaries: Binaries) -> Local:
    """The only changes made to the rendered stack to run it here; everything else is as rendered.

    - Addresses: each service's `<alias>:<port>` (and Prometheus' `localhost:9090`) becomes its
      loopback address; any other scrape target is the backend, served by the stand-in, and
      its job's scheme https becomes http.
    - Paths: container path P of service S becomes <temp>/S/P; files keep their content.
    - Prometheus: global and per-job scrape interval and timeout and the evaluation interval
      become 1s; the `for` of SMOKE_ALERTS becomes 5s.
    - Alertmanager: group_wait 1s and group_interval 2s wherever set; each receiver's URL file
      holds the catcher's `/<receiver name>`, inlined where the local Alertmanager predates
      `url_file` (tools.alertmanager_compat: Debian's 0.25 does).
    - redis_exporter: REDIS_ADDR and the key of its password map become the loopback Redis.
    - Flags: the stack's own, minus those the local binary does not know (returned), plus
      `--web.listen-address` on loopback.
    """
    files = {loop.path(service, path): content
             for service, by_path in rendered.files.items() for path, content in by_path.items()}
    prometheus = Service.PROMETHEUS.value
    containers = rendered.containers
    args: dict[str, tuple[str, ...]] = {}
    dropped: list[str] = []
    for service in (Service.PROMETHEUS, Service.ALERTMANAGER, Service.REDIS_EXPORTER):
        if service.value in containers:
            command = containers[service.value].get("command", [])
            args[service.value], lost = _flags(loop, service.value, command,
                                               binaries.flags[service.value])
            dropped += lost

    config_path = _flag_value(containers[prometheus]["command"], "--config.file")
    config, jobs, token = _prometheus_config(
        yaml.safe_load(rendered.files[prometheus][config_path]), loop)
    files[loop.path(prometheus, config_path)] = _yaml(config)
    shortened: list[str] = []
    for rule_file in config["rule_files"]:
        path = Path(rule_file)
        document, names = _shorten_alerts(yaml.safe_load(files[path]))
        files[path] = _yaml(document)
        shortened += names

    alertmanager = Service.ALERTMANAGER.value
    am_path = _flag_value(containers[alertmanager]["command"], "--config.file")
    am_config, url_files = _alertmanager_config(
        yaml.safe_load(rendered.files[alertmanager][am_path]), loop,
        binaries.alertmanager_version)
    files[loop.path(alertmanager, am_path)] = _yaml(am_config)
    files.update(url_files)

    exporter_env: dict[str, str] = {}
    password = None
    if Service.REDIS_EXPORTER.value in containers:
        exporter_env, password, password_files = _redis_exporter(rendered, loop)
        files.update(password_files)
    return Local(files, args, exporter_env, password, token, jobs, tuple(dropped),
                 tuple(sorted(shortened)))


def _flag_value(command: Sequence[str], name: str) -> str:
    (value,) = [arg.partition("=")[2] for arg in command if arg.partition("=")[0] == name]
    return value


def _flags(loop: Loopback, service: str, command: Sequence[str],
           known: frozenset[str]) -> tuple[tuple[str, ...], list[str]]:
    kept, dropped = [], []
    for arg in command:
        name, equals, value = arg.partition("=")
        if name.lstrip("-") not in known:
            dropped.append(f"{service} {arg}")
            continue
        local = loop.path(service, value) if value.startswith("/") else value
        kept.append(f"{name}{equals}{local}")
    # Go's flag package (redis_exporter) takes `--name` as kingpin (the others) does.
    return (*kept, f"--web.listen-address={loop.address(service)}"), dropped


def _prometheus_config(config: dict[str, Any], loop: Loopback
                       ) -> tuple[dict[str, Any], dict[str, str], Path | None]:
    config = copy.deepcopy(config)
    service = Service.PROMETHEUS.value
    for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        if key in config.get("global", {}):
            config["global"][key] = SMOKE_INTERVAL
    config["rule_files"] = [str(loop.path(service, path)) for path in config.get("rule_files", [])]
    for manager in config.get("alerting", {}).get("alertmanagers", []):
        for static in manager.get("static_configs", []):
            static["targets"] = [loop.address(SERVICE_ADDRESSES[t]) for t in static["targets"]]
    jobs: dict[str, str] = {}
    token = None
    for job in config["scrape_configs"]:
        for key in ("scrape_interval", "scrape_timeout"):
            if key in job:
                job[key] = SMOKE_INTERVAL
        authorization = job.get("authorization", {})
        if "credentials_file" in authorization:
            token = loop.path(service, authorization["credentials_file"])
            authorization["credentials_file"] = str(token)
        for static in job["static_configs"]:
            served_by = [SERVICE_ADDRESSES.get(target, BACKEND) for target in static["targets"]]
            static["targets"] = [loop.address(name) for name in served_by]
            jobs[job["job_name"]] = served_by[0]
        if jobs[job["job_name"]] == BACKEND and job.get("scheme") == "https":
            job["scheme"] = "http"
    return config, jobs, token


def _shorten_alerts(document: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    document = copy.deepcopy(document)
    shortened = []
    for group in document.get("groups", []):
        for rule in group["rules"]:
            if rule.get("alert") in SMOKE_ALERTS:
                rule["for"] = SMOKE_FOR
                shortened.append(f"{rule['alert']}/{rule['labels']['severity']}")
    return document, shortened


def _alertmanager_config(config: dict[str, Any], loop: Loopback, version: tuple[int, int]
                         ) -> tuple[dict[str, Any], dict[Path, str]]:
    config = copy.deepcopy(config)
    service = Service.ALERTMANAGER.value

    def shorten(route: dict[str, Any]) -> None:
        for key, value in (("group_wait", SMOKE_GROUP_WAIT),
                           ("group_interval", SMOKE_GROUP_INTERVAL)):
            if key in route:
                route[key] = value
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    url_files: dict[Path, str] = {}
    for receiver in config.get("receivers", []):
        for integration, key in (("slack_configs", "api_url_file"),
                                 ("webhook_configs", "url_file")):
            for entry in receiver.get(integration, []):
                path = loop.path(service, entry[key])
                entry[key] = str(path)
                url_files[path] = f"{loop.url(CATCHER)}/{receiver['name']}"
    return for_release(config, version, lambda path: url_files[Path(path)]), url_files


def _redis_exporter(rendered: Rendered, loop: Loopback
                    ) -> tuple[dict[str, str], str | None, dict[Path, str]]:
    service = Service.REDIS_EXPORTER.value
    env = dict(rendered.containers[service].get("env", {}))
    # The loopback Redis has no TLS, so rediss:// becomes redis:// too.
    env["REDIS_ADDR"] = f"redis://{loop.address(REDIS)}"
    if "REDIS_PASSWORD_FILE" not in env:
        return env, None, {}
    container_path = env["REDIS_PASSWORD_FILE"]
    (password,) = json.loads(rendered.files[service][container_path]).values()
    path = loop.path(service, container_path)
    env["REDIS_PASSWORD_FILE"] = str(path)
    return env, str(password), {path: json.dumps({env["REDIS_ADDR"]: password}, sort_keys=True)}


def _yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, width=1 << 16)


def known_flags(binary: str) -> frozenset[str]:
    """Flag names (without dashes) a binary lists in its --help, on stdout or stderr."""
    result = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10,
                            check=False)
    return frozenset(re.findall(r"(?m)^\s+--?([a-z0-9][a-z0-9.-]*)", result.stdout + result.stderr))


# --- processes -------------------------------------------------------------------------------


# util-linux's setpriv makes the kernel kill a child when this process dies, even by SIGKILL,
# which no `finally` or atexit handler survives.
_DIE_WITH_PARENT: Final = (("setpriv", "--pdeathsig", "KILL", "--") if shutil.which("setpriv")
                           else ())


class Processes:
    """Children in their own process groups, each group killed on stop, at exit or on a signal."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("wb") as log:
            self.children[name] = subprocess.Popen(
                [*_DIE_WITH_PARENT, *argv], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})})

    def alive(self, name: str) -> bool:
        return self.children[name].poll() is None

    def log_tail(self, name: str, lines: int = 6) -> str:
        text = (self.logs / f"{name}.log").read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def stop(self, name: str) -> None:
        child = self.children.pop(name, None)
        if child is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, sig)
            try:
                child.wait(timeout=STOP_WAIT_SECONDS)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop_all(self) -> None:
        for name in list(self.children):
            self.stop(name)


def _reserve_ports(names: Sequence[str], held: list[socket.socket]) -> dict[str, int]:
    """A distinct free loopback port per name. Services not run keep their socket bound (never
    listening) until the end, so their targets are refused instead of reaching a stranger."""
    sockets = {}
    for name in names:
        sock = socket.socket()
        sock.bind((HOST, 0))
        sockets[name] = sock
    ports = {name: sock.getsockname()[1] for name, sock in sockets.items()}
    for name, sock in sockets.items():
        if name in {service.value for service in NOT_RUN}:
            held.append(sock)
        else:
            sock.close()
    return ports


# --- the webhook catcher ---------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str
    alertname: str
    severity: str
    env: str


# The stack's Slack title (configs/alertmanager.py): `[FIRING:1] CRITICAL RedisDown (production)`.
_SLACK_TITLE: Final = re.compile(
    r"^\[(?P<status>FIRING|RESOLVED)(?::\d+)?\] (?P<severity>\S+) (?P<alertname>\S+) "
    r"\((?P<env>[^)]*)\)$")


def parse_notification(receiver: str, payload: Mapping[str, Any]) -> list[Notification]:
    """Alertmanager's webhook JSON or a Slack message; ValueError for anything else."""
    if "alerts" in payload:
        return [Notification(receiver, alert["status"], alert["labels"].get("alertname", ""),
                             alert["labels"].get("severity", ""), alert["labels"].get("env", ""))
                for alert in payload["alerts"]]
    found = []
    for attachment in payload.get("attachments", []):
        match = _SLACK_TITLE.match(attachment.get("title", ""))
        if match is None:
            raise ValueError(f"Slack title not understood: {attachment.get('title')!r}")
        found.append(Notification(receiver, match["status"].lower(), match["alertname"],
                                  match["severity"].lower(), match["env"]))
    if not found:
        raise ValueError(f"neither a webhook nor a Slack payload: {sorted(payload)}")
    return found


class Catcher:
    """Records every notification POSTed to it, by the receiver named in the path."""

    def __init__(self, port: int) -> None:
        self.notifications: list[Notification] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Silent: notifications are reported by the checks."""

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length", 0)), 1 << 20)
                try:
                    found = parse_notification(self.path.strip("/"),
                                               json.loads(self.rfile.read(length)))
                except ValueError as error:
                    with catcher.lock:
                        catcher.errors.append(str(error))
                else:
                    with catcher.lock:
                        catcher.notifications.extend(found)
                # Slack's API answers `ok`; Alertmanager's Slack notifier checks for it.
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer((HOST, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.2,), daemon=True)
        self.thread.start()

    def received(self, **labels: str) -> list[Notification]:
        with self.lock:
            return [n for n in self.notifications
                    if all(getattr(n, key) == value for key, value in labels.items())]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- HTTP, time and reporting ----------------------------------------------------------------


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())


def wait_for(probe: Callable[[], T | None], seconds: float, deadline: Deadline,
             step: float = 0.5) -> T | None:
    """`probe()` until it returns something, for at most `seconds` (and the run's budget)."""
    end = time.monotonic() + min(seconds, deadline.remaining())
    for _ in range(int(seconds / step) + 1):
        with contextlib.suppress(OSError, ValueError):
            found = probe()
            if found is not None:
                return found
        if time.monotonic() + step > end:
            return None
        time.sleep(step)
    return None


def http_json(url: str, form: Mapping[str, str] | None = None) -> Any:
    """GET (or POST a form to) a loopback URL and parse its JSON; errors carry the body."""
    data = urlencode(form).encode() if form is not None else None
    try:
        with urlopen(Request(url, data=data), timeout=5) as response:
            return json.load(response)
    except HTTPError as error:
        raise ValueError(f"HTTP {error.code}: {error.read().decode(errors='replace')}") from error


def http_ok(url: str) -> bool | None:
    with urlopen(url, timeout=2) as response:
        return True if response.status == 200 else None


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; ValueError with Prometheus' message when the query is refused."""
        body = http_json(f"{self.url}/api/v1/query", {"query": expr})
        if body.get("status") != "success":
            raise ValueError(body.get("error", body))
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def alerts(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = http_json(f"{self.url}/api/v1/alerts")["data"]["alerts"]
        return [alert for alert in found if alert["labels"].get("alertname") == name]


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=lambda: {"PASS": 0, "FAIL": 0, "SKIP": 0})

    def line(self, status: str, check: str, detail: str) -> None:
        self.counts[status] += 1
        print(f"{status} {check}: {detail}", flush=True)

    def check(self, ok: bool, check: str, detail: str) -> bool:
        self.line("PASS" if ok else "FAIL", check, detail)
        return ok

    def summary(self) -> str:
        return (f"{self.counts['PASS']} passed, {self.counts['FAIL']} failed, "
                f"{self.counts['SKIP']} skipped")


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    stack: str
    settings: Settings
    rendered: Rendered
    loop: Loopback
    local: Local
    processes: Processes
    catcher: Catcher
    report: Report
    deadline: Deadline
    prometheus: Prometheus = field(init=False)

    def __post_init__(self) -> None:
        self.prometheus = Prometheus(self.loop.url(Service.PROMETHEUS))

    @property
    def has_redis(self) -> bool:
        return Service.REDIS_EXPORTER.value in self.rendered.containers

    def control(self, traffic: Mapping[str, float]) -> None:
        query = urlencode({key: str(value) for key, value in traffic.items()})
        with urlopen(Request(f"{self.loop.url(BACKEND)}/control?{query}", data=b""),
                     timeout=5):
            pass


def start(run: Run) -> None:
    """Start every process the rendered stack has a stand-in for, each ready before the next."""
    loop, local, processes = run.loop, run.local, run.processes
    for path, content in local.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(0o600)
    backend = [sys.executable, "-m", "tools.smoke_backend", "--port", str(loop.ports[BACKEND]),
               "--max-seconds", str(int(run.deadline.remaining()) + 30)]
    if local.backend_token_file is not None:
        backend += ["--token-file", str(local.backend_token_file)]
    steps: list[tuple[str, list[str], dict[str, str], str]] = [
        (BACKEND, backend, {}, f"{loop.url(BACKEND)}/health")]
    if run.has_redis:
        steps.append((REDIS, [BINARIES[REDIS], str(_redis_conf(run))], {}, ""))
        steps.append((Service.REDIS_EXPORTER.value,
                      [BINARIES[Service.REDIS_EXPORTER],
                       *local.args[Service.REDIS_EXPORTER.value]],
                      dict(local.redis_exporter_env),
                      f"{loop.url(Service.REDIS_EXPORTER)}/health"))
    for service in (Service.ALERTMANAGER, Service.PROMETHEUS):
        steps.append((service.value, [BINARIES[service], *local.args[service.value]], {},
                      f"{loop.url(service)}/-/ready"))
    for name, argv, env, ready_url in steps:
        processes.start(name, argv, env)

        def ready(name: str = name, url: str = ready_url) -> bool | None:
            if not processes.alive(name):
                return False
            return http_ok(url) if url else bool(_redis_ping(loop.ports[REDIS])) or None

        if wait_for(ready, 20, run.deadline) is not True:
            raise SetupError(f"{name} did not start: {processes.log_tail(name)}")
        run.report.line("PASS", f"start {name}", f"ready on {loop.address(name)}"
                        + (f" ({' '.join(argv[1:])})" if name in BINARIES else ""))


def _redis_conf(run: Run) -> Path:
    """No persistence, loopback only, the stack's fake password; a maxmemory so the memory
    panels and RedisMemoryNearMax have a limit to compare against, as production has."""
    data = run.loop.root / REDIS
    data.mkdir(parents=True, exist_ok=True)
    lines = [f"bind {HOST}", f"port {run.loop.ports[REDIS]}", 'save ""', "appendonly no",
             f"dir {data}", "maxmemory 64mb", "protected-mode yes"]
    if run.local.redis_password is not None:
        lines.append(f"requirepass {run.local.redis_password}")
    path = data / "redis.conf"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def _redis_ping(port: int) -> bytes | None:
    """Redis' reply to an unauthenticated PING: `+PONG`, or `-NOAUTH` when it wants a password."""
    with socket.create_connection((HOST, port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64) or None


def check_config(run: Run) -> None:
    report, local = run.report, run.local
    for flag in local.dropped_flags:
        report.line("SKIP", "flag", f"{flag}: unknown to the Debian binary here, not passed")
    for name in SMOKE_ALERTS:
        present = [alert for alert in local.shortened_alerts if alert.startswith(f"{name}/")]
        if name == REDIS_DOWN_ALERT and not run.has_redis:
            report.line("SKIP", f"rule {name}", "no Redis in this stack, so no Redis rules")
            continue
        report.check(bool(present), f"rule {name}",
                     f"`for` shortened to {SMOKE_FOR} for the run: {', '.join(present)}"
                     if present else "not in the rendered rules")

    def evaluated() -> list[dict[str, Any]] | None:
        groups: list[dict[str, Any]] = http_json(
            f"{run.prometheus.url}/api/v1/rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return groups if rules and all(r["health"] != "unknown" for r in rules) else None

    groups = wait_for(evaluated, 10, run.deadline)
    if groups is None:
        report.line("FAIL", "rules evaluate", "rules not loaded or not evaluated within 10s")
        return
    broken = [f"{rule['name']}: {rule.get('lastError')}" for group in groups
              for rule in group["rules"] if rule["health"] == "err"]
    report.check(not broken, "rules evaluate",
                 f"{sum(len(g['rules']) for g in groups)} rules in {len(groups)} groups"
                 + (f"; errors: {'; '.join(broken)}" if broken else ", none failing"))


def check_targets(run: Run) -> None:
    report, jobs = run.report, run.local.jobs
    not_run = {service.value for service in NOT_RUN}

    def all_up() -> list[dict[str, Any]] | None:
        targets: list[dict[str, Any]] = http_json(
            f"{run.prometheus.url}/api/v1/targets")["data"]["activeTargets"]
        waiting = [t for t in targets if jobs.get(t["labels"]["job"]) not in not_run
                   and t["health"] != "up"]
        return None if waiting or len(targets) < len(jobs) else targets

    targets = wait_for(all_up, 20, run.deadline) or http_json(
        f"{run.prometheus.url}/api/v1/targets")["data"]["activeTargets"]
    seen = {target["labels"]["job"]: target for target in targets}
    for job, served_by in jobs.items():
        target = seen.get(job)
        check = f"target {job}"
        if served_by in not_run:
            report.line("SKIP", check, f"{served_by} {NOT_RUN_REASON}")
        elif target is None:
            report.line("FAIL", check, "not among Prometheus' active targets")
        else:
            what = "the stand-in backend" if served_by == BACKEND else served_by
            report.check(target["health"] == "up", check,
                         f"{target['health']} ({target['scrapeUrl']}, {what})"
                         + (f": {target['lastError']}" if target.get("lastError") else ""))


def check_backend_auth(run: Run) -> None:
    """The stand-in checks the token, so the backend target being up proves Prometheus sent it."""
    if run.local.backend_token_file is None:
        run.report.line("SKIP", "backend auth", "the stack's backend job sends no credentials")
        return
    try:
        with urlopen(f"{run.loop.url(BACKEND)}/metrics", timeout=5) as response:
            status = response.status
    except HTTPError as error:
        status = error.code
    run.report.check(status == 401, "backend auth",
                     f"without the bearer token the stand-in answers {status}; Prometheus "
                     "scrapes it with the stack's credentials_file")


def check_env_labels(run: Run) -> None:
    env = run.settings.environment
    jobs = [job for job, served_by in run.local.jobs.items() if served_by == BACKEND]
    if run.has_redis:
        jobs.append(Service.REDIS_EXPORTER.job)
    else:
        run.report.line("SKIP", f"env label job={Service.REDIS_EXPORTER.job}",
                        "no Redis in this stack")
    for job in jobs:
        series = run.prometheus.query(f'count({{job="{job}"}})')
        wrong = run.prometheus.query(f'count({{job="{job}", env!="{env}"}})')
        total = int(float(series[0]["value"][1])) if series else 0
        run.report.check(total > 0 and not wrong, f"env label job={job}",
                         f"{total} series, all env={env}" if not wrong else
                         f"{wrong[0]['value'][1]} of {total} series lack env={env}")


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def remote_write_body(labels: Mapping[str, str], value: float, timestamp_ms: int) -> bytes:
    """One sample as Prometheus' remote-write 1.0 WriteRequest (protobuf), snappy-framed with
    literals only (valid snappy, just uncompressed), as Tempo's metrics generator sends it."""
    series = b"".join(_field(1, _field(1, name.encode()) + _field(2, label.encode()))
                      for name, label in sorted(labels.items()))
    sample = b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(timestamp_ms)
    message = _field(1, series + _field(2, sample))
    chunks = [message[i:i + 60] for i in range(0, len(message), 60)]
    return _varint(len(message)) + b"".join(bytes([(len(c) - 1) << 2]) + c for c in chunks)


def check_remote_write(run: Run) -> None:
    """Tempo's span metrics arrive by remote write: the receiver flag must be on and working."""
    probe = {"__name__": "smoke_remote_write_probe", "env": run.settings.environment,
             "job": "smoke"}
    request = Request(f"{run.prometheus.url}/api/v1/write", method="POST", headers={
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0"},
        data=remote_write_body(probe, 1.0, int(time.time() * 1000)))
    try:
        with urlopen(request, timeout=5) as response:
            status = response.status
    except HTTPError as error:
        status = error.code
    stored = wait_for(lambda: run.prometheus.query(probe["__name__"]) or None, 5, run.deadline)
    run.report.check(status == 204 and bool(stored), "remote write",
                     f"/api/v1/write answered {status}, probe sample "
                     + ("stored" if stored else "not found"))


_PROMQL_WORDS: Final = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "on",
                                  "ignoring", "group_left", "group_right", "inf", "nan"})


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside strings, matchers, ranges and
    label lists that are not functions or keywords; histogram series counted by base name."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][\w:]*", text):
        following = text[match.end():].lstrip()[:1]
        if following != "(" and match[0] not in _PROMQL_WORDS:
            names.add(re.sub(r"_(bucket|sum|count)$", "", match[0]))
    return names


def check_dashboards(run: Run) -> None:
    report = run.report
    for model in run.rendered.dashboards:
        values = variable_values(model, run.settings.environment, run.settings.backend.job)
        for query in promql_queries(model):
            expr = plain(query.expr, values)
            check = f"query {query.dashboard} / {query.panel}"
            try:
                result = run.prometheus.query(expr)
            except ValueError as error:
                report.line("FAIL", check, f"{error} in {expr}")
                continue
            names = metric_names(query.expr)
            wanted = sorted(names & WANTED_METRICS)
            not_run = sorted(n for n in names if n.startswith(NOT_RUN_PREFIXES))
            redis = sorted(n for n in names if n.startswith("redis_"))
            if result:
                report.line("PASS", check, f"{len(result)} series")
            elif wanted:
                report.line("SKIP", check, f"ran; no data: wanted from the backend, not exported "
                                           f"yet: {', '.join(wanted)}")
            elif not_run:
                report.line("SKIP", check, f"ran; no data: {', '.join(not_run)} come from "
                                           "Loki/Tempo/Grafana, not run here")
            elif redis and not run.has_redis:
                report.line("SKIP", check, "ran; no data: no Redis in this stack")
            else:
                report.line("FAIL", check, f"no data for {expr}")


def check_alert(run: Run, name: str, severity: str, trigger: Callable[[], None]) -> bool:
    """Trigger an alert and follow it: firing in Prometheus, in Alertmanager, then notified at
    the receiver its severity routes to. Returns whether the notification arrived."""
    report, env = run.report, run.settings.environment
    config = yaml.safe_load(run.local.files[run.loop.path(
        Service.ALERTMANAGER.value, _flag_value(
            run.rendered.containers[Service.ALERTMANAGER.value]["command"], "--config.file"))])
    receiver = receiver_for(config["route"], {"alertname": name, "severity": severity, "env": env})
    notifies = any(key.endswith("_configs")
                   for key in next(r for r in config["receivers"] if r["name"] == receiver))
    trigger()
    firing = wait_for(lambda: [a for a in run.prometheus.alerts(name)
                               if a["state"] == "firing" and a["labels"]["severity"] == severity]
                      or None, ALERT_WAIT_SECONDS, run.deadline)
    if not report.check(bool(firing), f"alert {name} fires",
                        f"severity={severity} env={firing[0]['labels'].get('env')} "
                        f"value={float(firing[0]['value']):.3g}" if firing
                        else f"not firing with severity={severity} within {ALERT_WAIT_SECONDS:g}s"):
        return False
    in_manager = wait_for(lambda: [a for a in http_json(
        f"{run.loop.url(Service.ALERTMANAGER)}/api/v2/alerts?filter=alertname%3D%22{name}%22")
        if a["labels"].get("severity") == severity] or None, 20, run.deadline)
    report.check(bool(in_manager), f"alert {name} reaches Alertmanager",
                 f"state {in_manager[0]['status']['state']}" if in_manager else "not there")
    if not notifies:
        report.line("SKIP", f"alert {name} notifies",
                    f"severity {severity} routes to receiver `{receiver}`, which notifies nobody")
        return False
    sent = wait_for(lambda: run.catcher.received(alertname=name, severity=severity,
                                                 status="firing") or None, 20, run.deadline)
    ok = bool(sent) and all(n.receiver == receiver and n.env == env for n in sent or [])
    report.check(ok, f"alert {name} notifies",
                 f"catcher got {sent[0]} (expected receiver {receiver}, env {env})" if sent
                 else f"nothing at the catcher; errors: {run.catcher.errors or 'none'}")
    return ok


def check_quiet(run: Run) -> None:
    """On healthy traffic no alert is pending or firing, but those on targets not run here."""
    not_run = {service.job for service in NOT_RUN}
    alerts = http_json(f"{run.prometheus.url}/api/v1/alerts")["data"]["alerts"]
    explained = sorted({a["labels"]["alertname"] for a in alerts
                        if a["labels"].get("job") in not_run})
    noisy = sorted({f"{a['labels']['alertname']} ({a['state']}, {a['labels']})" for a in alerts
                    if a["labels"].get("job") not in not_run})
    run.report.check(not noisy, "healthy stack is quiet",
                     f"unexpected: {'; '.join(noisy)}" if noisy else
                     f"no alert but {', '.join(explained) or 'none'} on targets not run here")


def check_error_rate_alert(run: Run) -> None:
    report = run.report
    fired = check_alert(run, ERROR_RATE_ALERT, "critical", lambda: run.control(ERROR_BURST))
    if fired:
        # The warning of the same name fires too; the inhibit rule must keep it quiet.
        warnings = run.catcher.received(alertname=ERROR_RATE_ALERT, severity="warning")
        states = [a["status"] for a in http_json(
            f"{run.loop.url(Service.ALERTMANAGER)}/api/v2/alerts?filter=alertname%3D%22"
            f"{ERROR_RATE_ALERT}%22") if a["labels"].get("severity") == "warning"]
        report.check(not warnings and all(s["state"] == "suppressed" for s in states),
                     f"alert {ERROR_RATE_ALERT} warning inhibited",
                     f"Alertmanager states {[s['state'] for s in states]}, "
                     f"{len(warnings)} warning notifications")
    run.control(RECOVERY)
    if fired:
        resolved = wait_for(lambda: run.catcher.received(
            alertname=ERROR_RATE_ALERT, severity="critical", status="resolved") or None,
            ALERT_WAIT_SECONDS, run.deadline)
        report.check(bool(resolved), f"alert {ERROR_RATE_ALERT} resolves",
                     f"catcher got {resolved[0]}" if resolved
                     else f"no resolved notification within {ALERT_WAIT_SECONDS:g}s")
    run.control(BASELINE)


def check_redis(run: Run) -> None:
    if not run.has_redis:
        for check in ("redis_up", f"alert {REDIS_DOWN_ALERT}"):
            run.report.line("SKIP", check, "this stack watches no Redis (no redis-exporter "
                                           "container, no redis_exporter job, no Redis rules)")
        return
    up = run.prometheus.query(f'redis_up{{job="{Service.REDIS_EXPORTER.job}"}}')
    values = [sample["value"][1] for sample in up]
    run.report.check(values == ["1"], "redis_up", f"{values} from the exporter")
    if run.local.redis_password is None:
        run.report.line("SKIP", "redis auth", "the stack's Redis has no password")
    else:
        # Redis refuses a client without the password, so redis_up 1 means the exporter read
        # it from the stack's REDIS_PASSWORD_FILE map.
        reply = _redis_ping(run.loop.ports[REDIS]) or b""
        run.report.check(reply.startswith(b"-NOAUTH") and values == ["1"], "redis auth",
                         f"unauthenticated PING gets {reply.strip().decode(errors='replace')!r}; "
                         "the exporter got in with the password file")
    check_alert(run, REDIS_DOWN_ALERT, "critical", lambda: run.processes.stop(REDIS))


def smoke(stack: str, *, root: Path, processes: Processes, held: list[socket.socket],
          report: Report, deadline: Deadline) -> None:
    settings = stack_settings(stack)
    rendered = render(stack, root / "build", timeout=deadline.remaining())
    report.line("PASS", "render", f"{stack}: {len(rendered.containers)} containers, "
                                  f"{len(rendered.dashboards)} dashboards")
    names = [*(service.value for service in Service), BACKEND, REDIS, CATCHER]
    loop = Loopback(root, _reserve_ports(names, held))
    binaries = Binaries(
        flags={service.value: known_flags(BINARIES[service])
               for service in (Service.PROMETHEUS, Service.ALERTMANAGER, Service.REDIS_EXPORTER)},
        alertmanager_version=tool_version(BINARIES[Service.ALERTMANAGER]))
    local = localize(rendered, loop, binaries)
    catcher = Catcher(loop.ports[CATCHER])
    try:
        run = Run(stack, settings, rendered, loop, local, processes, catcher, report, deadline)
        start(run)
        check_config(run)
        run.control(BASELINE)
        check_targets(run)
        check_backend_auth(run)
        check_remote_write(run)
        time.sleep(min(SETTLE_SECONDS, deadline.remaining()))
        check_env_labels(run)
        check_dashboards(run)
        check_quiet(run)
        check_error_rate_alert(run)
        check_redis(run)
    finally:
        catcher.close()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through every `finally`, which stops the children.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=("staging", "production"))
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_SECONDS,
                        help="seconds the whole run may take")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, data)")
    args = parser.parse_args(argv)
    missing = [binary for binary in BINARIES.values() if shutil.which(binary) is None]
    if missing:
        print(f"FAIL tools: not installed: {', '.join(missing)}")
        return 2
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, _exit_on_signal)
    started = time.monotonic()
    deadline = Deadline(args.budget)
    report = Report()
    root = Path(tempfile.mkdtemp(prefix=f"gatewayz-smoke-{args.stack}-"))
    processes = Processes(root / "logs")
    atexit.register(processes.stop_all)
    held: list[socket.socket] = []
    try:
        smoke(args.stack, root=root, processes=processes, held=held, report=report,
              deadline=deadline)
    except (SetupError, subprocess.SubprocessError, OSError, ValueError, KeyError) as error:
        report.line("FAIL", "run", f"{type(error).__name__}: {error}")
    finally:
        processes.stop_all()
        for sock in held:
            sock.close()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if deadline.remaining() == 0:
        report.line("FAIL", "budget", f"the run used its whole {args.budget:g}s budget")
    print(f"{args.stack}: {time.monotonic() - started:.0f}s")
    print(report.summary())
    return 1 if report.counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())

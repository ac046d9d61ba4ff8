"""The smoke test's world, as session fixtures with guaranteed teardown: a Docker engine, the
local images of the pinned releases, the stack's network, the host's stand-ins (the GatewayZ
backend, Redis, a webhook catcher) on that network's gateway, and the rendered containers.

`make smoke STACK=...` runs `pytest tests/smoke -m smoke --stack ...`. Whatever a fixture starts,
its teardown removes, also when a test fails or the run is interrupted (SIGINT or SIGTERM);
leftovers of a run killed harder are removed before the next one starts.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final

import docker
import httpx
import pytest
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container
from docker.models.networks import Network
from docker.types import IPAMConfig, IPAMPool

from configs.prometheus import RESEND_DELAY_FLAG
from configs.rules.watchdog import WATCHDOG
from review.mock_runtime import stack_settings
from review.render import Rendered, load, render
from services import SERVICES, Service
from settings import Platform, Settings
from settings.stack_file import ROOT
from tests.smoke.clients import Alertmanager, Catcher, Prometheus
from tests.smoke.containers import Health, create, logs_tail, wait_healthy
from tests.smoke.localize import (
    FILES_SUFFIX,
    NAME_PREFIX,
    NOT_RUN,
    RUN,
    SMOKE_OVERRIDES,
    ContainerPlan,
    Host,
    flag_value,
    localize,
    nanoseconds,
)
from tests.support.waiting import wait_until
from toolchain import images, releases
from toolchain.cache import BuildError
from toolchain.dockerd import TEST_GATEWAY, TEST_SUBNET, Engine, EngineError, engine

STARTUP_SECONDS: Final = 20.0
LOGS_DIR: Final = ROOT / "build" / "smoke-logs"
STOP_SECONDS: Final = 5.0
# util-linux's setpriv makes the kernel kill a child when pytest dies, even by SIGKILL.
_DIE_WITH_PARENT: Final = (("setpriv", "--pdeathsig", "KILL", "--") if shutil.which("setpriv")
                           else ())
# What the report prints at the end: the versions each service's build-info API reported.
VERSIONS: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.smoke)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # pytest tears every fixture down on KeyboardInterrupt; a plain SIGTERM would skip that.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_sessionstart(session: pytest.Session) -> None:
    if session.config.getoption("--stack"):
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGHUP, _interrupt)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report carries each container's last log lines; the whole logs go to
    build/smoke-logs/<stack>/<test>/, as the fixtures remove the containers at the end."""
    report = yield
    if report.failed and LIVE:
        out = LOGS_DIR / str(item.config.getoption("--stack")) / item.name
        out.mkdir(parents=True, exist_ok=True)
        for service, container in sorted(LIVE[-1].containers.items()):
            try:
                text = container.logs(timestamps=True).decode(errors="replace")
            except DockerException as error:
                text = f"(no logs: {error})"
            (out / f"{service}.log").write_text(text)
            tail = "\n".join(text.splitlines()[-LOG_LINES:])
            report.sections.append((f"{service} container log (last {LOG_LINES} lines)", tail))
        report.sections.append(("container logs", f"all of them in {out}"))
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    stack = config.getoption("--stack")
    if not stack:
        return
    write = terminalreporter.write_line
    for service, version in sorted(VERSIONS.items()):
        write(f"ran {service} {version}")
    write(f"not run: {', '.join(s.value for s in NOT_RUN)} (AGPL: no image can be built here; "
          "their configs are checked against their releases' key references; "
          "test_standins.py runs stand-ins of them)")
    ran_here = sorted(LIVE[-1].containers) if LIVE else list(RUN)
    ran, not_run = (", ".join(s.value for s in group) for group in (ran_here, NOT_RUN))
    write(f"hardening proven on the running containers of {ran} and the stand-ins "
          "(capabilities, no-new-privileges, read-only root and files, tmpfs, CPU and memory "
          f"limits, user); unproven here: whether {not_run} themselves run under it (their "
          "settings are checked against their releases' references only)")
    if LIVE:
        write(f"first {WATCHDOG} at Alertmanager "
              f"{LIVE[-1].watchdog_delivery_seconds:.1f}s after it fired")
    passed = len(terminalreporter.stats.get("passed", []))
    failed = len(terminalreporter.stats.get("failed", [])) + len(
        terminalreporter.stats.get("error", []))
    write(f"smoke {stack}: {passed} passed, {failed} failed")


# --- the stack as rendered -------------------------------------------------------------------


@pytest.fixture(scope="session")
def stack_name(request: pytest.FixtureRequest) -> str:
    stack = request.config.getoption("--stack")
    if not stack:
        pytest.fail("the smoke test needs --stack staging|production (make smoke STACK=...)")
    return str(stack)


@pytest.fixture(scope="session")
def settings(stack_name: str) -> Settings:
    settings = stack_settings(stack_name, SMOKE_OVERRIDES.get(stack_name))
    if settings.platform is not Platform.DOCKER:
        pytest.fail(f"the smoke test runs a Docker stack's containers; {stack_name} is a "
                    f"{settings.platform} stack: `make engine STACK={stack_name}` runs it")
    return settings


@pytest.fixture(scope="session")
def rendered(stack_name: str, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    out = tmp_path_factory.mktemp("rendered")
    render(stack_name, out, SMOKE_OVERRIDES.get(stack_name))
    return load(out)


# --- Docker ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    try:
        with engine() as running:
            yield running
    except EngineError as error:
        pytest.fail(f"no Docker engine: {error}")


@pytest.fixture(scope="session")
def local_images(docker_engine: Engine) -> Mapping[Service, str]:
    """The pinned releases' images, built (or found cached) by `make tools` and `make images`."""
    try:
        releases.ensure(report=False)
        images.build_images(docker_engine.client)
    except (BuildError, images.ImageError, DockerException) as error:
        pytest.fail(f"the local images could not be built: {error}")
    return {release.service: images.image_tag(release) for release in releases.RELEASES}


def _remove_leftovers(client: docker.DockerClient) -> None:
    """What a run killed by SIGKILL left: containers, volumes and networks of ours."""
    # The services before the files containers whose volumes they mount, so those go too.
    for container in sorted(client.containers.list(all=True, filters={"name": NAME_PREFIX}),
                            key=lambda one: (one.name or "").endswith(FILES_SUFFIX)):
        if (container.name or "").startswith(NAME_PREFIX):
            container.remove(force=True, v=True)
    for volume in client.volumes.list():
        if volume.name.startswith(NAME_PREFIX):
            volume.remove(force=True)
    for network in client.networks.list():
        if (network.name or "").startswith(NAME_PREFIX):
            network.remove()


@pytest.fixture(scope="session")
def network(docker_engine: Engine, rendered: Rendered) -> Iterator[Network]:
    """The stack's network, on the one fixed test subnet; containers and volumes of the run are
    removed with it."""
    client = docker_engine.client
    _remove_leftovers(client)
    (name,) = {NAME_PREFIX + spec["networksAdvanced"][0]["name"]
               for spec in rendered.containers.values()}
    created = client.networks.create(name, driver="bridge", ipam=IPAMConfig(
        pool_configs=[IPAMPool(subnet=TEST_SUBNET, gateway=TEST_GATEWAY)]))
    try:
        yield created
    finally:
        _remove_leftovers(client)


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def host(local_images: Mapping[Service, str], network: Network, rendered: Rendered) -> Host:
    published = {(Service(service), int(port["internal"])): _free_port("127.0.0.1")
                 for service, spec in rendered.containers.items()
                 for port in spec.get("ports", [])}
    return Host(images=local_images, published=published, gateway=TEST_GATEWAY,
                backend_port=_free_port(TEST_GATEWAY), redis_port=_free_port(TEST_GATEWAY),
                catcher_port=_free_port(TEST_GATEWAY))


@pytest.fixture(scope="session")
def plans(rendered: Rendered, host: Host) -> dict[Service, ContainerPlan]:
    return localize(rendered, host)


# --- the host's stand-ins --------------------------------------------------------------------


@contextlib.contextmanager
def host_process(name: str, argv: list[str], logs: Path,
                 ready: Callable[[], bool | None]) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group, ready before the block runs, killed after it."""
    log_path = logs / f"{name}.log"
    with log_path.open("wb") as log:
        child = subprocess.Popen([*_DIE_WITH_PARENT, *argv], cwd=ROOT, stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                 env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    def answers() -> bool | None:
        if child.poll() is not None:
            pytest.fail(f"{name} exited {child.returncode} ({' '.join(argv)}): "
                        f"{log_path.read_text(errors='replace').strip()[-800:]}")
        return ready()

    try:
        wait_until(f"{name} to answer ({' '.join(argv)})", STARTUP_SECONDS, answers,
                   detail=lambda: log_path.read_text(errors="replace").strip()[-800:])
        yield child
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, sig)
            try:
                child.wait(timeout=STOP_SECONDS)
                break
            except subprocess.TimeoutExpired:
                continue


@dataclass(frozen=True)
class Backend:
    url: str
    token: str | None

    def control(self, **traffic: float) -> None:
        httpx.post(f"{self.url}/control", params={k: str(v) for k, v in traffic.items()},
                   timeout=5).raise_for_status()


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def backend(host: Host, plans: dict[Service, ContainerPlan], logs: Path) -> Iterator[Backend]:
    """The stand-in GatewayZ backend, guarded by the token Prometheus' credentials file holds."""
    prometheus = plans[Service.PROMETHEUS]
    # The files the scrape jobs' `authorization` names (Grafana's basic auth has its own).
    tokens = [prometheus.file(job["authorization"]["credentials_file"])
              for job in prometheus.config()["scrape_configs"] if "authorization" in job]
    argv = [sys.executable, "-m", "tests.smoke.backend", "--host", host.gateway, "--port",
            str(host.backend_port), "--max-seconds", "900"]
    if tokens:
        token_file = logs / "backend-token"
        token_file.write_text(tokens[0])
        token_file.chmod(0o600)
        argv += ["--token-file", str(token_file)]
    url = host.url(host.backend_port)
    with host_process("backend", argv, logs,
                      lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200 or None):
        yield Backend(url, tokens[0] if tokens else None)


@dataclass(frozen=True)
class Redis:
    port: int
    user: str | None
    password: str | None
    process: subprocess.Popen[bytes]

    def ping(self, host: str) -> bytes:
        """Redis' reply to an unauthenticated PING: `+PONG`, or `-NOAUTH` when it wants a
        password."""
        with socket.create_connection((host, self.port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=STOP_SECONDS)


@pytest.fixture(scope="session")
def redis(host: Host, plans: dict[Service, ContainerPlan], logs: Path) -> Iterator[Redis | None]:
    """The Redis the exporter watches, with the stack's password when it has one (for the
    stack's ACL user alone, the default user off, when it names one); none when the stack
    watches no Redis."""
    exporter = plans.get(Service.REDIS_EXPORTER)
    if exporter is None:
        yield None
        return
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.fail("redis-server is not installed (Debian: apt-get install redis-server)")
    password = next((str(value) for u in exporter.uploads if u.owner is not None
                     for value in json.loads(u.content).values()), None)
    data = logs / "redis"
    data.mkdir()
    # No persistence; a maxmemory so the memory panels and RedisMemoryNearMax have a limit to
    # compare against, as production has.
    lines = [f"bind {host.gateway}", f"port {host.redis_port}", 'save ""', "appendonly no",
             f"dir {data}", "maxmemory 64mb", "protected-mode yes"]
    user = exporter.env.get("REDIS_USER")
    if password is not None and user:
        lines += ["user default off", f"user {user} on >{password} ~* &* +@all"]
    elif password is not None:
        lines.append(f"requirepass {password}")
    conf = data / "redis.conf"
    conf.write_text("\n".join(lines) + "\n")
    conf.chmod(0o600)

    def answers() -> bool | None:
        with socket.create_connection((host.gateway, host.redis_port), timeout=2):
            return True

    with host_process("redis", [redis_server, str(conf)], logs, answers) as process:
        yield Redis(host.redis_port, user, password, process)


@pytest.fixture(scope="session")
def catcher(host: Host) -> Iterator[Catcher]:
    caught = Catcher(host.gateway, host.catcher_port)
    try:
        yield caught
    finally:
        caught.close()


# --- the containers --------------------------------------------------------------------------


@dataclass
class Running:
    containers: dict[Service, Container]
    health: dict[Service, Health]
    # From the Watchdog's first firing in Prometheus to its arrival at Alertmanager.
    watchdog_delivery_seconds: float


# Running, once the `running` fixture has it: what a failed test's report shows the logs of.
LIVE: list[Running] = []
LOG_LINES: Final = 40


@pytest.fixture(scope="session")
def running(docker_engine: Engine, network: Network, plans: dict[Service, ContainerPlan],
            backend: Backend, redis: Redis | None, catcher: Catcher) -> Running:
    """Every planned container created, then each waited for as Pulumi's `wait` does, and the
    first Watchdog's way from Prometheus to Alertmanager timed.

    Prometheus first, and the others only once its Watchdog fires: `pulumi up` starts them in
    any order (nothing makes one wait for the other), and this is the worst one: its first
    sends find no Alertmanager to resolve. The run times the Watchdog's way from there.
    """
    client = docker_engine.client
    containers: dict[Service, Container] = {}
    created: dict[Service, float] = {}
    running = Running(containers, {}, math.inf)
    LIVE.append(running)
    prometheus_plan = plans[Service.PROMETHEUS]
    prometheus = Prometheus(published_url(prometheus_plan,
                                          SERVICES[Service.PROMETHEUS].http_port))
    try:
        for service in sorted(plans, key=lambda service: service is not Service.PROMETHEUS):
            containers[service] = create(client, plans[service])
            created[service] = time.monotonic()
            if service is Service.PROMETHEUS:
                wait_until(f"{WATCHDOG} firing in Prometheus", prometheus_plan.wait_timeout_seconds,
                           lambda: prometheus.alerts(WATCHDOG),
                           detail=lambda: logs_tail(containers[Service.PROMETHEUS]))
    except (APIError, NotFound) as error:
        pytest.fail(f"creating the containers failed: {error}")
    running.watchdog_delivery_seconds = _first_watchdog_delivery(running, plans, prometheus)
    running.health.update({
        service: wait_healthy(container, plans[service].wait_timeout_seconds, created[service])
        for service, container in containers.items()})
    return running


def _first_watchdog_delivery(running: Running, plans: Mapping[Service, ContainerPlan],
                             prometheus: Prometheus) -> float:
    """Seconds from the Watchdog's first firing in Prometheus (its `activeAt`) to Alertmanager
    holding it. Waits up to twice the resend delay and the healthcheck grace: longer is a stack
    that does not alert at all."""
    prometheus_plan = plans[Service.PROMETHEUS]
    manager = Alertmanager(published_url(plans[Service.ALERTMANAGER],
                                         SERVICES[Service.ALERTMANAGER].http_port))
    deadline = 2 * resend_delay_seconds(prometheus_plan) + prometheus_plan.wait_timeout_seconds

    def logs() -> str:
        return "\n".join(f"{service}: {logs_tail(container)}"
                         for service, container in running.containers.items())

    wait_until(f"{WATCHDOG} at Alertmanager", deadline, lambda: manager.alerts(WATCHDOG),
               detail=logs)
    arrived = time.time()
    (firing,) = prometheus.alerts(WATCHDOG)
    return arrived - rfc3339_seconds(firing["activeAt"])


def resend_delay_seconds(plan: ContainerPlan) -> float:
    """Prometheus' `--rules.alert.resend-delay` as the program renders it."""
    return nanoseconds(flag_value(plan.command, RESEND_DELAY_FLAG)) / 1e9


def rfc3339_seconds(text: str) -> float:
    """Prometheus' RFC 3339 timestamps carry nanoseconds; datetime takes microseconds."""
    stamp = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


def published_url(plan: ContainerPlan, port: int) -> str:
    host_ip, host_port = plan.ports[port]
    return f"http://{host_ip}:{host_port}"


@pytest.fixture(scope="session")
def prometheus(running: Running, plans: dict[Service, ContainerPlan]) -> Prometheus:
    return Prometheus(published_url(plans[Service.PROMETHEUS],
                                    SERVICES[Service.PROMETHEUS].http_port))


@pytest.fixture(scope="session")
def alertmanager(running: Running, plans: dict[Service, ContainerPlan]) -> Alertmanager:
    return Alertmanager(published_url(plans[Service.ALERTMANAGER],
                                      SERVICES[Service.ALERTMANAGER].http_port))

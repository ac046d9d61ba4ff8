"""The engine tier's fixtures: the real Pulumi CLI (`make tools`) on a copy of the project, a
file backend, a passphrase and PULUMI_HOME in a temporary directory, and the Docker engine
`toolchain.dockerd.engine()` gives. One stack per run (`make engine STACK=...`, docs/engine.md).

Every fixture's teardown runs also when a step fails: the stack is unprotected, destroyed and
removed, and whatever of it is left on the engine (containers, networks, volumes named
`gatewayz-<environment>...`) is removed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import docker
import pytest
from docker.errors import DockerException, NotFound

from services import SERVICES, Port, Service
from settings.keys import KEYS, camel
from tests.support.tools import missing, require_engine
from toolchain import dockerd, images, releases
from toolchain.cache import BuildError

REPO: Final = Path(__file__).resolve().parents[2]
# What `pulumi up` runs of the repository: the program and the packages it imports.
PROJECT_FILES: Final = ("Pulumi.yaml", "__main__.py", "services.py")
PROJECT_PACKAGES: Final = ("components", "configs", "settings")
NAMESPACE: Final = "gatewayz-observability"
SENTINEL: Final = "ENGINE-SENTINEL-"
# Services that run from a labelled stand-in image (AGPL: nothing of them is built here).
STANDINS: Final = (Service.LOKI, Service.TEMPO, Service.GRAFANA)
COMMAND_SECONDS: Final = 900
# Step timings and results, for the terminal summary.
TIMINGS: dict[str, float] = {}


def sentinel(key: str) -> str:
    """A secret's value in this run: findable in the state, reaching nothing."""
    if key.endswith("Url"):
        # Secret URLs are validated as URLs; the container's own loopback answers nothing.
        return f"http://127.0.0.1:9/{SENTINEL}{key}"
    return f"{SENTINEL}{key}"


SECRET_VALUES: Final[Mapping[str, str]] = {key.name: sentinel(key.name)
                                           for key in KEYS if key.secret}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cli:
    """The Pulumi CLI on one stack of the project copy, with the run's own environment."""

    stack: str
    project: Path
    backend: Path
    env: Mapping[str, str]
    log: list[str] = field(default_factory=list)

    def run(self, *args: str, check: bool = True,
            timeout: float = COMMAND_SECONDS) -> subprocess.CompletedProcess[str]:
        # The stack's flags before any `--`, after which everything is a value.
        split = args.index("--") if "--" in args else len(args)
        command = ["pulumi", *args[:split], "--stack", self.stack, "--non-interactive",
                   *args[split:]]
        result = subprocess.run(command, cwd=self.project, env=dict(self.env),
                                capture_output=True, text=True, timeout=timeout, check=False)
        self.log.append(f"$ {' '.join(command)} -> {result.returncode}")
        if check and result.returncode != 0:
            pytest.fail(f"`{' '.join(command)}` exited {result.returncode}:\n"
                        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    def config_set(self, key: str, value: str, *, secret: bool = False) -> None:
        flags = ["--secret"] if secret else []
        # The value after `--`, so a sentinel is never read as a flag.
        self.run("config", "set", *flags, f"{NAMESPACE}:{key}", "--", value)

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        flags = ["--show-secrets"] if show_secrets else []
        return dict(json.loads(self.run("stack", "output", "--json", *flags).stdout))


@pytest.fixture(scope="session")
def stack_name(request: pytest.FixtureRequest) -> str:
    stack = request.config.getoption("--stack")
    if not stack:
        pytest.fail("the engine tier needs --stack staging|production (make engine STACK=...)")
    return str(stack)


@pytest.fixture(scope="session")
def environment(stack_name: str) -> str:
    """The run's `environment`: every container, volume and network name derives from it
    (`gatewayz-<environment>...`), so a run never meets a deployed stack or the smoke test."""
    return f"engine-{stack_name}"


@pytest.fixture(scope="session")
def engine_bin() -> Path:
    return require_engine()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[dockerd.Engine]:
    try:
        with dockerd.engine() as running:
            yield running
    except dockerd.EngineError as error:
        missing(f"no Docker engine: {error}")


@pytest.fixture(scope="session")
def local_images(docker_engine: dockerd.Engine) -> Mapping[Service, str]:
    """The pinned releases' local builds and the labelled stand-ins (`make images`)."""
    try:
        images.build_images(docker_engine.client)
    except (BuildError, images.ImageError, DockerException) as error:
        pytest.fail(f"the local images could not be built: {error}")
    return {**{release.service: images.image_tag(release) for release in releases.RELEASES},
            **images.standin_images()}


@pytest.fixture(scope="session")
def policy_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the policy pack, with the repository's policy/.venv linked (Makefile)."""
    venv = REPO / "policy" / ".venv"
    if not (venv / ".installed").exists():
        missing("the policy pack's virtualenv is not built: run `make policy/.venv/.installed`")
    pack = tmp_path_factory.mktemp("policy") / "policy"
    shutil.copytree(REPO / "policy", pack, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    (pack / ".venv").symlink_to(venv)
    return pack


def overrides(stack_name: str, environment: str,
              local_images: Mapping[Service, str]) -> dict[str, str]:
    """What the run changes in the stack's settings, each through `pulumi config set` so the
    program's own validation applies: names, images, loopback ports, nothing outside."""
    changed = {"environment": environment,
               # Nothing listens there; the scrape fails inside the stack's network.
               "backendMetricsUrl": f"https://127.0.0.1:{free_port()}/metrics"}
    for service, image in local_images.items():
        changed[f"{camel(service)}Image"] = image
    for port in Port:
        changed[f"{port}Bind"] = f"127.0.0.1:{free_port()}"
    stack_file = (REPO / f"Pulumi.{stack_name}.yaml").read_text()
    if f"{NAMESPACE}:redisAddress" in stack_file:
        changed["redisAddress"] = f"redis://127.0.0.1:{free_port()}"
    return changed


def _of_stack(client: docker.DockerClient, environment: str) -> list[tuple[str, Any]]:
    """The stack's containers, networks and volumes on the engine (names `gatewayz-<env>...`)."""
    prefix = f"gatewayz-{environment}"
    found: list[tuple[str, Any]] = []
    for kind, objects in (("container", client.containers.list(all=True)),
                          ("network", client.networks.list()),
                          ("volume", client.volumes.list())):
        found += [(kind, one) for one in objects if (one.name or "").startswith(prefix)]
    return found


def leftovers(client: docker.DockerClient, environment: str) -> list[str]:
    """What of the stack is on the engine, as `<kind> <name>`."""
    return [f"{kind} {one.name}" for kind, one in _of_stack(client, environment)]


def remove_leftovers(client: docker.DockerClient, environment: str) -> None:
    # Containers first: a network or volume in use cannot go; a service before the files
    # container whose anonymous volumes it mounts, so those go with it.
    for kind, one in sorted(_of_stack(client, environment),
                            key=lambda found: (found[0] != "container",
                                               (found[1].name or "").endswith("-files"))):
        with suppress(NotFound):
            if kind == "container":
                one.remove(force=True, v=True)
            elif kind == "network":
                one.remove()
            else:
                one.remove(force=True)


def copy_project(root: Path, stack_name: str, *, with_make: bool = False) -> Path:
    """What `pulumi up` runs of the repository, copied under `root`, in the repository's
    virtualenv (Pulumi.yaml: `virtualenv: .venv`); `with_make` adds what `make preview` needs
    (the Makefile, its requirements stamps, the policy pack with its built .venv)."""
    project = root / "project"
    project.mkdir()
    files: list[str] = [*PROJECT_FILES, f"Pulumi.{stack_name}.yaml"]
    if with_make:
        files += ["Makefile", "requirements.txt", "requirements-dev.txt"]
    for name in files:
        shutil.copy2(REPO / name, project / name)
    for package in PROJECT_PACKAGES:
        shutil.copytree(REPO / package, project / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".venv").symlink_to(REPO / ".venv")
    if with_make:
        shutil.copytree(REPO / "policy", project / "policy",
                        ignore=shutil.ignore_patterns(".venv", "__pycache__"))
        (project / "policy" / ".venv").symlink_to(REPO / "policy" / ".venv")
    return project


def engine_env(root: Path, engine_bin: Path, docker_engine: dockerd.Engine) -> dict[str, str]:
    """The environment of the run's pulumi commands: the engine on PATH, PULUMI_HOME under
    `root`, no plugin download, no access token, the test's Docker engine. The backend and the
    passphrase are the caller's."""
    env = {**os.environ,
           "PATH": os.pathsep.join((str(engine_bin), str(REPO / ".venv" / "bin"),
                                    os.environ.get("PATH", ""))),
           "PULUMI_HOME": str(root / "home"),
           "PULUMI_SKIP_UPDATE_CHECK": "true",
           # Offline: the plugins are the engine's on PATH, never a download.
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
           "DOCKER_HOST": docker_engine.base_url}
    for inherited in ("PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE",
                      "PULUMI_CONFIG_PASSPHRASE_FILE"):
        env.pop(inherited, None)
    return env


@pytest.fixture(scope="module")
def cli(stack_name: str, environment: str, engine_bin: Path, docker_engine: dockerd.Engine,
        local_images: Mapping[Service, str],
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The stack created on a copy of the project: the repo's stack file, every secret a
    sentinel, the overrides set. Teardown destroys it and removes what is left."""
    root = tmp_path_factory.mktemp(f"engine-{stack_name}")
    project = copy_project(root, stack_name)
    backend = root / "state"
    backend.mkdir()
    env = {**engine_env(root, engine_bin, docker_engine),
           "PULUMI_BACKEND_URL": f"file://{backend}",
           "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24)}
    run = Cli(stack_name, project, backend, env)
    remove_leftovers(docker_engine.client, environment)
    with ExitStack() as cleanup:
        cleanup.callback(remove_leftovers, docker_engine.client, environment)
        cleanup.callback(_destroy, run)
        run.run("stack", "init", "--secrets-provider", "passphrase")
        for key, value in SECRET_VALUES.items():
            run.config_set(key, value, secret=True)
        for key, value in overrides(stack_name, environment, local_images).items():
            run.config_set(key, value)
        yield run


def _destroy(run: Cli) -> None:
    run.run("state", "unprotect", "--all", "--yes", check=False)
    run.run("destroy", "--yes", "--skip-preview", check=False)
    run.run("stack", "rm", "--yes", "--force", check=False)


@pytest.fixture
def timed(request: pytest.FixtureRequest) -> Iterator[None]:
    start = time.monotonic()
    yield
    TIMINGS[request.node.name] = time.monotonic() - start


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    stack = config.getoption("--stack")
    stats = terminalreporter.stats
    ran = {status: [report for report in stats.get(status, [])
                    if getattr(report, "nodeid", "").startswith("tests/engine/")]
           for status in ("passed", "failed", "error")}
    if not stack or not any(ran.values()):
        return
    write = terminalreporter.write_line
    write(f"ran the containers' stack ({NAMESPACE}, stack {stack}) with the Pulumi CLI, the "
          "Python language host and the docker provider of `make tools`, a file backend and a "
          "passphrase in a temporary directory")
    run_here = [s for s in SERVICES if s is not Service.REDIS_EXPORTER or stack == "production"]
    write("ran from local builds of the pinned releases: "
          f"{', '.join(s.value for s in run_here if s not in STANDINS)}")
    write("ran as labelled stand-ins (org.gatewayz.standin=true), not the real services: "
          f"{', '.join(s.value for s in STANDINS)}")
    write("not run: the Grafana content project (content/), whose Grafana plugin cannot be "
          "built here")
    for name, seconds in TIMINGS.items():
        write(f"{name}: {seconds:.1f}s")
    passed = len(ran["passed"])
    failed = len(ran["failed"]) + len(ran["error"])
    write(f"engine {stack}: {passed} passed, {failed} failed")

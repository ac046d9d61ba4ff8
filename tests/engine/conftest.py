"""The engine tier's fixtures: the real Pulumi CLI (`make tools`) on a copy of the project, a
file backend, a passphrase and PULUMI_HOME in a temporary directory, and the Docker engine
`toolchain.dockerd.engine()` gives. One stack per run (`make engine STACK=...`, docs/engine.md).
A stack of `platform: kubernetes` (`STACK=cluster`) runs tests/engine/kubernetes/ alone, whose
conftest puts it on the tests' control plane: no Docker fixture here starts for it.

The stack is `engine-<stack>`, a copy of `Pulumi.<stack>.yaml` under that name: every Docker
name derives from the stack's name (`gatewayz-engine-<stack>...`), so a run never meets a
deployed stack or the smoke test, and `environment` stays the real stack's label.

Every fixture's teardown runs also when a step fails: the stack is unprotected, destroyed and
removed, and whatever of it is left on the engine (containers, networks, volumes named
`gatewayz-engine-<stack>...`) is removed.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final, NoReturn

import pytest
from docker.errors import DockerException

from review.mock_runtime import stack_settings
from services import SERVICES, Service
from settings import Platform
from tests.support.cluster import AWAITS_NEEDING_NODES
from tests.support.tools import missing, require_engine
from toolchain import dockerd, engine_run, images
from toolchain.cache import BuildError
from toolchain.engine_run import (
    NAMESPACE,
    REPO,
    overrides,
    remove_leftovers,
)

# Services that run from a labelled stand-in image (AGPL: nothing of them is built here).
STANDINS: Final = (Service.LOKI, Service.TEMPO, Service.GRAFANA)
# Step timings and results, for the terminal summary.
TIMINGS: dict[str, float] = {}


class Cli(engine_run.Cli):
    """The shared CLI runner, a command that must succeed failing the test."""

    def fail(self, message: str) -> NoReturn:
        pytest.fail(message)


@pytest.fixture(scope="session")
def stack_name(request: pytest.FixtureRequest) -> str:
    stack = request.config.getoption("--stack")
    if not stack:
        pytest.fail("the engine tier needs --stack staging|production|cluster|dev "
                    "(make engine STACK=...)")
    return str(stack)


@pytest.fixture(scope="session")
def engine_stack(stack_name: str) -> str:
    """The run's stack: a copy of `stack_name`'s stack file under its own name, which every
    container, volume and network name derives from."""
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
    return images.local_images()


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


@pytest.fixture(scope="module")
def cli(stack_name: str, engine_stack: str, engine_bin: Path, docker_engine: dockerd.Engine,
        local_images: Mapping[Service, str],
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The stack created on a copy of the project: the repo's stack file as `engine-<stack>`'s,
    every secret a sentinel, the overrides set. Teardown destroys it and removes what is left."""
    root = tmp_path_factory.mktemp(engine_stack)
    run = engine_run.new_cli(Cli, root, stack_name, engine_bin, docker_engine,
                             as_stack=engine_stack)
    remove_leftovers(docker_engine.client, engine_stack)
    with ExitStack() as cleanup:
        cleanup.callback(remove_leftovers, docker_engine.client, engine_stack)
        cleanup.callback(engine_run.destroy, run)
        engine_run.create_stack(run, overrides(stack_name, local_images))
        yield run


@pytest.fixture
def timed(request: pytest.FixtureRequest) -> Iterator[None]:
    start = time.monotonic()
    yield
    TIMINGS[request.node.name] = time.monotonic() - start


# The module that runs `make up` on the local dev stack (`make engine STACK=dev`), and the
# folder that runs a stack of `platform: kubernetes`; the other modules run a Docker stack from
# its stack file.
DEV_MODULE: Final = "test_make_up.py"
KUBERNETES_TESTS: Final = Path(__file__).parent / "kubernetes"


def on_kubernetes(stack: str | None) -> bool:
    """Whether `stack`'s file runs it on a Kubernetes cluster (`platform: kubernetes`)."""
    if stack is None or stack == "dev":
        return False
    return stack_settings(stack).platform is Platform.KUBERNETES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--stack dev` runs the dev stack's module alone, a Kubernetes stack the kubernetes/
    folder alone, a Docker stack every other module."""
    stack = config.getoption("--stack")
    here = Path(__file__).parent
    kubernetes = on_kubernetes(stack)

    def runs(path: Path) -> bool:
        if kubernetes:
            return path.parent == KUBERNETES_TESTS
        return path.parent == here and (path.name == DEV_MODULE) == (stack == "dev")

    off = [item for item in items if item.path.is_relative_to(here) and not runs(item.path)]
    if off:
        config.hook.pytest_deselected(items=off)
        items[:] = [item for item in items if item not in off]


def _what_ran(stack: str) -> list[str]:
    """The summary's account of what the run was, on which platform."""
    if on_kubernetes(stack):
        skipped = ", ".join(kind.rsplit(":", 1)[-1] for kind in AWAITS_NEEDING_NODES)
        return [
            f"ran the cluster's objects (stack engine-{stack}, a copy of {stack}'s stack file) "
            "with the Pulumi CLI, the Python language host and the kubernetes provider of `make "
            "tools`, a file backend and a passphrase in a temporary directory",
            "against the tests' control plane (etcd, kube-apiserver, kube-controller-manager of "
            "`make tools`; no kubelet, scheduler or Docker): every object admitted and stored, "
            "no pod run",
            "awaits that need nodes skipped by the test's own stack transform "
            f"(pulumi.com/skipAwait): {skipped}",
            "not run: the Grafana content project (content/); the policy pack, whose policies "
            f"judge Docker containers and volumes and Grafana resources, none of which {stack} "
            "has"]
    ran_as = "dev" if stack == "dev" else f"engine-{stack}, a copy of {stack}'s stack file"
    # Staging alone watches no Redis.
    run_here = [s for s in SERVICES if s is not Service.REDIS_EXPORTER or stack != "staging"]
    return [
        f"ran the containers' stack ({NAMESPACE}, stack {ran_as}) with the Pulumi CLI, the "
        "Python language host and the docker provider of `make tools`, a file backend and a "
        "passphrase in a temporary directory",
        "ran from local builds of the pinned releases: "
        f"{', '.join(s.value for s in run_here if s not in STANDINS)}",
        "ran as labelled stand-ins (org.gatewayz.standin=true), not the real services: "
        f"{', '.join(s.value for s in STANDINS)}",
        "not run: the Grafana content project (content/), whose Grafana plugin cannot be "
        "built here"]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    stack = config.getoption("--stack")
    stats = terminalreporter.stats
    ran = {status: [report for report in stats.get(status, [])
                    if getattr(report, "nodeid", "").startswith("tests/engine/")]
           for status in ("passed", "failed", "error")}
    if not stack or not any(ran.values()):
        return
    write = terminalreporter.write_line
    for line in _what_ran(stack):
        write(line)
    for name, seconds in TIMINGS.items():
        write(f"{name}: {seconds:.1f}s")
    passed = len(ran["passed"])
    failed = len(ran["failed"]) + len(ran["error"])
    write(f"engine {stack}: {passed} passed, {failed} failed")

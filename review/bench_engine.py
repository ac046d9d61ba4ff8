"""Our `pulumi up` against `docker compose up --wait` on the same Docker engine, the same local
images and the same containers, side by side in one run: `make bench-engine STACK=...`.

Per round, on each side (the order alternating between rounds): a cold deploy until every
container is healthy, a no-op preview (compose: `--dry-run up`), a no-op deploy, a one-setting
change to Prometheus (`metricsRetentionTime`) with Prometheus' downtime (its `/-/ready` on the
published port polled from the moment the update starts until it answers again), and the
teardown. Ours runs the real CLI on a throw-away stack (toolchain/engine_run.py, as the engine
tier does); compose runs the project review/compose_file.py writes from the program's own
containers under mocks (regenerated from the changed setting for the change). The two use
different stack names (`bench-pulumi-<stack>`, `bench-compose-<stack>`, each with the stack's
own file and `environment`: every Docker name, which derives from the stack's name, differs)
and different loopback ports, and everything either created is removed at the end, also on
failure. Then, once, where our time goes: the CLI alone, an empty program, one docker resource,
the program under mocks, `--refresh`, the provider's gRPC calls, and checkpoints skipped.

Prints each figure (median of the rounds, and the range) with its ratio to compose's, and writes
every measurement to build/bench-engine-<stack>.json. docs/benchmark.md has the figures.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final

import docker
import httpx
from docker.errors import DockerException

from review import compose_file
from review.mock_runtime import ProgramRun, run_program, stack_config, stack_settings
from services import Service, docker_prefix
from toolchain import compose as compose_build
from toolchain import dockerd, engine_run, images, pulumi_engine
from toolchain.cache import BuildError, reported_version

ROOT: Final = Path(__file__).resolve().parent.parent
# A value no stack file holds (the engine tier's change too).
CHANGED_RETENTION: Final = "21d"
RETENTION_KEY: Final = "metricsRetentionTime"
# The program's own wait for health (components/service.py: HEALTH_WAIT_SECONDS).
WAIT_SECONDS: Final = 180
POLL_SECONDS: Final = 0.05
PROBE_TIMEOUT_SECONDS: Final = 1.0
COMMAND_SECONDS: Final = 900
# Figures, in the order printed: key, what ours runs, what compose runs.
FIGURES: Final = (
    ("cold_up", "cold `pulumi up` until healthy", "`up --wait`"),
    ("noop_preview", "no-op `pulumi preview`", "`--dry-run up --wait`"),
    ("noop_up", "no-op `pulumi up`", "`up --wait`"),
    ("change_up", "Prometheus change: `pulumi up`", "`up --wait`"),
    ("change_downtime", "Prometheus change: downtime", "downtime"),
    ("teardown", "`pulumi destroy`", "`down -v`"),
)


class BenchError(RuntimeError):
    """A step did not do what its figure assumes; the message says which and what it saw."""


# --- measuring ---------------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


@dataclass
class ReadyPoller:
    """Polls Prometheus' `/-/ready` in a thread from `start()` until it answers after an outage
    (or `stop()` when none came): how long it did not answer."""

    url: str
    samples: list[tuple[float, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _ready(self, client: httpx.Client) -> bool:
        try:
            return client.get(self.url).status_code == 200
        except httpx.HTTPError:
            return False

    def _poll(self) -> None:
        with httpx.Client(timeout=PROBE_TIMEOUT_SECONDS) as client:
            while not self._stop.is_set():
                self.samples.append((time.monotonic(), self._ready(client)))
                if self.recovered():
                    return
                time.sleep(POLL_SECONDS)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def recovered(self) -> bool:
        """Whether it answered again after not answering."""
        seen_down = False
        for _, ready in self.samples:
            seen_down = seen_down or not ready
            if seen_down and ready:
                return True
        return False

    def wait(self, seconds: float) -> float:
        """Seconds from the last answer before the outage to the first after it (0.0 if it
        never stopped answering), waiting up to `seconds` for it to answer again."""
        assert self._thread is not None
        self._thread.join(timeout=seconds)
        self._stop.set()
        self._thread.join()
        return downtime(self.samples)


def downtime(samples: list[tuple[float, bool]]) -> float:
    """From the last answer before the first outage to the first answer after it; 0.0 with no
    outage. BenchError if it never answered again."""
    last_ready: float | None = None
    down_since: float | None = None
    for at, ready in samples:
        if ready and down_since is None:
            last_ready = at
        elif not ready and down_since is None:
            down_since = at
        elif ready and down_since is not None:
            return at - (last_ready if last_ready is not None else down_since)
    if down_since is None:
        return 0.0
    raise BenchError(f"Prometheus did not answer again within {WAIT_SECONDS}s of its change")


def _containers(client: docker.DockerClient, stack: str) -> dict[str, Any]:
    prefix = f"{docker_prefix(stack)}-"
    return {name.removeprefix(prefix): container
            for container in client.containers.list(all=True)
            if (name := str(container.name or "")).startswith(prefix)}


def container_ids(client: docker.DockerClient, stack: str) -> dict[str, str]:
    return {name: container.id for name, container in _containers(client, stack).items()}


def require_healthy(client: docker.DockerClient, stack: str,
                    services: list[str]) -> None:
    """Every container of the stack healthy within the wait, else BenchError naming them."""
    end = time.monotonic() + WAIT_SECONDS
    while True:
        found = _containers(client, stack)
        health = {name: found[name].attrs["State"].get("Health", {}).get("Status")
                  if name in found else "missing" for name in services}
        if all(status == "healthy" for status in health.values()):
            return
        if time.monotonic() > end:
            raise BenchError(f"not healthy after {WAIT_SECONDS}s: {health}")
        time.sleep(0.2)


def require_only_prometheus_replaced(side: str, before: Mapping[str, str],
                                     after: Mapping[str, str]) -> None:
    changed = sorted(name for name in before if after.get(name) != before[name])
    if changed != [Service.PROMETHEUS.value]:
        raise BenchError(f"{side}: the retention change replaced {changed}, not Prometheus alone")


def require_none_replaced(side: str, step: str, before: Mapping[str, str],
                          after: Mapping[str, str]) -> None:
    if dict(before) != dict(after):
        raise BenchError(f"{side}: {step} changed containers: {before} -> {after}")


# --- the two sides -----------------------------------------------------------------------------


@dataclass
class Side:
    """One tool on one stack: the stack's name (its Docker names'), its Prometheus URL and its
    per-round figures."""

    name: str
    stack: str
    ready_url: str
    rounds: list[dict[str, float]] = field(default_factory=list)


def _change(side: Side, client: docker.DockerClient, services: list[str],
            apply: Callable[[], object]) -> tuple[float, float]:
    """Run `apply` (the change) with the poller on: its wall time and Prometheus' downtime."""
    before = container_ids(client, side.stack)
    poller = ReadyPoller(side.ready_url)
    poller.start()
    seconds = timed(apply)
    down = poller.wait(WAIT_SECONDS)
    require_healthy(client, side.stack, services)
    require_only_prometheus_replaced(side.name, before, container_ids(client, side.stack))
    return seconds, down


@dataclass
class Ours:
    side: Side
    cli: engine_run.Cli
    client: docker.DockerClient
    services: list[str]
    retention: str

    def up(self, *flags: str, env: Mapping[str, str] | None = None) -> None:
        self.cli.run("up", "--yes", "--skip-preview", *flags, env=env)

    def cold_up(self, env: Mapping[str, str] | None = None) -> float:
        seconds = timed(lambda: self.up(env=env))
        # The provider waited for each container (wait=true); the engine says so too.
        require_healthy(self.client, self.side.stack, self.services)
        return seconds

    def remove(self) -> float:
        """Destroy what the stack created: the seconds `pulumi destroy` takes."""
        # Production's data volumes are protected: unprotect first, not timed.
        self.cli.run("state", "unprotect", "--all", "--yes")
        seconds = timed(lambda: self.cli.run("destroy", "--yes", "--skip-preview"))
        # retainOnDelete keeps production's volumes: the next cold up starts without them.
        engine_run.remove_leftovers(self.client, self.side.stack)
        return seconds

    def teardown(self) -> float:
        seconds = self.remove()
        self.cli.config_set(RETENTION_KEY, self.retention)
        return seconds

    def round(self, before_teardown: Callable[[], None] | None = None) -> dict[str, float]:
        figures = {"cold_up": self.cold_up()}
        ids = container_ids(self.client, self.side.stack)
        figures["noop_preview"] = timed(lambda: self.cli.run("preview", "--expect-no-changes"))
        figures["noop_up"] = timed(lambda: self.up("--expect-no-changes"))
        require_none_replaced("ours", "no-op up", ids,
                              container_ids(self.client, self.side.stack))
        self.cli.config_set(RETENTION_KEY, CHANGED_RETENTION)
        figures["change_up"], figures["change_downtime"] = _change(
            self.side, self.client, self.services, self.up)
        if before_teardown is not None:
            before_teardown()
        figures["teardown"] = self.teardown()
        return figures


@dataclass
class Compose:
    side: Side
    binary: Path
    directory: Path
    env: Mapping[str, str]
    project: compose_file.ComposeProject
    changed: compose_file.ComposeProject
    client: docker.DockerClient
    services: list[str]

    def run(self, *args: str, dry_run: bool = False, check: bool = True) -> None:
        command = [str(self.binary), *(["--dry-run"] if dry_run else []), "--project-name",
                   self.project.name, "--file", str(self.directory / compose_file.COMPOSE_FILE),
                   *args]
        result = subprocess.run(command, cwd=self.directory, env=dict(self.env),
                                capture_output=True, text=True, timeout=COMMAND_SECONDS,
                                check=False)
        if check and result.returncode != 0:
            raise BenchError(f"`{' '.join(command)}` exited {result.returncode}:\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")

    def up(self, *, dry_run: bool = False) -> None:
        self.run("up", "--wait", "--wait-timeout", str(WAIT_SECONDS), dry_run=dry_run)

    def down(self, check: bool = True) -> None:
        self.run("down", "--volumes", "--remove-orphans", check=check)

    def round(self, before_teardown: Callable[[], None] | None = None) -> dict[str, float]:
        compose_file.write(self.project, self.directory)
        figures = {"cold_up": timed(self.up)}
        require_healthy(self.client, self.side.stack, self.services)
        ids = container_ids(self.client, self.side.stack)
        figures["noop_preview"] = timed(lambda: self.up(dry_run=True))
        figures["noop_up"] = timed(self.up)
        require_none_replaced("compose", "no-op up", ids,
                              container_ids(self.client, self.side.stack))
        # The compose file regenerated from the changed setting, then applied.
        compose_file.write(self.changed, self.directory)
        figures["change_up"], figures["change_downtime"] = _change(
            self.side, self.client, self.services, self.up)
        if before_teardown is not None:
            before_teardown()
        figures["teardown"] = timed(self.down)
        return figures


# --- where our time goes -----------------------------------------------------------------------


EMPTY_PROGRAM: Final = "import pulumi  # noqa: F401\n"
ONE_RESOURCE_PROGRAM: Final = """import pulumi_docker as docker

docker.Network("probe", name="gatewayz-bench-probe-never-created")
"""


# What the program's process imports before it registers anything (__main__.py, components/).
IMPORTS: Final = {"python_start": "pass", "import_pulumi": "import pulumi",
                  "import_pulumi_docker": "import pulumi, pulumi_docker",
                  "import_pulumi_docker_random": "import pulumi, pulumi_docker, pulumi_random"}


def _probe_project(root: Path, name: str, program: str) -> Path:
    """A Python project beside ours, in the repository's virtualenv: the fixed cost of a
    preview without our program."""
    project = root / name
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        f"name: {name}\nruntime:\n  name: python\n  options:\n    virtualenv: .venv\n")
    (project / "__main__.py").write_text(program)
    (project / ".venv").symlink_to(ROOT / ".venv")
    return project


def cli_version(cli: engine_run.Cli) -> str:
    """`pulumi version`: the CLI alone, no stack, no plugin."""
    return subprocess.run(["pulumi", "version"], env=dict(cli.env), capture_output=True,
                          text=True, check=True, timeout=COMMAND_SECONDS).stdout.strip()


def best_of(rounds: int, action: Callable[[], object]) -> float:
    return min(timed(action) for _ in range(rounds))


def _timestamp(text: str) -> float | None:
    """An RFC 3339 UTC timestamp with nanoseconds as seconds since the epoch; None for Go's
    zero time, which some entries carry."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds + float(f"0.{fraction or 0}") if seconds > 0 else None


# The provider calls that touch the Docker engine, broken down by resource type too.
_BY_TYPE: Final = frozenset(f"ResourceProvider/{method}"
                            for method in ("Create", "Read", "Update", "Delete"))


def _short_type(urn: str) -> str:
    """`urn:pulumi:s::p::a:b:C$docker:index/container:Container::name` -> `container`."""
    qualified = urn.split("::")[2].rpartition("$")[2]
    return qualified.rpartition(":")[2].lower()


def grpc_profile(log: Path, started: float, ended: float) -> dict[str, Any]:
    """What `PULUMI_DEBUG_GRPC`'s log of one command says: per method the CLI called on a
    plugin (language host, provider), the completed calls and their milliseconds; and the
    seconds before the first call and after the last, of the command's wall time
    (`started`/`ended`, epoch seconds)."""
    calls: Counter[str] = Counter()
    spent: defaultdict[str, float] = defaultdict(float)
    stamps: list[float] = []
    for line in log.read_text().splitlines() if log.exists() else []:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (stamp := _timestamp(str(entry["timestamp"]))) is not None:
            stamps.append(stamp)
        # The engine's own server side logs no real duration: only the CLI's calls count.
        if "duration" in entry and entry.get("metadata", {}).get("mode") == "client":
            method = str(entry["method"]).removeprefix("/pulumirpc.")
            calls[method] += 1
            spent[method] += int(entry["duration"]) / 1e6
            if method in _BY_TYPE and (urn := entry.get("request", {}).get("urn")):
                kind = f"{method.split('/')[1]} {_short_type(str(urn))}"
                calls[kind] += 1
                spent[kind] += int(entry["duration"]) / 1e6
    return {"wall": ended - started,
            "before_first_call": (min(stamps) - started) if stamps else None,
            "after_last_call": (ended - max(stamps)) if stamps else None,
            "calls": {method: {"calls": calls[method], "ms": round(spent[method], 1)}
                      for method in sorted(calls) if "/" in method},
            "by_type": {kind: {"calls": calls[kind], "ms": round(spent[kind], 1)}
                        for kind in sorted(calls) if "/" not in kind}}


def profiled(cli: engine_run.Cli, root: Path, name: str, *args: str) -> dict[str, Any]:
    log = root / f"grpc-{name}.jsonl"
    started = time.time()
    cli.run(*args, env={"PULUMI_DEBUG_GRPC": str(log)})
    return grpc_profile(log, started, time.time())


def plugin_start(binary: Path) -> float:
    """Seconds from exec until a plugin prints the port it serves on (its readiness)."""
    started = time.monotonic()
    with subprocess.Popen([str(binary)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True) as plugin:
        assert plugin.stdout is not None
        plugin.stdout.readline()
        seconds = time.monotonic() - started
        plugin.terminate()
    return seconds


def state_resources(cli: engine_run.Cli) -> dict[str, int]:
    """Resources in the stack's state by type (the custom ones are what the provider reads)."""
    exported = json.loads(cli.run("stack", "export").stdout)
    counts = Counter(str(resource["type"]) for resource in
                     exported.get("deployment", {}).get("resources", []))
    return dict(sorted(counts.items()))


def mock_evaluation(stack: str, config: Mapping[str, str], secret_keys: list[str],
                    rounds: int) -> tuple[float, int]:
    """The program's own evaluation under mocks (no engine, no provider): best time and the
    resources it registers."""
    count = 0

    def once() -> None:
        nonlocal count
        count = len(run_program(stack, config, secret_keys).resources) + 1  # and the stack

    return best_of(rounds, once), count


def overhead(ours: Ours, root: Path, stack: str, config: Mapping[str, str],
             secret_keys: list[str]) -> dict[str, Any]:
    """Run on our deployed stack (after the change): what a no-op costs, piece by piece."""
    cli = ours.cli
    found: dict[str, Any] = {}
    found["cli_version"] = best_of(3, lambda: cli_version(cli))
    found["pulumi_about"] = timed(lambda: cli.run("about", check=False))
    probes = {}
    for name, program in (("empty", EMPTY_PROGRAM), ("one-docker-resource", ONE_RESOURCE_PROGRAM)):
        project = _probe_project(root, f"gatewayz-bench-{name}", program)
        probe = engine_run.Cli(f"probe-{name}", project, cli.backend, cli.env)
        probe.run("stack", "init", "--secrets-provider", "passphrase")
        probe.run("preview")  # the first run compiles the program's bytecode
        probes[name] = best_of(3, partial(probe.run, "preview"))
    found["preview_empty_program"] = probes["empty"]
    found["preview_one_docker_resource"] = probes["one-docker-resource"]
    found["preview_ours"] = best_of(3, lambda: cli.run("preview", "--expect-no-changes"))
    found["preview_ours_refresh"] = best_of(
        3, lambda: cli.run("preview", "--refresh", "--expect-no-changes"))
    found["mock_evaluation"], found["mock_resources"] = mock_evaluation(
        stack, config, secret_keys, 3)
    found["state_resources"] = state_resources(cli)
    for what, args in (("preview", ("preview", "--expect-no-changes")),
                       ("preview_refresh", ("preview", "--refresh", "--expect-no-changes")),
                       ("up", ("up", "--yes", "--skip-preview", "--expect-no-changes"))):
        found[f"grpc_{what}"] = profiled(cli, root, what, *args)
    engine_bin = Path(cli.env["PATH"].split(os.pathsep)[0])
    for name in (pulumi_engine.DOCKER, pulumi_engine.LANGUAGE_HOST):
        found[f"start_{name}"] = min(plugin_start(engine_bin / name) for _ in range(3))
    found["noop_up_skip_checkpoints"] = best_of(3, lambda: ours.up(
        "--expect-no-changes", env={"PULUMI_SKIP_CHECKPOINTS": "true"}))
    found["noop_up"] = best_of(3, lambda: ours.up("--expect-no-changes"))
    python = str(ROOT / ".venv" / "bin" / "python")
    for key, modules in IMPORTS.items():
        found[key] = best_of(3, partial(subprocess.run, [python, "-c", modules], check=True))
    found["state_bytes"] = sum(path.stat().st_size for path in cli.backend.rglob("*.json")
                               if "stacks" in path.parts)
    # A cold up and a destroy with their calls profiled; then a cold up with the intermediate
    # checkpoints (one state write per step) skipped, only the final state written, which
    # leaves the stack up for the round's teardown.
    ours.remove()
    log = root / "grpc-cold-up.jsonl"
    started = time.time()
    ours.cold_up(env={"PULUMI_DEBUG_GRPC": str(log)})
    found["grpc_cold_up"] = grpc_profile(log, started, time.time())
    ours.cli.run("state", "unprotect", "--all", "--yes")
    found["grpc_destroy"] = profiled(cli, root, "destroy", "destroy", "--yes", "--skip-preview")
    engine_run.remove_leftovers(ours.client, ours.side.stack)
    found["cold_up_skip_checkpoints"] = ours.cold_up(env={"PULUMI_SKIP_CHECKPOINTS": "true"})
    return found


# --- the run -----------------------------------------------------------------------------------


def services_of(run: ProgramRun) -> list[str]:
    return sorted(run.containers())


def machine() -> dict[str, str]:
    def first_line(path: str, prefix: str) -> str:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
        return "unknown"

    return {"nproc": str(os.cpu_count()), "memory": first_line("/proc/meminfo", "MemTotal"),
            "kernel": platform.release(),
            "cpu": first_line("/proc/cpuinfo", "model name"),
            "python": platform.python_version()}


def compose_env(root: Path, engine: dockerd.Engine) -> dict[str, str]:
    """compose's environment: the run's engine, a Docker CLI config of its own, nothing of the
    user's COMPOSE_* settings."""
    config = root / "docker-config"
    config.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSE_")}
    return {**env, "DOCKER_HOST": engine.base_url, "DOCKER_CONFIG": str(config)}


@contextmanager
def removed_at_exit(client: docker.DockerClient, stacks: list[str]) -> Iterator[None]:
    """Whatever is named after the stacks goes before and after, also on failure."""
    for stack in stacks:
        engine_run.remove_leftovers(client, stack)
    try:
        yield
    finally:
        for stack in stacks:
            engine_run.remove_leftovers(client, stack)


def median(values: list[float]) -> float:
    return statistics.median(values)


def _calls(profile: Mapping[str, Any], service: str) -> str:
    return ", ".join(f"{method.split('/')[1]} {one['calls']}x {one['ms'] / 1000:.2f}s"
                     for method, one in profile["calls"].items()
                     if method.startswith(f"{service}/") and one["ms"] >= 1)


def overhead_lines(extra: Mapping[str, Any]) -> list[str]:
    lines = ["where ours goes (seconds; best of 3 where timed alone):"]
    for key, what in (
            ("cli_version", "`pulumi version` (the CLI alone)"),
            (f"start_{pulumi_engine.LANGUAGE_HOST}", "language host exec to serving"),
            (f"start_{pulumi_engine.DOCKER}", "docker provider exec to serving"),
            ("pulumi_about", "`pulumi about`"),
            ("preview_empty_program", "preview, empty Python program"),
            ("preview_one_docker_resource", "preview, one docker resource"),
            ("preview_ours", "preview, ours (no-op)"),
            ("preview_ours_refresh", "preview --refresh, ours (no-op)"),
            ("python_start", "python, nothing imported"),
            ("import_pulumi", "python, import pulumi"),
            ("import_pulumi_docker", "python, import pulumi, pulumi_docker"),
            ("import_pulumi_docker_random", "python, ... and pulumi_random"),
            ("mock_evaluation", "our program under mocks, in process"),
            ("noop_up", "no-op up"),
            ("noop_up_skip_checkpoints", "no-op up, PULUMI_SKIP_CHECKPOINTS"),
            ("cold_up_skip_checkpoints", "cold up, PULUMI_SKIP_CHECKPOINTS")):
        lines.append(f"  {what:<44}{extra[key]:>7.2f}")
    lines.append(f"  resources: {extra['mock_resources']} registered; in the state "
                 f"({extra['state_bytes']} bytes): {extra['state_resources']}")
    for what in ("preview", "preview_refresh", "up", "cold_up", "destroy"):
        profile = extra[f"grpc_{what}"]
        lines.append(f"  {what}: wall {profile['wall']:.2f}s, before the first plugin call "
                     f"{profile['before_first_call']:.2f}s, after the last "
                     f"{profile['after_last_call']:.2f}s")
        lines.append(f"    language host: {_calls(profile, 'LanguageRuntime')}")
        lines.append(f"    docker provider: {_calls(profile, 'ResourceProvider')}")
        if profile["by_type"]:
            lines.append("    by type (calls, summed seconds): " + ", ".join(
                f"{kind} {one['calls']}x {one['ms'] / 1000:.2f}s"
                for kind, one in profile["by_type"].items()))
    return lines


def report(stack: str, ours: Side, theirs: Side, extra: Mapping[str, Any]) -> list[str]:
    lines = [f"stack {stack}: {len(ours.rounds)} round(s), median (min-max) seconds; ratio = "
             "ours / compose",
             f"{'figure':<34}{'ours':>20}{'compose':>20}{'ratio':>8}  compose runs"]
    for key, label, theirs_label in FIGURES:
        mine = [one[key] for one in ours.rounds]
        other = [one[key] for one in theirs.rounds]
        ratio = median(mine) / median(other) if median(other) > 0 else float("inf")

        def shown(values: list[float]) -> str:
            return f"{median(values):.2f} ({min(values):.2f}-{max(values):.2f})"

        lines.append(f"{label:<34}{shown(mine):>20}{shown(other):>20}{ratio:>8.1f}  "
                     f"{theirs_label}")
    lines += overhead_lines(extra)
    return lines


def bench(stack: str, rounds: int, out: Path) -> int:
    engine_bin = pulumi_engine.bin_dir()
    binary = compose_build.ensure()
    local = images.local_images()
    retention = str(stack_settings(stack).retention.metrics_time)
    with ExitStack() as cleanup:
        engine = cleanup.enter_context(dockerd.engine())
        client = engine.client
        for image in images.build_images(client):
            print(f"{'built' if image.built else 'cached':6} {image.tag}", flush=True)
        root = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="gatewayz-bench-")))
        mine, theirs_stack = f"bench-pulumi-{stack}", f"bench-compose-{stack}"
        cleanup.enter_context(removed_at_exit(client, [mine, theirs_stack]))

        # Ours: the real CLI on a throw-away stack.
        (root / "pulumi").mkdir()
        cli = engine_run.new_cli(engine_run.Cli, root / "pulumi", stack, engine_bin, engine,
                                 as_stack=mine)
        cleanup.callback(engine_run.destroy, cli)
        mine_overrides = engine_run.overrides(stack, local)
        engine_run.create_stack(cli, mine_overrides)

        # Compose: the program's containers under mocks, with the same secrets and overrides.
        their_overrides = engine_run.overrides(stack, local)
        config, secret_keys = stack_config(stack, secrets=engine_run.SECRET_VALUES,
                                           overrides=their_overrides)
        program = run_program(theirs_stack, config, secret_keys)
        changed_config, _ = stack_config(stack, secrets=engine_run.SECRET_VALUES, overrides={
            **their_overrides, RETENTION_KEY: CHANGED_RETENTION})
        services = services_of(program)
        directory = root / "compose"
        directory.mkdir()
        theirs = Compose(
            Side("compose", theirs_stack, _ready_url(their_overrides)), binary, directory,
            compose_env(root, engine), compose_file.compose_project(program),
            compose_file.compose_project(run_program(theirs_stack, changed_config, secret_keys)),
            client, services)
        # If a round fails half-way, compose's own teardown first (then the leftovers').
        cleanup.callback(theirs.down, check=False)
        ours = Ours(Side("ours", mine, _ready_url(mine_overrides)), cli, client, services,
                    retention)

        extra: dict[str, Any] = {}
        for index in range(rounds):
            last = index == rounds - 1

            def measure_overhead() -> None:
                extra.update(overhead(ours, root, stack, config, secret_keys))

            order: list[Ours | Compose] = [ours, theirs] if index % 2 == 0 else [theirs, ours]
            for tool in order:
                hook = measure_overhead if last and isinstance(tool, Ours) else None
                figures = tool.round(hook)
                tool.side.rounds.append(figures)
                print(f"round {index + 1} {tool.side.name}: "
                      + ", ".join(f"{key} {value:.2f}s" for key, value in figures.items()),
                      flush=True)
        lines = report(stack, ours.side, theirs.side, extra)
        print("\n".join(lines))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "stack": stack, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {**machine(), "docker": client.version().get("Version", "unknown")},
            "pulumi": cli_version(cli),
            "compose": reported_version(binary),
            "services": services, "ours": ours.side.rounds, "compose_rounds": theirs.side.rounds,
            "overhead": extra, "report": lines}, indent=2, sort_keys=True) + "\n")
        print(f"wrote {out}")
    return 0


def _ready_url(changed: Mapping[str, str]) -> str:
    """Prometheus' readiness on its published port (the run's `prometheusBind`)."""
    return f"http://{changed['prometheusBind']}/-/ready"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=("staging", "production"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    out = args.out or ROOT / "build" / f"bench-engine-{args.stack}.json"
    try:
        return bench(args.stack, args.rounds, out)
    except (BenchError, BuildError, engine_run.CommandError, dockerd.EngineError,
            images.ImageError, DockerException, subprocess.TimeoutExpired) as error:
        print(f"FAIL make bench-engine: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

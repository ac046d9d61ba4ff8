"""The real Pulumi CLI on a throw-away stack of the project, as the engine tier (tests/engine/)
and the benchmark (`make bench-engine`, review/bench_engine.py) both run it.

A copy of the project in a directory of the caller's, so the repository is never written; a file
backend, a passphrase and PULUMI_HOME there too; the engine of `make tools` on PATH; every secret
a sentinel; and, through `pulumi config set` so the program's own validation applies, what would
reach outside this machine or collide with something on it: loopback binds on free ports, the
local images (`make images`). The caller names the run's stack (`engine-<stack>`,
`bench-pulumi-<stack>`): every container, volume and network is `gatewayz-<that name>...`, so a
run never meets a deployed stack. docs/engine.md, The engine tier.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar

import docker
from docker.errors import NotFound

from services import Published, Service, docker_prefix
from settings.keys import KEYS, camel
from toolchain import dockerd
from toolchain.cache import cache_root

REPO: Final = Path(__file__).resolve().parents[1]
# What `pulumi up` runs of the repository: the program and the packages it imports.
PROJECT_FILES: Final = ("Pulumi.yaml", "__main__.py", "services.py")
PROJECT_PACKAGES: Final = ("components", "configs", "settings")
NAMESPACE: Final = "gatewayz-observability"
SENTINEL: Final = "ENGINE-SENTINEL-"
COMMAND_SECONDS: Final = 900


def sentinel(key: str) -> str:
    """A secret's value in this run: findable in the state, reaching nothing."""
    if key.endswith("Url"):
        # Secret URLs are validated as URLs (Slack's https); the container's own loopback
        # answers nothing.
        return f"https://127.0.0.1:9/{SENTINEL}{key}"
    return f"{SENTINEL}{key}"


SECRET_VALUES: Final[Mapping[str, str]] = {key.name: sentinel(key.name)
                                           for key in KEYS if key.secret}


class CommandError(RuntimeError):
    """A pulumi command exited non-zero; the message has the command and its output's tail."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def overrides(stack_name: str, local_images: Mapping[Service, str]) -> dict[str, str]:
    """What the run changes in the stack's settings, each through `pulumi config set` so the
    program's own validation applies: images, loopback ports, nothing outside. `environment`
    is the real stack's, so a copy under another stack name labels its series (and counts as
    production) as the real one does."""
    changed = {"environment": stack_name,
               # Nothing listens there; the scrape fails inside the stack's network.
               "backendMetricsUrl": f"https://127.0.0.1:{free_port()}/metrics"}
    for service, image in local_images.items():
        changed[f"{camel(service)}Image"] = image
    for port in Published:
        changed[port.bind_key] = f"127.0.0.1:{free_port()}"
    stack_file = (REPO / f"Pulumi.{stack_name}.yaml").read_text()
    if f"{NAMESPACE}:redisAddress" in stack_file:
        changed["redisAddress"] = f"redis://127.0.0.1:{free_port()}"
    return changed


def copy_project(root: Path, stack_name: str | None, *, as_stack: str | None = None,
                 with_make: bool = False) -> Path:
    """What `pulumi up` runs of the repository, copied under `root`, in the repository's
    virtualenv (Pulumi.yaml: `virtualenv: .venv`), with the stack file of `stack_name` (None:
    none) as that of `as_stack` (default: the same name); `with_make` adds what `make
    preview|up` needs (the Makefile, its requirements stamps, ops/ and toolchain/, content/,
    the policy pack with its built .venv)."""
    project = root / "project"
    project.mkdir()
    files = list(PROJECT_FILES)
    packages = list(PROJECT_PACKAGES)
    if with_make:
        files += ["Makefile", "requirements.txt", "requirements-dev.txt"]
        packages += ["ops", "toolchain", "content"]
    for name in files:
        shutil.copy2(REPO / name, project / name)
    if stack_name is not None:
        shutil.copy2(REPO / f"Pulumi.{stack_name}.yaml",
                     project / f"Pulumi.{as_stack or stack_name}.yaml")
    for package in packages:
        shutil.copytree(REPO / package, project / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".venv").symlink_to(REPO / ".venv")
    if with_make:
        shutil.copytree(REPO / "policy", project / "policy",
                        ignore=shutil.ignore_patterns(".venv", "__pycache__"))
        (project / "policy" / ".venv").symlink_to(REPO / "policy" / ".venv")
    return project


def engine_env(root: Path, engine_bin: Path,
               docker_engine: dockerd.Engine | None) -> dict[str, str]:
    """The environment of the run's pulumi commands: the engine on PATH, PULUMI_HOME under
    `root`, no plugin download, no access token, the run's Docker engine (None: a program of
    no Docker resource, such as the Kubernetes tests'). The backend and the passphrase are the
    caller's."""
    env = {**os.environ,
           "PATH": os.pathsep.join((str(engine_bin), str(REPO / ".venv" / "bin"),
                                    os.environ.get("PATH", ""))),
           "PULUMI_HOME": str(root / "home"),
           # The releases and images `make tools|images` built, also where HOME is changed.
           "GATEWAYZ_CACHE": str(cache_root()),
           "PULUMI_SKIP_UPDATE_CHECK": "true",
           # Offline: the plugins are the engine's on PATH, never a download.
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}
    if docker_engine is not None:
        env["DOCKER_HOST"] = docker_engine.base_url
    for inherited in ("PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE",
                      "PULUMI_CONFIG_PASSPHRASE_FILE"):
        env.pop(inherited, None)
    return env


@dataclass
class Cli:
    """The Pulumi CLI on one stack of the project copy, with the run's own environment;
    `source` is the repository's stack whose file the copy's stack has (default: the same)."""

    stack: str
    project: Path
    backend: Path
    env: Mapping[str, str]
    log: list[str] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        self.source = self.source or self.stack

    def fail(self, message: str) -> NoReturn:
        """How a command that must succeed reports it did not (the engine tier: a test
        failure)."""
        raise CommandError(message)

    def run(self, *args: str, check: bool = True, timeout: float = COMMAND_SECONDS,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        # The stack's flags before any `--`, after which everything is a value.
        split = args.index("--") if "--" in args else len(args)
        command = ["pulumi", *args[:split], "--stack", self.stack, "--non-interactive",
                   *args[split:]]
        result = subprocess.run(command, cwd=self.project, env={**self.env, **(env or {})},
                                capture_output=True, text=True, timeout=timeout, check=False)
        self.log.append(f"$ {' '.join(command)} -> {result.returncode}")
        if check and result.returncode != 0:
            self.fail(f"`{' '.join(command)}` exited {result.returncode}:\n"
                      f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    def config_set(self, key: str, value: str, *, secret: bool = False) -> None:
        flags = ["--secret"] if secret else []
        # The value after `--`, so a sentinel is never read as a flag.
        self.run("config", "set", *flags, f"{NAMESPACE}:{key}", "--", value)

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        flags = ["--show-secrets"] if show_secrets else []
        return dict(json.loads(self.run("stack", "output", "--json", *flags).stdout))


CliT = TypeVar("CliT", bound=Cli)


def new_cli(cls: type[CliT], root: Path, stack_name: str, engine_bin: Path,
            docker_engine: dockerd.Engine, *, as_stack: str | None = None) -> CliT:
    """`cls` on a copy of the project under `root` (the stack file of `stack_name` as that of
    stack `as_stack`, default the same), its file backend at `root`/state and a passphrase
    generated for this run. No stack exists yet (`create_stack`)."""
    project = copy_project(root, stack_name, as_stack=as_stack)
    backend = root / "state"
    backend.mkdir()
    env = {**engine_env(root, engine_bin, docker_engine),
           "PULUMI_BACKEND_URL": f"file://{backend}",
           "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24)}
    return cls(as_stack or stack_name, project, backend, env, source=stack_name)


def create_stack(run: Cli, changed: Mapping[str, str]) -> None:
    """The stack, with passphrase secrets: the repository's stack file, every secret a
    sentinel, `changed` (the overrides) set."""
    run.run("stack", "init", "--secrets-provider", "passphrase")
    for key, value in SECRET_VALUES.items():
        run.config_set(key, value, secret=True)
    for key, value in changed.items():
        run.config_set(key, value)


def destroy(run: Cli) -> None:
    """Unprotect, destroy and remove the stack, whatever state it is in."""
    run.run("state", "unprotect", "--all", "--yes", check=False)
    run.run("destroy", "--yes", "--skip-preview", check=False)
    run.run("stack", "rm", "--yes", "--force", check=False)


def secrets_in_plain_text(run: Cli) -> list[str]:
    """Where a sentinel of SECRET_VALUES is readable in the stack's state: `pulumi stack
    export`, and every file under the backend directory, as `<where>: <key>`."""
    exported = run.run("stack", "export").stdout
    where = [f"stack export: {key}" for key, value in SECRET_VALUES.items() if value in exported]
    for path in sorted(run.backend.rglob("*")):
        if path.is_file():
            text = path.read_bytes().decode(errors="replace")
            where += [f"{path.relative_to(run.backend)}: {key}"
                      for key, value in SECRET_VALUES.items() if value in text]
    return where


def _of_stack(client: docker.DockerClient, stack: str) -> list[tuple[str, Any]]:
    """The stack's containers, networks and volumes on the engine (names
    `gatewayz-<stack>...`, services.docker_prefix)."""
    prefix = docker_prefix(stack)
    found: list[tuple[str, Any]] = []
    for kind, objects in (("container", client.containers.list(all=True)),
                          ("network", client.networks.list()),
                          ("volume", client.volumes.list())):
        found += [(kind, one) for one in objects if (one.name or "").startswith(prefix)]
    return found


def leftovers(client: docker.DockerClient, stack: str) -> list[str]:
    """What of the stack is on the engine, as `<kind> <name>`."""
    return [f"{kind} {one.name}" for kind, one in _of_stack(client, stack)]


def remove_leftovers(client: docker.DockerClient, stack: str) -> None:
    # Containers first: a network or volume in use cannot go; a service before the files
    # container whose anonymous volumes it mounts, so those go with it.
    for kind, one in sorted(_of_stack(client, stack),
                            key=lambda found: (found[0] != "container",
                                               (found[1].name or "").endswith("-files"))):
        with suppress(NotFound):
            if kind == "container":
                one.remove(force=True, v=True)
            elif kind == "network":
                one.remove()
            else:
                one.remove(force=True)

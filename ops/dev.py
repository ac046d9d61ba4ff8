"""`make up` / `make down` without a STACK: a local `dev` stack, from a clone in one command.

`python -m ops.dev up` does what a first user would otherwise do by hand, each step once:
- a passphrase generated into `.dev/passphrase` (0600) and the state in the file backend
  `PULUMI_BACKEND_URL` names (the Makefile's default for dev: `.dev/state` in the checkout),
  both kept out of git (.gitignore), the user's own `pulumi login` untouched;
- `Pulumi.dev.yaml` written once (also out of git): environment `dev`, loopback ports, the
  backend and Redis to watch (default: on this machine, `host.docker.internal`), and for each
  service the pinned upstream image where the engine has it or a registry answers, else the
  local build of the pinned release (`make images`), else, for Grafana, Loki and Tempo, which
  cannot be built here, a labelled stand-in; Grafana's admin password, secret key and metrics
  password generated and set as secrets (the program would otherwise generate them with the
  random provider, which cannot be built here);
- `pulumi up` with the policy pack, then the Grafana content (content/) where a real Grafana
  runs and the CLI has its plugin; what could not run is named, never skipped silently;
- at the end, the URLs to open, how to read the Grafana password, how to check and tear down.

`python -m ops.dev down` destroys the dev stack's containers and network (its state, stack file
and passphrase stay, so `make up` brings the same stack back).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import docker
import yaml
from docker.errors import DockerException, ImageNotFound

from services import SERVICES, Service
from settings.keys import DEFAULT_IMAGES, GENERATED_SECRETS, camel
from settings.model import PROJECT
from settings.stack_file import ROOT
from toolchain import dockerd, images, pulumi_engine, releases
from toolchain.cache import BuildError

STACK: Final = "dev"
DEV_DIR: Final = ROOT / ".dev"
PASSPHRASE_FILE: Final = DEV_DIR / "passphrase"
STACK_FILE: Final = ROOT / f"Pulumi.{STACK}.yaml"
CONTENT: Final = ROOT / "content"
POLICY: Final = ROOT / "policy"
# Where a developer's backend and Redis run: beside the stack, on the same machine.
DEFAULT_BACKEND_METRICS_URL: Final = "http://host.docker.internal:8000/metrics"
DEFAULT_REDIS_ADDRESS: Final = "redis://host.docker.internal:6379"
PULL_SECONDS: Final = 300
# What each step may take at most; `pulumi up` waits for every container's health itself.
COMMAND_SECONDS: Final = 1800
# Outputs of the stack an operator opens, in the order a first look wants them.
OPEN: Final = (("Grafana", "grafanaUrl"), ("Prometheus", "prometheusUrl"),
               ("Alertmanager", "alertmanagerUrl"), ("Loki", "lokiUrl"), ("Tempo", "tempoUrl"),
               ("Tempo OTLP gRPC", "tempoOtlpGrpcEndpoint"))
# Built here from the pinned releases when no registry answers; the others are AGPL.
BUILDABLE: Final = frozenset(release.service for release in releases.RELEASES)


class DevError(RuntimeError):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class ImageChoice:
    image: str
    # How it got here, for the closing report: pulled, present, built, stand-in.
    origin: str


def say(line: str) -> None:
    print(f"dev stack: {line}", flush=True)


def pulumi_path() -> str:
    """The PATH under which `pulumi` and the plugins `make tools` found or built are found."""
    path = os.environ.get("PATH", "")
    if shutil.which("pulumi") is not None:
        return path
    try:
        return os.pathsep.join((str(pulumi_engine.bin_dir()), path))
    except BuildError as error:
        raise DevError("no Pulumi CLI: install it (https://www.pulumi.com/docs/install/) or let "
                       f"`make tools` build it offline ({error})") from None


def passphrase_env() -> dict[str, str]:
    """The user's passphrase if they gave one, else the dev stack's, generated once."""
    if os.environ.get("PULUMI_CONFIG_PASSPHRASE"):
        return {}
    given = os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if given and Path(given) != PASSPHRASE_FILE:
        return {}
    if not PASSPHRASE_FILE.exists():
        DEV_DIR.mkdir(mode=0o700, exist_ok=True)
        PASSPHRASE_FILE.touch(mode=0o600)
        PASSPHRASE_FILE.write_text(secrets.token_urlsafe(32))
        say(f"generated a passphrase into {PASSPHRASE_FILE.relative_to(ROOT)} (not in git)")
    return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(PASSPHRASE_FILE)}


def backend_env() -> dict[str, str]:
    url = os.environ.get("PULUMI_BACKEND_URL") or f"file://{DEV_DIR / 'state'}"
    if url.startswith("file://"):
        Path(url.removeprefix("file://")).expanduser().mkdir(parents=True, exist_ok=True)
    return {"PULUMI_BACKEND_URL": url}


def docker_engine() -> dockerd.Engine:
    """The engine that answers, else a dockerd of our own, left running for the stack."""
    found = dockerd.answering()
    if found is not None:
        return found
    try:
        dockerd.start_daemon()
    except dockerd.EngineError as error:
        raise DevError(f"no Docker engine answers and none could be started: {error}") from None
    say(f"started a Docker engine of its own at unix://{dockerd.SOCKET} "
        "(stop it after `make down`: .venv/bin/python -m toolchain.dockerd stop)")
    started = dockerd.answering()
    assert started is not None
    return started


def _present(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except ImageNotFound:
        return False
    return True


def _pulled(client: docker.DockerClient, image: str) -> str | None:
    """None once `image` is on the engine, else why the pull failed."""
    repository, _, tag = image.rpartition(":")
    try:
        client.images.pull(repository, tag=tag)
    except DockerException as error:
        # The engine's own reason, e.g. `dial tcp: lookup registry-1.docker.io: no such host`.
        reason = str(error).splitlines()[0]
        return reason[reason.find("dial tcp"):] if "dial tcp" in reason else reason
    return None


def choose_images(client: docker.DockerClient) -> dict[Service, ImageChoice]:
    """Per service, the pinned upstream image if the engine has it or can pull it, else the
    local build of its release, else its stand-in."""
    chosen: dict[Service, ImageChoice] = {}
    local: list[Service] = []
    for service in SERVICES:
        upstream = DEFAULT_IMAGES[service]
        if _present(client, upstream):
            chosen[service] = ImageChoice(upstream, "present on the engine")
            continue
        refused = _pulled(client, upstream)
        if refused is None:
            say(f"pulled {upstream}")
            chosen[service] = ImageChoice(upstream, "pulled")
        else:
            say(f"could not pull {upstream}: {refused}")
            local.append(service)
    if local:
        say("building the local images instead (make images; the first build compiles the "
            "pinned releases with Go, minutes) ...")
        built = build_local(client)
        for service in local:
            chosen[service] = ImageChoice(
                built[service], "built here from its release" if service in BUILDABLE
                else "STAND-IN: not the real service (AGPL: it cannot be built here, and no "
                "registry answered)")
    return chosen


def build_local(client: docker.DockerClient) -> dict[Service, str]:
    """`make images` on `client`: the releases built first where missing; their images."""
    try:
        releases.ensure()
        images.build_images(client)
    except (BuildError, images.ImageError, DockerException) as error:
        raise DevError(f"the local images could not be built: {error}") from None
    return images.local_images()


def _stack_document() -> dict[str, object]:
    """Pulumi.dev.yaml as it is (`stack select --create` writes its encryption salt first)."""
    if not STACK_FILE.exists():
        return {}
    return dict(yaml.safe_load(STACK_FILE.read_text()) or {})


def stack_file(document: Mapping[str, object], backend_url: str, redis_address: str,
               chosen: Mapping[Service, ImageChoice]) -> str:
    """Pulumi.dev.yaml: `document` (the CLI's salt) with what the dev stack changes from the
    defaults (settings/keys.py)."""
    config: dict[str, object] = {
        f"{PROJECT}:environment": STACK,
        f"{PROJECT}:backendMetricsUrl": backend_url,
    }
    if redis_address:
        config[f"{PROJECT}:redisAddress"] = redis_address
    for service, choice in chosen.items():
        if choice.image != DEFAULT_IMAGES[service]:
            config[f"{PROJECT}:{camel(service)}Image"] = choice.image
    header = ("# The local dev stack, written by `make up` (ops/dev.py) and kept out of git:\n"
              "# edit it freely, or delete it to have `make up` choose the images again. Keys\n"
              "# and defaults: README, Configuration.\n")
    return header + yaml.safe_dump({**document, "config": config}, sort_keys=True)


@dataclass(frozen=True)
class Cli:
    env: Mapping[str, str]

    def run(self, *args: str, cwd: Path = ROOT, capture: bool = False, check: bool = True,
            secret_input: str | None = None) -> subprocess.CompletedProcess[str]:
        """`pulumi <args>`; `secret_input` goes to its stdin, so no command line or error
        message ever carries it."""
        command = ["pulumi", *args, "--non-interactive"]
        result = subprocess.run(command, cwd=cwd, env=dict(self.env), text=True,
                                input=secret_input, capture_output=capture,
                                timeout=COMMAND_SECONDS, check=False)
        if check and result.returncode != 0:
            detail = f":\n{result.stderr.strip()[-2000:]}" if capture else " (its output above)"
            raise DevError(f"`{' '.join(command)}` exited {result.returncode}{detail}")
        return result


def cli_env(engine: dockerd.Engine) -> dict[str, str]:
    return {**os.environ, "PATH": pulumi_path(), **passphrase_env(), **backend_env(),
            "DOCKER_HOST": engine.base_url, "PULUMI_SKIP_UPDATE_CHECK": "true"}


def grafana_plugin(env: Mapping[str, str]) -> bool:
    """Whether the CLI can load the Grafana provider: installed, or fetched on first use."""
    if shutil.which("pulumi-resource-grafana", path=env.get("PATH")):
        return True
    home = Path(env.get("PULUMI_HOME") or Path.home() / ".pulumi")
    return any((home / "plugins").glob("resource-grafana-v*"))


def content_up(cli: Cli, chosen: Mapping[Service, ImageChoice]) -> str:
    """Apply the Grafana content where it can be, else say why not."""
    if chosen[Service.GRAFANA].image == images.standin_tag(Service.GRAFANA):
        return ("Grafana content (datasources, folders, dashboards): not applied, Grafana is a "
                "stand-in here")
    if not grafana_plugin(cli.env):
        return ("Grafana content: not applied, the CLI has no Grafana plugin (`pulumi plugin "
                "install resource grafana`, then `make content-up STACK=dev`)")
    cli.run("stack", "select", STACK, "--create", "--secrets-provider", "passphrase",
            cwd=CONTENT)
    cli.run("up", "--yes", "--refresh", "--stack", STACK, "--policy-pack", str(POLICY),
            cwd=CONTENT)
    return "Grafana content: applied (content/, stack dev)"


def report(cli: Cli, chosen: Mapping[Service, ImageChoice], content: str) -> None:
    outputs = json.loads(cli.run("stack", "output", "--json", "--stack", STACK,
                                 capture=True).stdout)
    print("\nThe dev stack is up. Open:")
    for title, key in OPEN:
        if key in outputs:
            print(f"  {title:16} {outputs[key]}")
    print("Images:")
    for service, choice in chosen.items():
        print(f"  {service.value:16} {choice.image} ({choice.origin})")
    print(content)
    print(f"Grafana login: {outputs.get('grafanaAdminUser', 'admin')}; its password: "
          "make password")
    print("Check it: make verify STACK=dev     Tear it down: make down")


def up(backend_url: str | None, redis_address: str | None) -> None:
    engine = docker_engine()
    cli = Cli(cli_env(engine))
    cli.run("stack", "select", STACK, "--create", "--secrets-provider", "passphrase")
    document = _stack_document()
    if not document.get("config"):
        chosen = choose_images(engine.client)
        STACK_FILE.write_text(stack_file(document, backend_url or DEFAULT_BACKEND_METRICS_URL,
                                         DEFAULT_REDIS_ADDRESS if redis_address is None
                                         else redis_address, chosen))
        say(f"wrote {STACK_FILE.name} (not in git)")
        for generated in GENERATED_SECRETS:
            cli.run("config", "set", "--stack", STACK, "--secret", f"{PROJECT}:{generated.name}",
                    secret_input=secrets.token_urlsafe(24))
        say("generated Grafana's admin password, secret key and metrics password (secrets of "
            "the stack)")
    else:
        chosen = _chosen_from_file(engine.client)
        for key, value in (("backendMetricsUrl", backend_url), ("redisAddress", redis_address)):
            if value is not None:
                cli.run("config", "set", "--stack", STACK, f"{PROJECT}:{key}", value)
    cli.run("up", "--yes", "--stack", STACK, "--policy-pack", str(POLICY))
    report(cli, chosen, content_up(cli, chosen))


def _chosen_from_file(client: docker.DockerClient) -> dict[Service, ImageChoice]:
    """The images Pulumi.dev.yaml names, each made sure to be on the engine."""
    config = _stack_document().get("config") or {}
    assert isinstance(config, dict)
    chosen = {}
    for service in SERVICES:
        image = str(config.get(f"{PROJECT}:{camel(service)}Image",
                               DEFAULT_IMAGES[service]))
        standin = image == images.standin_tag(service)
        chosen[service] = ImageChoice(image, "STAND-IN: not the real service" if standin
                                      else "as Pulumi.dev.yaml names it")
    if not all(_present(client, choice.image) for choice in chosen.values()):
        build_local(client)
    return chosen


def down() -> None:
    engine = docker_engine()
    cli = Cli(cli_env(engine))
    if not STACK_FILE.exists():
        say("no dev stack here (no Pulumi.dev.yaml): nothing to tear down")
        return
    content = cli.run("stack", "select", STACK, cwd=CONTENT, capture=True, check=False)
    if content.returncode == 0:
        cli.run("destroy", "--yes", "--stack", STACK, cwd=CONTENT)
    cli.run("destroy", "--yes", "--stack", STACK)
    say("the dev stack's containers and network are gone; its state, Pulumi.dev.yaml and "
        "passphrase stay for the next `make up` (rm -rf .dev Pulumi.dev.yaml forgets them)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="create or update the dev stack")
    start.add_argument("--backend-metrics-url", help=f"default {DEFAULT_BACKEND_METRICS_URL}")
    start.add_argument("--redis-address",
                       help=f"default {DEFAULT_REDIS_ADDRESS}; empty: watch no Redis")
    commands.add_parser("down", help="destroy the dev stack's containers")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(args.backend_metrics_url, args.redis_address)
        else:
            down()
    except DevError as error:
        print(f"FAIL make {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make up` and `make down` on the local dev stack, as a first user runs them (`make engine
STACK=dev`): a copy of the project with no Pulumi.dev.yaml, HOME a temporary directory, no
backend or passphrase given, the engine's CLI on PATH and the tier's Docker engine.

`make up` must leave every container healthy and end with what to open, what ran as a stand-in,
that the Grafana content was not applied (and why), and how to read the password and tear down;
its generated passphrase, state and stack file stay in the checkout, and the password it
generated is never printed by it nor written in plain text. `make down` leaves nothing of the
stack on the engine.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from services import SERVICES, container_name
from toolchain import dockerd, images
from toolchain.engine_run import COMMAND_SECONDS, copy_project, engine_env, leftovers

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("timed")]

# The dev stack's name, which its Docker names derive from.
STACK: Final = "dev"
# What `make up` ends with, line starts a user reads.
CLOSING: Final = ("The dev stack is up. Open:", "Grafana login:", "Check it:")


class Checkout:
    def __init__(self, root: Path, engine_bin: Path, engine: dockerd.Engine) -> None:
        self.path = copy_project(root, None, with_make=True)
        home = root / "user"
        home.mkdir()
        self.env = {**engine_env(root, engine_bin, engine), "HOME": str(home)}

    def make(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["make", *args], cwd=self.path, env=self.env,
                                capture_output=True, text=True, timeout=COMMAND_SECONDS,
                                check=False)
        if check and result.returncode != 0:
            pytest.fail(f"`make {' '.join(args)}` exited {result.returncode}:\n"
                        f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
        return result


@pytest.fixture(scope="module")
def checkout(engine_bin: Path, docker_engine: dockerd.Engine, local_images: object,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Checkout]:
    # A dev stack of the user's own on this engine has the same names: never touch it.
    theirs = leftovers(docker_engine.client, STACK)
    if theirs:
        pytest.fail(f"a dev stack already runs on this engine ({', '.join(theirs)}): "
                    "`make down` it first")
    made = Checkout(tmp_path_factory.mktemp("dev"), engine_bin, docker_engine)
    try:
        yield made
    finally:
        made.make("down", check=False)


@pytest.fixture(scope="module")
def brought_up(checkout: Checkout) -> str:
    result = checkout.make("up")
    return result.stdout + result.stderr


def test_make_up_brings_every_container_up_healthy(
        brought_up: str, docker_engine: dockerd.Engine) -> None:
    health = {}
    for service in SERVICES:
        attrs = docker_engine.client.containers.get(container_name(STACK, service)).attrs
        health[service.value] = attrs["State"].get("Health", {}).get("Status")
    assert all(status == "healthy" for status in health.values()), health


def test_make_up_ends_with_what_to_open_and_what_did_not_run(brought_up: str) -> None:
    tail = brought_up[brought_up.rfind(CLOSING[0]):]
    missing = [line for line in CLOSING if line not in tail]
    assert not missing, f"`make up` does not end with {missing}:\n{brought_up[-3000:]}"
    opened = tail.split("Open:", 1)[1].split("Images:", 1)[0].split()
    urls = [word for word in opened if "://" in word]
    assert len(urls) >= 3, f"fewer URLs to open than Grafana, Prometheus, Alertmanager:\n{tail}"
    assert all(url.startswith("http://127.0.0.1:") for url in urls), urls
    # No registry answers here: Grafana, Loki and Tempo are named as stand-ins, not hidden.
    unnamed = [image for image in images.standin_images().values()
               if f"{image} (STAND-IN" not in tail]
    assert not unnamed, f"stand-ins not named as such: {unnamed}\n{tail}"
    said = [words for words in ("Grafana content", "not applied", "make password", "make down")
            if words not in tail]
    assert not said, f"the closing lines lack {said}:\n{tail}"


def test_what_make_up_generated_stays_in_the_checkout_and_secret(
        checkout: Checkout, brought_up: str) -> None:
    passphrase = checkout.path / ".dev" / "passphrase"
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600, oct(passphrase.stat().st_mode)
    assert list((checkout.path / ".dev" / "state").rglob("stacks/*/dev.json*")), (
        "no dev stack state under the checkout's .dev/state")
    password = checkout.make("-s", "password").stdout.strip()
    assert len(password) >= 16, "make password printed no password"
    stack_file = (checkout.path / "Pulumi.dev.yaml").read_text()
    states = [path.read_bytes().decode(errors="replace")
              for path in (checkout.path / ".dev" / "state").rglob("*") if path.is_file()]
    where = [name for name, text in (("make up's output", brought_up),
                                     ("Pulumi.dev.yaml", stack_file),
                                     *((f"state file {n}", t) for n, t in enumerate(states)))
             if password in text]
    assert not where, f"the generated Grafana password is in plain text in {where}"
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().splitlines()
    assert {".dev/", "Pulumi.dev.yaml"} <= set(ignored), ignored


def test_make_up_again_changes_nothing(checkout: Checkout, brought_up: str) -> None:
    again = checkout.make("up")
    assert "The dev stack is up" in again.stdout, again.stdout[-3000:]
    summary = again.stdout.split("Resources:")[-1].split("Duration")[0].split("\n")
    changed = [line.strip() for line in summary if line.strip() and "unchanged" not in line]
    assert not changed, f"a second `make up` changed resources: {changed}\n{again.stdout[-3000:]}"


def test_make_down_leaves_nothing(checkout: Checkout, brought_up: str,
                                  docker_engine: dockerd.Engine) -> None:
    checkout.make("down")
    left = leftovers(docker_engine.client, STACK)
    assert not left, left
    assert os.path.exists(checkout.path / "Pulumi.dev.yaml"), "make down removed the stack file"

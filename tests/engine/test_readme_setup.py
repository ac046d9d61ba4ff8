"""The README's setup of a real stack, run as written through the real CLI up to `make preview`.

The lines come from the README itself (the bash block after `<!-- setup:<stack> -->`), each
`'<...>'` placeholder filled with a sentinel, in a shell whose HOME is a temporary directory (so
the README's backend directory lands there). Before its `make preview`, the run sets, through
`pulumi config set` like any stack file value, what would reach outside this machine or needs a
plugin that cannot be built here (the overrides of the engine tier, and Grafana's admin password,
secret key and metrics password, which `RandomPassword` would otherwise make). Nothing of the
program is bypassed.
"""

from __future__ import annotations

import re
import secrets
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from services import Service
from settings.keys import GENERATED_SECRETS
from toolchain import dockerd
from toolchain.engine_run import (
    COMMAND_SECONDS,
    NAMESPACE,
    REPO,
    SECRET_VALUES,
    copy_project,
    engine_env,
    overrides,
)

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("timed")]

PLACEHOLDER: Final = re.compile(r"'<[^'<>]+>'")
# The program's refusal of a stack that lacks a secret it needs (settings/parse.py).
MISSING: Final = re.compile(rf"{NAMESPACE}:(\w+) is required by this stack's settings")
PREVIEW: Final = "make preview"
# Secrets the run sets itself: the random provider that would generate them cannot be built here.
RUN_SECRETS: Final = tuple(key.name for key in GENERATED_SECRETS)


@dataclass(frozen=True)
class Setup:
    """The README's lines for one stack, placeholders filled."""

    setup: list[str]
    preview: list[str]
    secrets: dict[str, str]

    def without_secrets(self) -> list[str]:
        return [line for line in self.setup if not _secret_key(line)]


def _secret_key(line: str) -> str | None:
    """The key a `pulumi config set --secret <key> <value>` line sets, else None."""
    words = shlex.split(line)
    if words[:3] != ["pulumi", "config", "set"] or "--secret" not in words:
        return None
    return words[-2]


def _fill(line: str) -> str:
    if not PLACEHOLDER.search(line):
        return line
    if line.startswith("export PULUMI_CONFIG_PASSPHRASE="):
        return PLACEHOLDER.sub(secrets.token_urlsafe(24), line)
    key = _secret_key(line)
    if key is None or key not in SECRET_VALUES:
        pytest.fail(f"the README's setup has a placeholder the engine tier cannot fill: {line}")
    return PLACEHOLDER.sub(lambda _: shlex.quote(SECRET_VALUES[key]), line)


def readme_setup(stack: str) -> Setup:
    marker = f"<!-- setup:{stack} -->"
    text = (REPO / "README.md").read_text()
    if marker not in text:
        pytest.fail(f"the README has no setup for {stack}: a `{marker}` line before a bash block")
    block = re.match(r"\s*```bash\n(.*?)\n```", text.split(marker, 1)[1], re.DOTALL)
    if block is None:
        pytest.fail(f"no ```bash block right after `{marker}` in the README")
    lines = [_fill(line) for line in block.group(1).splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    at = next((index for index, line in enumerate(lines) if line.startswith(PREVIEW)), None)
    if at is None:
        pytest.fail(f"the README's setup for {stack} does not end in `{PREVIEW}`")
    keys = {key: line for line in lines[:at] if (key := _secret_key(line))}
    return Setup(lines[:at], lines[at:], {key: SECRET_VALUES[key] for key in keys})


def _localize(stack: str, changed: Mapping[str, str]) -> list[str]:
    lines = [f"pulumi config set --stack {stack} {NAMESPACE}:{key} -- {shlex.quote(value)}"
             for key, value in changed.items()]
    lines += [f"pulumi config set --stack {stack} --secret {NAMESPACE}:{key} -- "
              f"{shlex.quote(SECRET_VALUES[key])}" for key in RUN_SECRETS]
    return lines


def _run(lines: list[str], root: Path, engine_bin: Path, engine: dockerd.Engine,
         stack: str) -> subprocess.CompletedProcess[str]:
    project = copy_project(root, stack, with_make=True)
    home = root / "user"
    home.mkdir()
    env = {**engine_env(root, engine_bin, engine), "HOME": str(home)}
    script = "\n".join(["set -euo pipefail", *lines])
    return subprocess.run(["bash", "-c", script], cwd=project, env=env, capture_output=True,
                          text=True, timeout=COMMAND_SECONDS, check=False)


def test_without_its_secrets_the_program_names_each_one_the_readme_sets(
        stack_name: str, engine_bin: Path, docker_engine: dockerd.Engine,
        local_images: Mapping[Service, str], tmp_path: Path) -> None:
    readme = readme_setup(stack_name)
    assert readme.secrets, f"the README's setup for {stack_name} sets no secret"
    lines = [*readme.without_secrets(),
             *_localize(stack_name, overrides(stack_name, local_images)),
             *readme.preview]
    result = _run(lines, tmp_path, engine_bin, docker_engine, stack_name)
    text = result.stdout + result.stderr
    assert result.returncode != 0, text[-6000:]
    # The program refused, not the CLI's config validation.
    assert "validating stack config" not in text, text[-6000:]
    assert set(MISSING.findall(text)) == set(readme.secrets), (
        f"the program's missing secrets differ from the README's for {stack_name}:\n"
        f"{text[-6000:]}")


def test_the_readme_setup_previews(
        stack_name: str, engine_bin: Path, docker_engine: dockerd.Engine,
        local_images: Mapping[Service, str], tmp_path: Path) -> None:
    readme = readme_setup(stack_name)
    lines = [*readme.setup,
             *_localize(stack_name, overrides(stack_name, local_images)),
             *readme.preview]
    result = _run(lines, tmp_path, engine_bin, docker_engine, stack_name)
    text = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"the README's setup for {stack_name} failed:\n" + "\n".join(lines) + f"\n{text[-6000:]}")
    # The README's backend is a directory under HOME; the stack's state is there, nowhere else.
    assert list((tmp_path / "user").rglob(f"stacks/*/{stack_name}.json*")), (
        "no state of the stack under HOME, where the README's backend is")
    leaked = [key for key, value in SECRET_VALUES.items() if value in text]
    assert not leaked, f"preview printed the values of {leaked}"

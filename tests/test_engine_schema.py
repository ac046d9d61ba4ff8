"""The Pulumi engine `make tools` finds or builds, against the SDK the program pins.

The Docker provider is pulumi-docker 5.1.0 with our patch (toolchain/patches/), the SDK 5.2.0:
the container inputs the provider's schema reports (`pulumi package get-schema`) must be the ones
the SDK's `ContainerArgs` and its nested `*Args` send, `uploads[].owner` first among them (the
program's secret files are owned by the service's user). A difference in an input the program
sets fails; any other must be in ALLOWED_DIFFERENCES, with its reason. And each binary reports
the version it was pinned at.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import pulumi_docker
import pytest

from review.mock_runtime import CONTAINER, ProgramRun
from tests.support import schema as support_schema
from tests.support.schema import engine_env, get_schema
from tests.support.tools import require_engine
from toolchain import pulumi_engine

RESOURCE: Final = "docker:index/container:Container"
OWNER: Final = "uploads[].owner"
# Per provider version, the inputs that differ between its schema and the SDK's but that the
# program does not set, each with why it may. Keep it short: an entry is an input a program
# using the SDK would send and this provider would refuse (or the reverse). The 5.2.0 plugin
# (installed where the machine has one, docs/engine.md) is the SDK's own: no difference.
ALLOWED_DIFFERENCES: Final[Mapping[str, Mapping[str, str]]] = {
    "5.1.0": {
        "deviceCgroupRules": "new in the 5.2.0 SDK (device cgroup rules, a list of strings); "
                             "the 5.1.0 provider refuses it and the program sets no device rules",
    },
}


@pytest.fixture(scope="module")
def engine() -> Path:
    return require_engine()


@pytest.fixture(scope="module")
def schema(engine: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(get_schema(
        engine, pulumi_engine.DOCKER, tmp_path_factory.mktemp("pulumi-home")))
    return loaded


def schema_inputs(schema: Mapping[str, Any]) -> dict[str, str]:
    """Every input of the container, nested ones as `uploads[].owner` / `healthcheck.tests`."""
    return support_schema.schema_inputs(schema, RESOURCE)


def sdk_inputs() -> dict[str, str]:
    """The same for the pinned SDK's ContainerArgs and the nested `*Args` it takes."""
    return support_schema.sdk_inputs(pulumi_docker.ContainerArgs)


def program_inputs(run: ProgramRun, known: set[str]) -> set[str]:
    """Every container input the program sets in a stack, as paths like schema_inputs' (a
    map's keys, e.g. logOpts' `max-size`, are values, not inputs)."""
    used: set[str] = set()

    def walk(value: Any, path: str) -> None:
        used.add(path)
        if isinstance(value, dict) and any(k.startswith(path + ".") for k in known):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list) and any(k.startswith(path + "[].") for k in known):
            for item in value:
                for key, nested in item.items():
                    walk(nested, f"{path}[].{key}")

    for container in run.of_type(CONTAINER):
        for key, value in container.plain_inputs().items():
            walk(value, key)
    return used


@functools.cache
def _differences(schema_json: str) -> dict[str, str]:
    return support_schema.differences(schema_inputs(json.loads(schema_json)), sdk_inputs())


def differences(schema: Mapping[str, Any]) -> dict[str, str]:
    """Inputs whose presence or kind differ between the provider's schema and the SDK."""
    return _differences(json.dumps(schema, sort_keys=True))


def test_uploads_take_an_owner_in_the_provider_as_in_the_sdk(schema: dict[str, Any]) -> None:
    assert schema_inputs(schema).get(OWNER) == sdk_inputs().get(OWNER) == "string"
    upload = schema["types"]["docker:index/ContainerUpload:ContainerUpload"]["properties"]
    getter = pulumi_docker.ContainerUploadArgs.owner
    assert isinstance(getter, property)
    # Same meaning as the SDK documents, and like every upload key a change replaces.
    assert upload["owner"]["description"].strip() == inspect.getdoc(getter)
    assert upload["owner"]["willReplaceOnChanges"] is True


def test_the_provider_takes_every_container_input_the_program_sets(
        schema: dict[str, Any], program: ProgramRun) -> None:
    provider, sdk = schema_inputs(schema), sdk_inputs()
    used = program_inputs(program, provider.keys() | sdk.keys())
    assert OWNER in used
    mismatched = {path: why for path, why in differences(schema).items() if path in used}
    assert mismatched == {}, (
        f"inputs the program sets that provider and SDK disagree on: {mismatched}")


def test_other_differences_are_the_allowed_ones(schema: dict[str, Any]) -> None:
    found = differences(schema)
    allowed = ALLOWED_DIFFERENCES.get(schema["version"], {})
    unexpected = {path: why for path, why in found.items() if path not in allowed}
    stale = sorted(set(allowed) - set(found))
    assert unexpected == {}, (
        f"provider and SDK differ in {sorted(unexpected)}: {unexpected}; patch the provider "
        "(toolchain/patches/) or add them to ALLOWED_DIFFERENCES with a reason")
    assert stale == [], f"ALLOWED_DIFFERENCES that no longer differ, remove them: {stale}"


def test_the_schema_reports_the_provider_version(schema: dict[str, Any]) -> None:
    docker = pulumi_engine.manifest()[pulumi_engine.DOCKER]
    assert schema["version"] == docker["version"]
    if docker["origin"].startswith("built"):
        assert schema["version"] == pulumi_engine.DOCKER_VERSION


def _version(engine: Path, tmp_path: Path, *command: str) -> str:
    result = subprocess.run([str(engine / command[0]), *command[1:]], capture_output=True,
                            text=True, timeout=60, check=False, env=engine_env(engine, tmp_path))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_cli_reports_the_pinned_version(engine: Path, tmp_path: Path) -> None:
    assert _version(engine, tmp_path, "pulumi", "version") == pulumi_engine.CLI_VERSION


def test_the_language_host_reports_the_cli_version(engine: Path, tmp_path: Path) -> None:
    reported = _version(engine, tmp_path, "pulumi-language-python", "-version")
    assert reported.removeprefix("v") == pulumi_engine.CLI_VERSION.removeprefix("v")


def test_the_language_host_has_its_exec_script(engine: Path) -> None:
    script = engine / pulumi_engine.LANGUAGE_EXEC
    assert os.access(script, os.X_OK)
    assert re.match(r"#!.*python", script.read_text().splitlines()[0])

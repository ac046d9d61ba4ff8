"""The Pulumi engine `make tools` finds or builds, against the SDK the program pins.

The Docker provider is pulumi-docker 5.1.0 with our patch (toolchain/patches/), the SDK 5.2.0:
the container inputs the provider's schema reports (`pulumi package get-schema`) must be the ones
the SDK's `ContainerArgs` and its nested `*Args` send, `uploads[].owner` first among them (the
program's secret files are owned by the service's user). A difference in an input the program
sets fails; any other must be in ALLOWED_DIFFERENCES, with its reason. And each binary reports
the version it was pinned at.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import json
import os
import re
import subprocess
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_docker
import pytest

# The SDK's own reading of an `@pulumi.input_type` class: each property's Pulumi name (its
# `@pulumi.getter(name=...)`) and type, as the SDK serialises it.
from pulumi._types import input_type_types, is_input_type

from review.mock_runtime import CONTAINER, ProgramRun
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


def _engine_env(engine: Path, home: Path) -> dict[str, str]:
    # Its own PULUMI_HOME: the test neither reads nor writes ~/.pulumi.
    return {**os.environ, "PATH": f"{engine}{os.pathsep}{os.environ.get('PATH', '')}",
            "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true"}


@pytest.fixture(scope="module")
def engine() -> Path:
    return require_engine()


@pytest.fixture(scope="module")
def schema(engine: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = subprocess.run(
        [str(engine / "pulumi"), "package", "get-schema", str(engine / "pulumi-resource-docker")],
        capture_output=True, text=True, timeout=120, check=False,
        env=_engine_env(engine, tmp_path_factory.mktemp("pulumi-home")))
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def _schema_kind(schema: Mapping[str, Any], prop: Mapping[str, Any]) -> tuple[str, str | None]:
    """(kind, the object type's token or None): kinds as in _sdk_kind."""
    if "$ref" in prop:
        ref = str(prop["$ref"])
        if not ref.startswith("#/types/"):
            return "any", None
        declared = schema["types"][ref.removeprefix("#/types/")]
        if "enum" in declared:
            return str(declared["type"]), None
        return "object", ref.removeprefix("#/types/")
    if prop["type"] == "array":
        kind, token = _schema_kind(schema, prop["items"])
        return f"array<{kind}>", token
    if prop["type"] == "object":
        kind, token = _schema_kind(schema, prop.get("additionalProperties", {"type": "string"}))
        return f"map<{kind}>", token
    return str(prop["type"]), None


def schema_inputs(schema: Mapping[str, Any]) -> dict[str, str]:
    """Every input of the container, nested ones as `uploads[].owner` / `healthcheck.tests`:
    its kind (`string`, `integer`, `array<object>`, `map<string>`, ...)."""
    found: dict[str, str] = {}

    def walk(properties: Mapping[str, Any], prefix: str) -> None:
        for name, prop in properties.items():
            kind, token = _schema_kind(schema, prop)
            found[prefix + name] = kind
            if token is not None:
                nested = "[]." if kind.startswith("array<") else "."
                walk(schema["types"][token].get("properties", {}), prefix + name + nested)

    walk(schema["resources"][RESOURCE]["inputProperties"], "")
    return found


def _sdk_kind(hint: Any) -> tuple[str, type | None]:
    """The kind of one SDK input annotation: `pulumi.Input[T]` (a Union of T, Awaitable[T] and
    Output) read as T; Sequence as array, Mapping as map, an `@pulumi.input_type` as object."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        plain = [arg for arg in typing.get_args(hint)
                 if arg is not type(None)
                 and typing.get_origin(arg) not in (collections.abc.Awaitable, pulumi.Output)]
        assert len(plain) == 1, hint
        return _sdk_kind(plain[0])
    origin = typing.get_origin(hint)
    if origin is collections.abc.Sequence:
        kind, nested = _sdk_kind(typing.get_args(hint)[0])
        return f"array<{kind}>", nested
    if origin is collections.abc.Mapping:
        kind, nested = _sdk_kind(typing.get_args(hint)[1])
        return f"map<{kind}>", nested
    if isinstance(hint, type) and is_input_type(hint):
        return "object", hint
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Any: "any"}
    return names[hint], None


def sdk_inputs() -> dict[str, str]:
    """The same for the pinned SDK's ContainerArgs and the nested `*Args` it takes, by the
    Pulumi names their `@pulumi.getter(name=...)` declare."""
    found: dict[str, str] = {}

    def walk(args: type, prefix: str) -> None:
        for name, hint in input_type_types(args).items():
            kind, nested = _sdk_kind(hint)
            found[prefix + name] = kind
            if nested is not None:
                walk(nested, prefix + name + ("[]." if kind.startswith("array<") else "."))

    walk(pulumi_docker.ContainerArgs, "")
    return found


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
    provider = schema_inputs(json.loads(schema_json))
    sdk = sdk_inputs()
    return {path: f"provider {provider.get(path, 'has none')}, SDK {sdk.get(path, 'has none')}"
            for path in sorted(provider.keys() | sdk.keys()) if provider.get(path) != sdk.get(path)}


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
                            text=True, timeout=60, check=False, env=_engine_env(engine, tmp_path))
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

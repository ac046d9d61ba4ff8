"""The Kubernetes provider `make tools` builds (pulumi-kubernetes v4.25.0, toolchain/
pulumi_engine.py) against the Python SDK the program pins (pulumi-kubernetes==4.25.0): the
schema the built provider reports (`pulumi package get-schema`) has the pinned version, the
same resources as the SDK, and for every one of them the same inputs, nested ones included, by
name and kind. The Kubernetes platform sets only inputs of those resources, so a difference in
any of them fails."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from collections.abc import Mapping
from typing import Any, Final

import pulumi
import pulumi_kubernetes
import pytest

from tests.support.schema import differences, get_schema, schema_inputs, sdk_inputs
from tests.support.tools import require_engine
from toolchain import pulumi_engine

PACKAGE: Final = "pulumi_kubernetes"


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    engine = require_engine()
    loaded: dict[str, Any] = json.loads(get_schema(
        engine, pulumi_engine.KUBERNETES, tmp_path_factory.mktemp("pulumi-home")))
    return loaded


def _python_modules(schema: Mapping[str, Any]) -> Mapping[str, str]:
    """Schema module (`networking.k8s.io/v1`) -> the SDK's module path (`networking/v1`)."""
    overrides: Mapping[str, str] = schema["language"]["python"]["moduleNameOverrides"]
    return overrides


def custom_resources(schema: Mapping[str, Any]) -> set[str]:
    """The schema's resources but its overlays (Chart, ConfigFile, ...: hand-written in each
    SDK, components there rather than the provider's)."""
    return {token for token, resource in schema["resources"].items()
            if not resource.get("isOverlay")}


def sdk_resources(schema: Mapping[str, Any]) -> set[str]:
    """Every resource class of the SDK as a schema token (`kubernetes:core/v1:Namespace`)."""
    back = {path: module for module, path in _python_modules(schema).items()}
    found = set()
    for info in pkgutil.walk_packages(pulumi_kubernetes.__path__, f"{PACKAGE}."):
        parts = info.name.split(".")[1:]
        if not info.ispkg or any(part.startswith("_") for part in parts):
            continue
        module = importlib.import_module(info.name)
        # A package the SDK imported lazily (pulumi._utils._LazyModule, once any sibling was
        # used) loads at its first attribute read; `vars` alone would see it empty.
        getattr(module, "__all__", None)
        path = "/".join(parts)
        found |= {f"kubernetes:{back.get(path, path)}:{name}"
                  for name, value in vars(module).items()
                  if inspect.isclass(value) and issubclass(value, pulumi.Resource)
                  and value.__module__.startswith(info.name)}
    return found


def sdk_args(schema: Mapping[str, Any], token: str) -> type:
    """The SDK's input class of a resource: `<Name>Args`, or `<Name>InitArgs` where a type of
    the same name has the first (ConfigMap, Namespace, ...)."""
    _, module, name = token.split(":")
    path = _python_modules(schema).get(module, module)
    found = importlib.import_module(f"{PACKAGE}.{path.replace('/', '.')}")
    args: type = getattr(found, f"{name}InitArgs", None) or getattr(found, f"{name}Args")
    return args


def test_the_schema_is_the_release_the_sdk_is(schema: dict[str, Any]) -> None:
    assert schema["version"] == pulumi_engine.KUBERNETES_VERSION
    assert pulumi_engine.sdk_version(pulumi_engine.KUBERNETES) == schema["version"]


def test_the_provider_has_the_resources_the_sdk_has(schema: dict[str, Any]) -> None:
    provider = custom_resources(schema)
    overlays = set(schema["resources"]) - provider
    sdk = sdk_resources(schema) - overlays
    assert sorted(provider - sdk) == [], "resources of the provider the SDK lacks"
    assert sorted(sdk - provider) == [], "resources of the SDK the provider lacks"


def test_every_resource_takes_the_same_inputs_in_provider_and_sdk(
        schema: dict[str, Any]) -> None:
    differing = {}
    for token in sorted(custom_resources(schema)):
        found = differences(schema_inputs(schema, token), sdk_inputs(sdk_args(schema, token)))
        if found:
            differing[token] = found
    assert differing == {}, f"inputs provider and SDK disagree on: {differing}"


def test_the_comparison_sees_a_difference(schema: dict[str, Any]) -> None:
    # An input renamed in the schema is a difference, on both sides: the comparison is not
    # blind to the kinds it reads.
    token = "kubernetes:core/v1:ConfigMap"
    inputs = schema_inputs(schema, token)
    renamed = {("datum" if path == "data" else path): kind for path, kind in inputs.items()}
    assert differences(renamed, sdk_inputs(sdk_args(schema, token))) == {
        "data": "provider has none, SDK map<string>", "datum": "provider map<string>, SDK has none"}


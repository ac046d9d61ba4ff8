"""A provider's schema (`pulumi package get-schema`) against the Python SDK the program pins: the
inputs of one resource, nested ones as paths (`uploads[].owner`, `spec.template.spec`), each
with its kind, read from the schema and from the SDK's `@pulumi.input_type` classes the same way,
so the two can be compared input by input."""

from __future__ import annotations

import collections.abc
import enum
import os
import subprocess
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pulumi

# The SDK's own reading of an `@pulumi.input_type` class: each property's Pulumi name (its
# `@pulumi.getter(name=...)`) and type, as the SDK serialises it.
from pulumi._types import input_type_types, is_input_type


def engine_env(engine: Path, home: Path) -> dict[str, str]:
    # Its own PULUMI_HOME: the test neither reads nor writes ~/.pulumi.
    return {**os.environ, "PATH": f"{engine}{os.pathsep}{os.environ.get('PATH', '')}",
            "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true"}


def get_schema(engine: Path, plugin: str, home: Path) -> str:
    """The schema the built plugin reports, as JSON text."""
    result = subprocess.run([str(engine / "pulumi"), "package", "get-schema", str(engine / plugin)],
                            capture_output=True, text=True, timeout=300, check=False,
                            env=engine_env(engine, home))
    assert result.returncode == 0, result.stderr
    return result.stdout


def _union(kinds: Iterable[str]) -> str:
    """`union<integer|string>`; one kind alone (a string or a string enum) is that kind."""
    distinct = sorted(set(kinds))
    return distinct[0] if len(distinct) == 1 else f"union<{'|'.join(distinct)}>"


def _ref_kind(schema: Mapping[str, Any], ref: str) -> tuple[str, str | None]:
    """A `$ref`: an object type (its token), an enum (its type), else one of Pulumi's own
    (`pulumi.json#/Any`, `#/Asset`, `#/Archive`; `#/Json`, which Python takes as Any)."""
    if not ref.startswith("#/types/"):
        builtin = ref.rpartition("/")[2].lower()
        return ("any" if builtin == "json" else builtin), None
    declared = schema["types"][ref.removeprefix("#/types/")]
    if "enum" in declared:
        return str(declared["type"]), None
    return "object", ref.removeprefix("#/types/")


def _schema_kind(schema: Mapping[str, Any], prop: Mapping[str, Any]) -> tuple[str, str | None]:
    """(kind, the object type's token or None): kinds as in _sdk_kind."""
    if "$ref" in prop:
        return _ref_kind(schema, str(prop["$ref"]))
    if "oneOf" in prop:
        return _union(_schema_kind(schema, one)[0] for one in prop["oneOf"]), None
    if prop["type"] == "array":
        kind, token = _schema_kind(schema, prop["items"])
        return f"array<{kind}>", token
    if prop["type"] == "object":
        kind, token = _schema_kind(schema, prop.get("additionalProperties", {"type": "string"}))
        return f"map<{kind}>", token
    return str(prop["type"]), None


def schema_inputs(schema: Mapping[str, Any], resource: str) -> dict[str, str]:
    """Every input of `resource`, nested ones as `uploads[].owner` / `healthcheck.tests`: its
    kind (`string`, `integer`, `array<object>`, `map<string>`, `union<integer|string>`, ...).
    A type met again inside itself (a recursive schema) is not walked twice."""
    found: dict[str, str] = {}

    def walk(properties: Mapping[str, Any], prefix: str, seen: frozenset[str]) -> None:
        for name, prop in properties.items():
            kind, token = _schema_kind(schema, prop)
            found[prefix + name] = kind
            if token is not None and token not in seen:
                nested = "[]." if kind.startswith("array<") else "."
                walk(schema["types"][token].get("properties", {}), prefix + name + nested,
                     seen | {token})

    walk(schema["resources"][resource]["inputProperties"], "", frozenset())
    return found


def _sdk_union(hint: Any) -> tuple[str, type | None]:
    """`pulumi.Input[T]` (a Union of T, Awaitable[T] and Output) read as T; a Union of plain
    types (Kubernetes' IntOrString) as union."""
    plain = [arg for arg in typing.get_args(hint)
             if arg is not type(None)
             and typing.get_origin(arg) not in (collections.abc.Awaitable, pulumi.Output)]
    if set(plain) == {pulumi.Asset, pulumi.Archive}:
        # How the Python SDK writes a schema's `pulumi.json#/Asset` (asset or archive).
        return "asset", None
    if len(plain) > 1:
        return _union(_sdk_kind(arg)[0] for arg in plain), None
    return _sdk_kind(plain[0])


def _sdk_kind(hint: Any) -> tuple[str, type | None]:
    """The kind of one SDK input annotation (kinds as in _schema_kind): Sequence as array,
    Mapping as map, an `@pulumi.input_type` as object, an enum as its values' type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _sdk_union(hint)
    if origin in (collections.abc.Sequence, collections.abc.Mapping):
        kind, nested = _sdk_kind(typing.get_args(hint)[-1])
        return f"{'array' if origin is collections.abc.Sequence else 'map'}<{kind}>", nested
    if isinstance(hint, type) and is_input_type(hint):
        return "object", hint
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        # The SDK's enums are `str` (or `int`) enums: a value of that type.
        return _sdk_kind(next(base for base in hint.__mro__ if base in (str, int, float)))
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Any: "any",
             pulumi.Asset: "asset", pulumi.Archive: "archive"}
    return names[hint], None


def sdk_inputs(args: type) -> dict[str, str]:
    """The same for an SDK `*Args` class and the nested `*Args` it takes, by the Pulumi names
    their `@pulumi.getter(name=...)` declare."""
    found: dict[str, str] = {}

    def walk(current: type, prefix: str, seen: frozenset[type]) -> None:
        for name, hint in input_type_types(current).items():
            kind, nested = _sdk_kind(hint)
            found[prefix + name] = kind
            if nested is not None and nested not in seen:
                walk(nested, prefix + name + ("[]." if kind.startswith("array<") else "."),
                     seen | {nested})

    walk(args, "", frozenset())
    return found


def differences(provider: Mapping[str, str], sdk: Mapping[str, str]) -> dict[str, str]:
    """Inputs whose presence or kind differ between the provider's schema and the SDK."""
    return {path: f"provider {provider.get(path, 'has none')}, SDK {sdk.get(path, 'has none')}"
            for path in sorted(provider.keys() | sdk.keys()) if provider.get(path) != sdk.get(path)}

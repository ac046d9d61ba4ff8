"""Run the whole Pulumi program under Pulumi's mock runtime, with no CLI, engine or Docker.

Tests and `make render` both use this: it reads a stack's real `Pulumi.<stack>.yaml`, adds
obviously fake secrets, runs `__main__.py` and records every resource registration (type, name,
parent, options, and inputs exactly as they would reach the engine, secrets still wrapped).
`run_content` runs the Grafana content project (content/) the same way, its stack reference
answered by the outputs of such a run.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import json
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.settings import set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from settings import KEYS, PROJECT, Kind, Settings, SettingsError
from settings.parse import string_list_problem
from settings.stack_file import ROOT, config_text, file_settings, read_config

# The engine's marker for a secret value inside serialized properties.
SECRET_SIG: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG_VALUE: Final = "1b47061264138c4ac30d75fd1eb44270"
FAKE_SECRET_PREFIX: Final = "FAKE-TEST-SECRET"
CONTAINER: Final = "docker:index/container:Container"
REMOTE_IMAGE: Final = "docker:index/remoteImage:RemoteImage"
STACK_REFERENCE: Final = "pulumi:pulumi:StackReference"
CONTENT_PROJECT: Final = "gatewayz-grafana-content"
# What a file backend calls the one organization it has.
ORGANIZATION: Final = "organization"


def fake_secret(name: str) -> str:
    """A value no one can mistake for a real credential, and that tests can search for."""
    return f"{FAKE_SECRET_PREFIX}-{name}"


FAKE_SECRETS: Final[Mapping[str, str]] = {
    key.name: (f"https://hooks.example.invalid/{fake_secret(key.name)}" if key.name.endswith("Url")
               else fake_secret(key.name))
    for key in KEYS if key.secret
}


@dataclass(frozen=True)
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    deleted_with: str
    replace_with: tuple[str, ...]
    dependencies: tuple[str, ...]
    # Inputs as the engine receives them: secrets appear as {SECRET_SIG: ..., "value": ...}.
    inputs: Mapping[str, Any]
    # The id the mocks gave it ("" for a component).
    id: str = ""

    def plain_inputs(self) -> dict[str, Any]:
        """Inputs with every secret wrapper removed (for reading values, not for secrecy checks)."""
        unwrapped = unwrap_secrets(self.inputs)
        assert isinstance(unwrapped, dict)
        return unwrapped

    def files(self) -> dict[str, str]:
        """A container's uploaded files: container path -> content."""
        return {upload["file"]: upload["content"]
                for upload in self.plain_inputs().get("uploads", [])}


@dataclass
class ProgramRun:
    stack: str
    resources: list[Registration] = field(default_factory=list)
    # Stack exports: name -> (value, is_secret).
    outputs: dict[str, tuple[Any, bool]] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def containers(self) -> dict[str, Registration]:
        """Each service's container by service (`prometheus`, ... `redis-exporter`: its network
        alias), its `uploads` those of the files container it mounts (components/service.py),
        as the running service sees its files."""
        found = {}
        for container in self.of_type(CONTAINER):
            networks = container.plain_inputs().get("networksAdvanced")
            if not networks:
                continue
            (network,) = networks
            files = self.files_container_of(container)
            inputs = dict(container.inputs)
            if files is not None:
                inputs["uploads"] = files.inputs["uploads"]
            found[network["aliases"][0]] = dataclasses.replace(container, inputs=inputs)
        return found

    def image_of(self, container: Registration) -> str:
        """The image name a container runs: its service's RemoteImage, its sibling."""
        (image,) = [r for r in self.of_type(REMOTE_IMAGE) if r.parent == container.parent]
        return str(image.plain_inputs()["name"])

    def files_container_of(self, container: Registration) -> Registration | None:
        """The files container a service's container mounts (`volumes_from <id>:ro`), if any."""
        by_id = {files.id: files for files in self.files_containers()}
        mounted = [by_id[str(volume["fromContainer"]).removesuffix(":ro")]
                   for volume in container.plain_inputs().get("volumes", [])
                   if "fromContainer" in volume]
        assert len(mounted) <= 1, f"{container.name} mounts more than one files container"
        return mounted[0] if mounted else None

    def files_containers(self) -> list[Registration]:
        """The containers that only hold a service's files: created, never started."""
        return [r for r in self.of_type(CONTAINER) if r.plain_inputs().get("start") is False]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name!r}"
        return matches[0]


def unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_SIG_VALUE:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def _fake_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _container_id(name: str, inputs: Mapping[str, Any]) -> str:
    """A container's id: new with every change of its inputs, as Docker gives a replacement a
    new id, so whatever refers to it by id sees the change (`volumes_from <id>`)."""
    return _fake_id(name + json.dumps(inputs, sort_keys=True, default=str))




class _Mocks(pulumi.runtime.Mocks):
    """Returns inputs as outputs, plus the computed values the program reads, and a stack
    reference's outputs from `referenced` (name -> (value, is_secret))."""

    def __init__(self, referenced: Mapping[str, tuple[Any, bool]] | None = None) -> None:
        super().__init__()
        self.referenced = referenced or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == STACK_REFERENCE:
            state["outputs"] = {name: value for name, (value, _) in self.referenced.items()}
            state["secretOutputNames"] = sorted(
                name for name, (_, secret) in self.referenced.items() if secret)
        if args.typ == REMOTE_IMAGE:
            state["imageId"] = f"sha256:{hashlib.sha256(args.inputs['name'].encode()).hexdigest()}"
            state["repoDigest"] = f"{args.inputs['name']}@{state['imageId']}"
        elif args.typ == "random:index/randomPassword:RandomPassword":
            # The engine marks `result` secret (additionalSecretOutputs); mocks must do it here.
            state["result"] = pulumi.Output.secret(fake_secret(f"generated-{args.name}"))
        if args.typ == CONTAINER:
            return f"{args.name}-{_container_id(args.name, args.inputs)}", state
        return f"{args.name}-{_fake_id(args.name)}", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: _Mocks, run: ProgramRun) -> None:
        super().__init__(mocks)
        self.run = run

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        # The SDK leaves MockMonitor untyped.
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.run.resources.append(Registration(
                urn=response.urn, type=request.type, name=request.name, parent=request.parent,
                custom=request.custom, provider=request.provider, protect=request.protect,
                retain_on_delete=request.retainOnDelete,
                delete_before_replace=request.deleteBeforeReplace,
                deleted_with=request.deletedWith, replace_with=tuple(request.replace_with),
                dependencies=tuple(request.dependencies),
                inputs=json_format.MessageToDict(request.object), id=response.id,
            ))
        return response


def stack_config(stack: str, secrets: Mapping[str, str] = FAKE_SECRETS,
                 overrides: Mapping[str, Any] | None = None) -> tuple[dict[str, str], list[str]]:
    """A stack's config as the CLI would hand it over: the stack file, plus fake secrets.

    `overrides` (keys without the project prefix, None to delete) lets tests vary one value.
    """
    values = read_config(stack)
    for name, value in {**secrets, **(overrides or {})}.items():
        full = name if ":" in name else f"{PROJECT}:{name}"
        if value is None:
            values.pop(full, None)
        else:
            values[full] = value
    # As `pulumi preview` does before the program runs: an array key holding a string is refused.
    refused = [string_list_problem(key.name, values[f"{PROJECT}:{key.name}"]) for key in KEYS
               if key.kind is Kind.ARRAY and isinstance(values.get(f"{PROJECT}:{key.name}"), str)]
    if refused:
        raise SettingsError(stack, refused)
    config = {key: config_text(value) for key, value in values.items()}
    secret_keys = [f"{PROJECT}:{name}" for name in secrets if f"{PROJECT}:{name}" in config]
    return config, secret_keys


def run_program(stack: str, config: Mapping[str, str], secret_keys: list[str],
                preview: bool = False) -> ProgramRun:
    """Run __main__.py for `stack` under mocks; raises what the program raises."""
    return _run(ROOT / "__main__.py", PROJECT, stack, config, secret_keys, preview=preview,
                referenced={})


def run_file(main: Path, stack: str, config: Mapping[str, str], secret_keys: list[str]
             ) -> ProgramRun:
    """Run another program of this project (`main`) for `stack` under mocks, with this
    project's config."""
    return _run(main, PROJECT, stack, config, secret_keys, preview=False, referenced={})


def run_content(observability: ProgramRun, config: Mapping[str, str] | None = None
                ) -> ProgramRun:
    """Run content/__main__.py for the observability run's stack, its stack reference reading
    that run's outputs."""
    return _run(ROOT / "content" / "__main__.py", CONTENT_PROJECT, observability.stack,
                config or {}, [], preview=False, referenced=observability.outputs)


def _run(main: Path, project: str, stack: str, config: Mapping[str, str], secret_keys: list[str],
         *, preview: bool, referenced: Mapping[str, tuple[Any, bool]]) -> ProgramRun:
    run = ProgramRun(stack)

    def body() -> None:
        mocks = _Mocks(referenced)
        set_root_resource(None)  # type: ignore[arg-type]  # a fresh Stack per run
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview,
                                 monitor=_RecordingMonitor(mocks, run),
                                 organization=ORGANIZATION)
        pulumi.runtime.set_all_config(dict(config), secret_keys)
        def program() -> None:
            runpy.run_path(str(main), run_name="__main__")

        _sync_await(run_pulumi_func(program))
        root = pulumi.runtime.get_root_resource()
        assert root is not None
        for name, value in getattr(root, "outputs", {}).items():
            output = pulumi.Output.from_input(value)
            run.outputs[name] = (_sync_await(output.future()),
                                 bool(_sync_await(output.is_secret())))

    # A fresh context per run: Pulumi keeps its runtime state in context variables.
    contextvars.Context().run(body)
    return run


def stack_settings(stack: str, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The stack's settings, from its stack file and the fake secrets the render uses: what a
    run expects (environment, jobs, retention), to hold against what the stack does."""
    config, secret_keys = stack_config(stack, overrides=overrides)
    return file_settings(stack, config, frozenset(key.removeprefix(f"{PROJECT}:")
                                                  for key in secret_keys))

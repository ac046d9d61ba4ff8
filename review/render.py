"""Render a stack offline: what `pulumi up` would write onto the host, as reviewable files.

`python -m review.render --stack staging --out build/staging` runs the program under Pulumi's mock
runtime (no CLI, no Docker) with fake secrets and writes:
  files/<service>/<path in container>   every uploaded file (secret files hold the fake values)
  containers/<service>.json             image, command, env, ports, volumes, limits, hardening,
                                        healthcheck, each upload's path, owner and mode, and the
                                        files container that holds them (`filesContainer`)
  grafana/datasources/<uid>.json        each datasource with the links its config adds
  grafana/dashboards/<uid>.json         each dashboard model, grafana/folders.json
  grafana/resources.json                the content stack's resources (content/)
  kubernetes/<namespace>/<Kind>/<name>.yaml
                                        each Kubernetes object (`platform: kubernetes`) as the
                                        provider sends it to the API server; `_cluster` for
                                        cluster-scoped ones (the Namespace)
  resources.json, outputs.json          every resource (type, name, parent, options, inputs; a
                                        Kubernetes object's file instead of its inputs)
Secrets are masked everywhere but in the uploaded files (a Secret's keys stay, its values are
masked). The tree is byte-for-byte deterministic.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from configs.render import to_json
from review.mock_runtime import (
    SECRET_SIG,
    ProgramRun,
    Registration,
    run_content,
    run_program,
    stack_config,
)
from settings.stack_file import stack_argument

MASK: Final = "[secret]"
# Inputs shown in files of their own; the resource listing points there instead.
_LONG_INPUTS: Final = {"uploads", "configJson", "jsonDataEncoded"}
# The Kubernetes provider's resource types (`kubernetes:<group>/<version>:<Kind>`), apart from
# its provider resource (`pulumi:providers:kubernetes`) and our components (`gatewayz:...`).
_KUBERNETES: Final = "kubernetes:"
# Where a cluster-scoped object (no metadata.namespace) is written.
CLUSTER_SCOPED: Final = "_cluster"
# What every object starts with, as `kubectl get -o yaml` writes it; the rest follows sorted.
_HEAD: Final = ("apiVersion", "kind", "metadata")
# pulumi-kubernetes v4.25.0 marks a Secret's `data` and `stringData` secret whole, whatever
# the program marked (provider/pkg/provider/provider.go, annotateSecrets).
_SECRET_FIELDS: Final = ("data", "stringData")


def mask_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return MASK
        return {key: mask_secrets(child) for key, child in value.items()}
    if isinstance(value, list):
        return [mask_secrets(child) for child in value]
    return value


def _short_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def _dump(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(document))


def _container_view(run: ProgramRun, container: Registration) -> dict[str, Any]:
    inputs = mask_secrets(container.inputs)
    envs = inputs.pop("envs", [])
    inputs.pop("uploads", None)
    uploads = [{key: value for key, value in upload.items() if key != "content"}
               for upload in container.plain_inputs().get("uploads", [])]
    files = run.files_container_of(container)
    view = {
        **inputs,
        "image": run.image_of(container),
        "env": dict(sorted(entry.split("=", 1) for entry in envs)) if envs != MASK else MASK,
        "uploads": sorted(uploads, key=lambda upload: str(upload["file"])),
    }
    if files is not None:
        # The never-started container that holds the uploads, which this one mounts read-only.
        view["filesContainer"] = {key: value for key, value in mask_secrets(files.inputs).items()
                                  if key not in ("uploads", "image")}
    return view


def _datasources(run: ProgramRun) -> dict[str, dict[str, Any]]:
    sources = {r.plain_inputs()["uid"]: mask_secrets(r.inputs)
               for r in run.of_type("grafana:oss/dataSource:DataSource")}
    for link in run.of_type("grafana:oss/dataSourceConfig:DataSourceConfig"):
        inputs = link.plain_inputs()
        sources[inputs["uid"]]["jsonData"] = json.loads(inputs["jsonDataEncoded"])
    return sources


def is_kubernetes_object(resource: Registration) -> bool:
    """An object the Kubernetes provider sends to the API server."""
    return resource.custom and resource.type.startswith(_KUBERNETES)


def manifest_path(resource: Registration) -> str:
    """Where an object's YAML is written in the tree: kubernetes/<namespace>/<Kind>/<name>.yaml."""
    metadata = resource.plain_inputs()["metadata"]
    return posixpath.join("kubernetes", metadata.get("namespace") or CLUSTER_SCOPED,
                          resource.plain_inputs()["kind"], f"{metadata['name']}.yaml")


def _as_sent(value: Any) -> Any:
    """Keys sorted, and numbers as the provider sends them: the registration holds every number
    as a protobuf double (`replicas: 3.0`), the fields of a Kubernetes object are integers."""
    if isinstance(value, dict):
        return {key: _as_sent(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_as_sent(child) for child in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def manifest(resource: Registration) -> dict[str, Any]:
    """The object as the provider sends it (the registration's inputs, camelCase as it has
    them), secrets masked: a Secret's keys are shown, each value masked."""
    inputs = mask_secrets(resource.inputs)
    if inputs.get("kind") == "Secret":
        plain = resource.plain_inputs()
        for field_name in _SECRET_FIELDS:
            if field_name in plain:
                inputs[field_name] = dict.fromkeys(plain[field_name], MASK)
    body = _as_sent(inputs)
    return {**{key: body.pop(key) for key in _HEAD if key in body}, **body}


class _ManifestDumper(yaml.SafeDumper):
    """Multi-line strings (a ConfigMap's files) as literal blocks, readable in a diff; PyYAML
    falls back to a quoted scalar where a block cannot hold the text exactly."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style="|" if "\n" in value else None)


_ManifestDumper.add_representer(str, _represent_str)


def to_manifest_yaml(document: Mapping[str, Any]) -> str:
    # Key order is `manifest`'s; long lines stay whole (configs/render.py's reason).
    return yaml.dump(dict(document), Dumper=_ManifestDumper, sort_keys=False,
                     default_flow_style=False, width=1 << 20)


def _resource_view(resource: Registration) -> dict[str, Any]:
    kubernetes = is_kubernetes_object(resource)
    # A Kubernetes object is a file of its own, which the listing names: a change to it shows
    # in that file alone.
    elsewhere = set(resource.inputs) if kubernetes else _LONG_INPUTS & set(resource.inputs)
    view = {
        "type": resource.type,
        "name": resource.name,
        "parent": _short_name(resource.parent),
        # A provider reference is `<urn>::<id>`: the name is the urn's last part.
        "provider": resource.provider.split("::")[-2] if resource.provider else "",
        "options": {"protect": resource.protect, "retainOnDelete": resource.retain_on_delete,
                    "deleteBeforeReplace": resource.delete_before_replace,
                    "deletedWith": _short_name(resource.deleted_with),
                    "replaceWith": [_short_name(urn) for urn in resource.replace_with]},
        "inputs": mask_secrets({key: value for key, value in resource.inputs.items()
                                if key not in elsewhere}),
        "shownElsewhere": sorted(elsewhere),
    }
    if kubernetes:
        view["manifest"] = manifest_path(resource)
    return view


@dataclass(frozen=True)
class Rendered:
    """A rendered tree read back: files by service and container path, containers, dashboards."""

    files: Mapping[str, Mapping[str, str]]
    containers: Mapping[str, Mapping[str, Any]]
    dashboards: tuple[Mapping[str, Any], ...]


def load(out: Path) -> Rendered:
    """Read the tree `render` wrote (the module docstring describes the layout)."""
    files: dict[str, dict[str, str]] = {}
    for path in sorted((out / "files").rglob("*")):
        if path.is_file():
            service, *parts = path.relative_to(out / "files").parts
            files.setdefault(service, {})["/" + "/".join(parts)] = path.read_text()
    return Rendered(
        files=files,
        containers={path.stem: json.loads(path.read_text())
                    for path in sorted((out / "containers").glob("*.json"))},
        dashboards=tuple(json.loads(path.read_text())
                         for path in sorted((out / "grafana" / "dashboards").glob("*.json"))))


def render(stack: str, out: Path, overrides: Mapping[str, Any] | None = None) -> ProgramRun:
    """Run the program for `stack` (with `overrides` of its settings, as `stack_config` takes
    them) and write its rendered tree to `out` (replaced whole)."""
    config, secret_keys = stack_config(stack, overrides=overrides)
    run = run_program(stack, config, secret_keys)
    grafana_run = run_content(run)
    if out.exists():
        shutil.rmtree(out)
    for service, container in sorted(run.containers().items()):
        for path, content in sorted(container.files().items()):
            target = out / "files" / service / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        _dump(out / "containers" / f"{service}.json", _container_view(run, container))
    for uid, source in _datasources(grafana_run).items():
        _dump(out / "grafana" / "datasources" / f"{uid}.json", source)
    for dashboard in grafana_run.of_type("grafana:oss/dashboard:Dashboard"):
        model = json.loads(dashboard.plain_inputs()["configJson"])
        _dump(out / "grafana" / "dashboards" / f"{model['uid']}.json", model)
    _dump(out / "grafana" / "folders.json", sorted(
        (mask_secrets(folder.inputs)
         for folder in grafana_run.of_type("grafana:oss/folder:Folder")),
        key=lambda folder: str(folder["uid"])))
    # The content project's own stack (content/), apart from the containers'.
    _dump(out / "grafana" / "resources.json", sorted(
        (_resource_view(resource) for resource in grafana_run.resources),
        key=lambda view: (view["type"], view["name"])))
    _dump(out / "resources.json", sorted(
        (_resource_view(resource) for resource in run.resources),
        key=lambda view: (view["type"], view["name"])))
    _dump(out / "outputs.json", {name: MASK if secret else value
                                 for name, (value, secret) in run.outputs.items()})
    _write_manifests(run, out)
    return run


def _write_manifests(run: ProgramRun, out: Path) -> None:
    """Each Kubernetes object in a file of its own (none on a Docker stack)."""
    written: dict[str, str] = {}
    for resource in run.resources:
        if not is_kubernetes_object(resource):
            continue
        path = manifest_path(resource)
        # Two objects of one kind and name in one namespace: the API server keeps one.
        assert path not in written, f"{resource.name} and {written[path]} are both {path}"
        written[path] = resource.name
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(to_manifest_yaml(manifest(resource)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, type=stack_argument)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    run = render(args.stack, args.out)
    print(f"rendered {args.stack}: {len(run.resources)} resources -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

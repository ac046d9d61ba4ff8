"""The stack's containers as a docker compose project: the anchor `make bench-engine` holds our
figures against (docs/benchmark.md).

From one run of the program under mocks (review/mock_runtime.py), each container the program
registers becomes a compose service with the same image, command, env, published ports, named
volume, network alias, extra hosts, healthcheck, memory and swap, CPU limit, the hardening
(capabilities, no-new-privileges, read-only root, tmpfs, user), log options, restart policy and
stop grace.
Each uploaded file becomes a file beside compose.yaml, with the owner and mode the upload has
(secret files 0400 owned by the service's user, the rest root's and 0444), bind-mounted
read-only at the upload's path. A label carries a hash of a service's files, so that `docker
compose up` recreates a service whose files changed, as `pulumi up` replaces a container whose
uploads changed (compose's own hash covers the service's definition, not the files it mounts).
The output is deterministic: the same run gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from configs.render import to_yaml
from review.mock_runtime import ProgramRun, Registration

COMPOSE_FILE: Final = "compose.yaml"
FILES_DIR: Final = "files"
FILES_LABEL: Final = "org.gatewayz.files-sha256"
NETWORK: Final = "docker:index/network:Network"
# The docker provider's upload owner when none is given (toolchain/patches/: unset is root).
ROOT_ID: Final = 0


@dataclass(frozen=True)
class HostFile:
    """One upload, as a file beside compose.yaml (`path` relative to it), mounted at `target`."""

    path: str
    target: str
    content: str
    mode: int
    uid: int
    gid: int


@dataclass(frozen=True)
class ComposeProject:
    name: str
    document: Mapping[str, Any]
    files: tuple[HostFile, ...]

    def text(self) -> str:
        return to_yaml(self.document)


def _literal(text: str) -> str:
    """A string compose takes as written: `$` would start an interpolation."""
    return text.replace("$", "$$")


def _seconds(value: float) -> str:
    return f"{int(value)}s"


def _host_files(service: str, uploads: list[Mapping[str, Any]]) -> list[HostFile]:
    files = []
    for upload in sorted(uploads, key=lambda one: str(one["file"])):
        inside = PurePosixPath(str(upload["file"]))
        files.append(HostFile(
            path=str(PurePosixPath(FILES_DIR, service, *inside.parts[1:])), target=str(inside),
            content=str(upload["content"]), mode=int(str(upload["permissions"]), 8),
            uid=int(upload.get("owner") or ROOT_ID), gid=int(upload.get("group") or ROOT_ID)))
    return files


def _files_hash(files: list[HostFile]) -> str:
    digest = hashlib.sha256()
    for one in files:
        digest.update(f"{one.path}\0{one.mode:o}\0{one.uid}:{one.gid}\0".encode())
        digest.update(hashlib.sha256(one.content.encode()).digest())
    return digest.hexdigest()


def _confinement(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What the container is allowed: extra hosts, capabilities, no-new-privileges, read-only
    root and its tmpfs, user, CPU limit; compose's key for each of the provider's inputs."""
    body: dict[str, Any] = {}
    if inputs.get("hosts"):
        body["extra_hosts"] = [f"{host['host']}:{host['ip']}" for host in inputs["hosts"]]
    capabilities = inputs.get("capabilities") or {}
    if capabilities.get("drops"):
        body["cap_drop"] = [str(cap) for cap in capabilities["drops"]]
    if capabilities.get("adds"):
        body["cap_add"] = [str(cap) for cap in capabilities["adds"]]
    if inputs.get("securityOpts"):
        body["security_opt"] = [str(opt) for opt in inputs["securityOpts"]]
    if inputs.get("readOnly"):
        body["read_only"] = True
    if inputs.get("tmpfs"):
        body["tmpfs"] = [f"{path}:{options}" if options else str(path)
                         for path, options in sorted(inputs["tmpfs"].items())]
    if inputs.get("user"):
        body["user"] = str(inputs["user"])
    if inputs.get("cpus"):
        body["cpus"] = str(inputs["cpus"])
    return body


def _service(run: ProgramRun, service: str, container: Registration,
             prefix: str) -> tuple[dict[str, Any], dict[str, Any], list[HostFile]]:
    """The service, the named volumes it declares (keyed by their name without the project's
    `prefix`), and its files."""
    inputs = container.plain_inputs()
    files = _host_files(service, list(inputs.get("uploads") or []))
    volumes: dict[str, Any] = {}
    mounts: list[dict[str, Any]] = []
    for volume in inputs.get("volumes") or []:
        if "fromContainer" in volume:
            # The files container's volumes: compose bind-mounts the same files instead.
            continue
        name = str(volume["volumeName"])
        key = name.removeprefix(f"{prefix}-")
        volumes[key] = {"name": name}
        mounts.append({"type": "volume", "source": key, "target": str(volume["containerPath"])})
    mounts += [{"type": "bind", "source": f"./{one.path}", "target": one.target,
                "read_only": True} for one in files]
    (network,) = inputs["networksAdvanced"]
    health = inputs["healthcheck"]
    body: dict[str, Any] = {
        "container_name": str(inputs["name"]),
        "image": run.image_of(container),
    }
    if inputs.get("command"):
        body["command"] = [_literal(str(arg)) for arg in inputs["command"]]
    envs = sorted(str(entry).split("=", 1) for entry in inputs.get("envs") or [])
    if envs:
        body["environment"] = {key: _literal(value) for key, value in envs}
    if inputs.get("ports"):
        body["ports"] = [{"target": int(port["internal"]), "published": str(int(port["external"])),
                          "host_ip": str(port["ip"]), "protocol": str(port.get("protocol", "tcp"))}
                         for port in inputs["ports"]]
    if mounts:
        body["volumes"] = mounts
    body.update(_confinement(inputs))
    body.update({
        "networks": {"default": {"aliases": [str(alias) for alias in network["aliases"]]}},
        "restart": str(inputs["restart"]),
        # The provider's memory and memorySwap are in MB (MiB).
        "mem_limit": f"{int(inputs['memory'])}m",
        "memswap_limit": f"{int(inputs['memorySwap'])}m",
        "logging": {"driver": str(inputs["logDriver"]),
                    "options": {str(k): str(v) for k, v in sorted(inputs["logOpts"].items())}},
        "healthcheck": {"test": [_literal(str(arg)) for arg in health["tests"]],
                        "interval": str(health["interval"]), "timeout": str(health["timeout"]),
                        "retries": int(health["retries"]),
                        "start_period": str(health["startPeriod"])},
        "stop_grace_period": _seconds(inputs["destroyGraceSeconds"]),
        "labels": {FILES_LABEL: _files_hash(files)},
    })
    return body, volumes, files


def compose_project(run: ProgramRun) -> ComposeProject:
    """Every container of `run` as one compose project, named after the stack's network
    (`gatewayz-<stack>`), so it shares its names' prefix with what `pulumi up` creates."""
    (network,) = run.of_type(NETWORK)
    network_name = str(network.plain_inputs()["name"])
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    files: list[HostFile] = []
    for service, container in sorted(run.containers().items()):
        body, declared, written = _service(run, service, container, network_name)
        services[service] = body
        volumes.update(declared)
        files += written
    document: dict[str, Any] = {
        "name": network_name,
        "services": services,
        "networks": {"default": {"name": network_name,
                                 "driver": str(network.plain_inputs().get("driver", "bridge"))}},
    }
    if volumes:
        document["volumes"] = dict(sorted(volumes.items()))
    return ComposeProject(network_name, document, tuple(files))


Chown = Callable[[Path, int, int], None]


def write(project: ComposeProject, directory: Path, chown: Chown = os.chown) -> Path:
    """compose.yaml and the files it mounts under `directory` (the files replaced, each with
    its upload's mode and owner); the compose file's path."""
    for one in project.files:
        path = directory / one.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        path.write_text(one.content)
        path.chmod(one.mode)
        chown(path, one.uid, one.gid)
    compose = directory / COMPOSE_FILE
    compose.write_text(project.text())
    return compose

"""What every service container of the stack gets, in one place.

A pinned image pulled once, restart `unless-stopped`, a healthcheck Pulumi waits on, a memory
limit without swap and a CPU limit, json-file log rotation, the least published ports, its data
on a named volume (protected and retained in production), and its files uploaded: secret files
0400, owned by the image's user. Hardened as the Docker CIS benchmark asks: every capability
dropped, no privilege escalation, a read-only root filesystem (tmpfs where the service writes
scratch files), the image's non-root user stated.

The provider uploads a container's files to its root (`CopyToContainer` at `/`), which Docker
refuses for a read-only root filesystem ("container rootfs is marked read-only"). So the files go
to a second container of the same image that is created and never started (`<name>-files`),
into its anonymous volumes, and the service mounts them read-only (`volumes_from <id>:ro`): its
config and secrets are read-only to it too, and a new upload is a new files container, whose id
replaces the service's container with it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_docker as docker

from services import (
    DOCKER_HOST_ALIAS,
    HOST_GATEWAY,
    SCRATCH_MB,
    SERVICES,
    Published,
    Service,
    container_name,
)
from settings import Binding, Settings, provider_cpus

# Seconds Pulumi waits for a container to report healthy before failing the update.
HEALTH_WAIT_SECONDS: Final = 180
HEALTH_INTERVAL: Final = "15s"
HEALTH_TIMEOUT: Final = "5s"
# Seconds a replaced or deleted container gets to shut down on SIGTERM. Without it the provider
# removes it by force (SIGKILL: kreuzwerker/terraform-provider-docker
# `resourceDockerContainerDelete`), and Alertmanager loses the silences and notification log it
# writes on shutdown, Prometheus the WAL records not yet flushed.
STOP_GRACE_SECONDS: Final = 30
# What every container gets, whatever its service (services.py holds what differs).
NO_NEW_PRIVILEGES: Final = "no-new-privileges:true"
# Scratch space only: nothing executes from it, and it cannot fill the host's memory.
TMPFS_OPTIONS: Final = f"rw,noexec,nosuid,nodev,size={SCRATCH_MB}m"


_DURATION_PART: Final = re.compile(r"(\d+)([hms])")
_UNIT_SECONDS: Final = {"h": 3600, "m": 60, "s": 1}


def go_duration(text: str) -> str:
    """`text` (whole seconds, e.g. `60s`, `1m30s`) as Go's `time.Duration.String()` writes it
    (`1m0s`, `1m30s`). The provider reads a healthcheck's durations back from the engine in that
    form, so any other spelling of the same time shows as a change at every preview."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a duration in whole h, m and s: {text!r}")
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


@dataclass(frozen=True)
class ContainerArgs:
    """What one service's container takes from the stack: its network, and its slice of the
    settings (Docker names, image, memory, its published ports, log rotation, data
    protection)."""

    environment: str
    # Every Docker name derives from it: `gatewayz-<stack>-<service>` (services.container_name).
    stack: str
    network_name: pulumi.Input[str]
    image: str
    memory_mb: int
    cpu_millis: int
    bindings: Mapping[Published, Binding | None]
    log_max_size: str
    log_max_file: int
    protect_data: bool

    @classmethod
    def of(cls, settings: Settings, service: Service,
           network_name: pulumi.Input[str]) -> ContainerArgs:
        return cls(
            environment=settings.environment, stack=settings.stack,
            network_name=network_name,
            image=settings.images[service], memory_mb=settings.memory_mb[service],
            cpu_millis=settings.cpu_millis[service],
            bindings={port: settings.bindings[port] for port in SERVICES[service].published},
            log_max_size=settings.log_max_size, log_max_file=settings.log_max_file,
            protect_data=settings.protect_data)


@dataclass(frozen=True)
class Upload:
    path: str
    content: pulumi.Input[str]
    secret: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """What a component adds to its service's row in `services.SERVICES`."""

    service: Service
    command: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    uploads: Sequence[Upload] = ()
    # Whether it talks to something on the Docker host itself (services.on_docker_host).
    reaches_docker_host: bool = False


@dataclass(frozen=True)
class ServiceResources:
    container: docker.Container
    # The named volume behind the service's data dir; None for a stateless service.
    data_volume: docker.Volume | None


def upload_dirs(paths: Sequence[str]) -> list[str]:
    """The directories that hold `paths`, each only once and none inside another."""
    dirs = sorted({posixpath.dirname(path) for path in paths})
    return [d for d in dirs if not any(d.startswith(other + "/") for other in dirs)]


def service_container(parent: pulumi.Resource, name: str, args: ContainerArgs,
                      spec: ContainerSpec) -> ServiceResources:
    """Create the image, volume and container of one service as children of `parent`."""
    facts = SERVICES[spec.service]
    prefix = container_name(args.stack, spec.service)
    image = docker.RemoteImage(
        f"{name}-image", name=args.image, keep_locally=True,
        opts=pulumi.ResourceOptions(parent=parent))

    volume: docker.Volume | None = None
    volumes: list[docker.ContainerVolumeArgs] = []
    if facts.data_dir is not None:
        volume = docker.Volume(
            f"{name}-data", name=f"{prefix}-data",
            opts=pulumi.ResourceOptions(parent=parent, protect=args.protect_data,
                                        retain_on_delete=args.protect_data))
        volumes.append(docker.ContainerVolumeArgs(volume_name=volume.name,
                                                  container_path=facts.data_dir))

    files = _files_container(parent, name, f"{prefix}-files", image, spec) if spec.uploads else None
    if files is not None:
        volumes.append(docker.ContainerVolumeArgs(
            from_container=pulumi.Output.concat(files.id, ":ro")))

    ports = [
        docker.ContainerPortArgs(internal=port.container_port, external=binding.port,
                                 ip=binding.host_ip)
        for port in facts.published if (binding := args.bindings[port]) is not None
    ]
    memory = args.memory_mb
    container = docker.Container(
        f"{name}-container",
        name=prefix,
        image=image.image_id,
        command=list(spec.command) or None,
        envs=[f"{key}={value}" for key, value in sorted(spec.env.items())] or None,
        volumes=volumes or None,
        ports=ports or None,
        hosts=[docker.ContainerHostArgs(host=DOCKER_HOST_ALIAS, ip=HOST_GATEWAY)]
        if spec.reaches_docker_host else None,
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(
            name=args.network_name, aliases=[facts.alias])],
        restart="unless-stopped",
        memory=memory,
        memory_swap=memory,
        cpus=provider_cpus(args.cpu_millis),
        user=facts.user,
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"],
                                                      adds=list(facts.capabilities) or None),
        security_opts=[NO_NEW_PRIVILEGES],
        read_only=True,
        tmpfs={path: TMPFS_OPTIONS for path in facts.scratch_dirs} or None,
        log_driver="json-file",
        log_opts={"max-size": args.log_max_size, "max-file": str(args.log_max_file)},
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=list(facts.healthcheck), interval=go_duration(HEALTH_INTERVAL),
            timeout=go_duration(HEALTH_TIMEOUT), retries=5,
            start_period=go_duration(facts.start_period)),
        wait=True,
        wait_timeout=HEALTH_WAIT_SECONDS,
        destroy_grace_seconds=STOP_GRACE_SECONDS,
        # The container name and host ports are fixed, so the old one must go first.
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )
    return ServiceResources(container, volume)


def _files_container(parent: pulumi.Resource, name: str, container_name: str,
                     image: docker.RemoteImage, spec: ContainerSpec) -> docker.Container:
    """A container of the service's image, created and never started, whose anonymous volumes
    (one per directory uploaded to) hold the service's files; removed with it (the provider's
    `remove_volumes`)."""
    facts = SERVICES[spec.service]
    uploads = [
        docker.ContainerUploadArgs(
            file=upload.path,
            content=pulumi.Output.secret(upload.content) if upload.secret else upload.content,
            owner=str(facts.user_id) if upload.secret else None,
            permissions="0400" if upload.secret else "0444")
        for upload in spec.uploads
    ]
    return docker.Container(
        f"{name}-files",
        name=container_name,
        image=image.image_id,
        uploads=uploads,
        volumes=[docker.ContainerVolumeArgs(container_path=path)
                 for path in upload_dirs([upload.path for upload in spec.uploads])],
        # Never started, so nothing of it runs: no network, no restart, no healthcheck.
        start=False,
        must_run=False,
        network_mode="none",
        # Its name is fixed, so the old one must go first; the service's container, which
        # mounts its volumes by its id, is replaced with it.
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )

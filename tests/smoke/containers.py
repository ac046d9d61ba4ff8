"""Creating, replacing and removing the smoke test's containers through the Docker API, the way
the Pulumi Docker provider does (kreuzwerker/terraform-provider-docker
`resource_docker_container_funcs.go`): create, upload the files, start; on delete stop with the
grace period, then remove by force. A service's files go, as the program registers them, into a
never-started files container (its anonymous volumes, uploaded to at `/` as the provider does),
which the service mounts read-only (`volumes_from <id>:ro`); its root filesystem is read-only.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from dataclasses import dataclass
from typing import Any, Final

import docker
from docker.errors import NotFound
from docker.models.containers import Container
from docker.types import LogConfig

from tests.smoke.localize import ContainerPlan

HEALTH_POLL_SECONDS: Final = 0.5


class UnhealthyError(AssertionError):
    """A container that did not turn healthy: the message has its health log and last logs."""


@dataclass(frozen=True)
class Health:
    status: str
    seconds: float


def _uploads(plan: ContainerPlan) -> bytes:
    """One tar of every upload, with the owner (uid and gid) and mode the program sets."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for upload in plan.uploads:
            data = upload.content.encode()
            info = tarfile.TarInfo(upload.path.lstrip("/"))
            info.size = len(data)
            info.mode = upload.mode
            info.uid = info.gid = upload.owner or 0
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _files_container(client: docker.DockerClient, plan: ContainerPlan) -> Container | None:
    """The files container, created and never started, holding the uploads in its volumes."""
    if plan.files_name is None:
        return None
    holder = client.containers.create(
        plan.image, name=plan.files_name, network_mode="none",
        volumes=[f"{path}" for path in plan.files_dirs])
    holder.put_archive("/", _uploads(plan))
    return holder


def create(client: docker.DockerClient, plan: ContainerPlan) -> Container:
    """Create the container (its volumes and files container too), and start it."""
    for volume in plan.volumes:
        try:
            client.volumes.get(volume)
        except NotFound:
            client.volumes.create(volume)
    holder = _files_container(client, plan)
    container = client.containers.create(
        plan.image,
        command=list(plan.command) or None,
        environment=[f"{key}={value}" for key, value in sorted(plan.env.items())],
        name=plan.name,
        healthcheck=dict(plan.healthcheck),
        mem_limit=plan.memory_mb * 1024 * 1024,
        memswap_limit=plan.memory_swap_mb * 1024 * 1024,
        log_config=LogConfig(type=plan.log_driver, config=dict(plan.log_opts)),
        # types-docker lists only always and on-failure; the engine takes unless-stopped too.
        restart_policy={"Name": plan.restart},  # type: ignore[arg-type]
        ports={f"{port}/tcp": binding for port, binding in plan.ports.items()},
        volumes={name: {"bind": path, "mode": "rw"} for name, path in plan.volumes.items()},
        volumes_from=[f"{holder.id}:ro"] if holder is not None else None,
        user=plan.user,
        cap_drop=list(plan.cap_drop),
        cap_add=list(plan.cap_add) or None,
        security_opt=list(plan.security_opt),
        read_only=plan.read_only,
        tmpfs=dict(plan.tmpfs) or None,
        nano_cpus=plan.nano_cpus,
        network=plan.network,
        networking_config={plan.network: client.api.create_endpoint_config(
            aliases=list(plan.aliases))},
    )
    container.start()
    return container


def remove(container: Container, plan: ContainerPlan) -> None:
    """Delete as the provider does with `destroy_grace_seconds`: stop, then remove by force,
    with the anonymous volumes (its `remove_volumes` defaults to true; named ones stay)."""
    container.stop(timeout=plan.stop_grace_seconds)
    container.remove(force=True, v=True)
    if plan.files_name is not None:
        # After the service: a volume still mounted by it would not be removed.
        with contextlib.suppress(NotFound):
            client_of(container).containers.get(plan.files_name).remove(force=True, v=True)


def client_of(container: Container) -> docker.DockerClient:
    client = container.client
    assert client is not None
    return client


def replace(client: docker.DockerClient, container: Container, plan: ContainerPlan) -> Container:
    """A replacement as `pulumi up` runs it (delete before replace): same name, ports, volumes."""
    remove(container, plan)
    return create(client, plan)


def logs_tail(container: Container, lines: int = 15) -> str:
    try:
        text: bytes = container.logs(tail=lines)
    except NotFound:
        return "(container gone)"
    return text.decode(errors="replace").strip()


def health_log(container: Container) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = container.attrs["State"].get("Health", {}).get("Log", [])
    return log


def wait_healthy(container: Container, timeout: float, since: float | None = None) -> Health:
    """Poll the container's own healthcheck state, as Pulumi's `wait` does, for `timeout`
    from `since` (a `time.monotonic()` reading: its creation), or from now."""
    started = time.monotonic() if since is None else since
    while True:
        container.reload()
        state = container.attrs["State"]
        status = state.get("Health", {}).get("Status", "none")
        if status == "healthy":
            return Health(status, time.monotonic() - started)
        if (not state["Running"] and not state["Restarting"]) or status == "unhealthy" \
                or time.monotonic() - started > timeout:
            probes = [f"{entry['ExitCode']}: {entry['Output'].strip()[:200]}"
                      for entry in health_log(container)[-3:]]
            raise UnhealthyError(
                f"{container.name} is {status} (running={state['Running']}, exit "
                f"{state['ExitCode']}) after {time.monotonic() - started:.0f}s; health log: "
                f"{probes or 'none'}; last log lines:\n{logs_tail(container)}")
        time.sleep(HEALTH_POLL_SECONDS)


def _exec(container: Container, script: str) -> tuple[int, str]:
    result = container.exec_run(["sh", "-c", script])
    assert isinstance(result.output, bytes)  # not a stream: exec_run without stream=True
    assert result.exit_code is not None  # an exec that ran to its end
    return result.exit_code, result.output.decode(errors="replace").strip()


def hardening_problems(container: Container, plan: ContainerPlan) -> list[str]:
    """What of the plan's hardening the running container lacks, by `docker inspect` and from
    inside (its process' own status, what it can write); empty when it has it all."""
    container.reload()
    host, config = container.attrs["HostConfig"], container.attrs["Config"]
    problems = [f"{what}: {seen!r}, planned {planned!r}" for what, seen, planned in (
        ("CapDrop", host["CapDrop"], list(plan.cap_drop)),
        ("CapAdd", host.get("CapAdd") or [], list(plan.cap_add)),
        ("SecurityOpt", host["SecurityOpt"], list(plan.security_opt)),
        ("ReadonlyRootfs", host["ReadonlyRootfs"], plan.read_only),
        ("Tmpfs", host.get("Tmpfs") or {}, dict(plan.tmpfs)),
        ("NanoCpus", host["NanoCpus"], plan.nano_cpus),
        ("Memory", host["Memory"], plan.memory_mb * 1024 * 1024),
        ("User", config["User"], plan.user),
    ) if seen != planned]
    if plan.files_name is not None:
        files = {m["Destination"]: m["RW"] for m in container.attrs["Mounts"]
                 if m["Destination"] in plan.files_dirs}
        if files != dict.fromkeys(plan.files_dirs, False):
            problems.append(f"files mounts {files}, planned read-only {list(plan.files_dirs)}")
    # The process itself: no capability in effect, no way to gain one.
    code, status = _exec(container, "grep -E '^(CapEff|NoNewPrivs):' /proc/1/status")
    fields = dict(line.split(":\t") for line in status.splitlines()) if code == 0 else {}
    if (fields.get("CapEff"), fields.get("NoNewPrivs")) != ("0000000000000000", "1"):
        problems.append(f"process 1: {status!r}")
    who = _exec(container, "id -u; id -g")[1].split()
    if who != plan.user.split(":"):
        problems.append(f"runs as {who}, planned {plan.user}")
    # It cannot write its root or its files; it can write its scratch dirs.
    for path in ("/", *plan.files_dirs):
        code, _ = _exec(container, f"touch {path}/.smoke-write 2>/dev/null")
        if code == 0:
            problems.append(f"{path} is writable")
    for path in plan.tmpfs:
        code, output = _exec(container, f"touch {path}/.smoke-write && rm {path}/.smoke-write")
        if code != 0:
            problems.append(f"scratch dir {path} is not writable: {output}")
    return problems

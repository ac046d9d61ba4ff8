"""The one mapping from a rendered stack to the containers the smoke test creates here.

`localize` returns, for Prometheus, Alertmanager and redis_exporter, exactly the container the
program registers (command, env, uploads with owner and mode in the files container it mounts
read-only, healthcheck, memory and swap, CPU limit, user, capabilities, security options,
read-only root and tmpfs, log options, restart policy, network alias, published ports, named
volumes), changed only where this machine differs from a Docker host. Each change is listed in
its docstring and tested.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

from configs.render import to_json, to_yaml
from review.render import Rendered
from services import Service

# Services that run here; Loki, Tempo and Grafana have no image that can be built here.
RUN: Final = (Service.PROMETHEUS, Service.ALERTMANAGER, Service.REDIS_EXPORTER)
NOT_RUN: Final = (Service.LOKI, Service.TEMPO, Service.GRAFANA)
# Names the run gives its containers, volumes and network, so it never meets a deployed stack
# on the same engine.
NAME_PREFIX: Final = "smoke-"
# How the program names a service's files container: `<container name>-files`
# (components/service.py).
FILES_SUFFIX: Final = "-files"
# What the run changes in a stack's settings before rendering it: production's exporter logs in
# as an ACL user (redis_exporter looks its password up under an address with the user in it).
SMOKE_OVERRIDES: Final[Mapping[str, Mapping[str, str]]] = {
    "production": {"redisUser": "smoke-exporter"}}
# What the run shortens, so it takes a minute instead of an hour.
SMOKE_INTERVAL: Final = "1s"
SMOKE_FOR: Final = "5s"
SMOKE_GROUP_WAIT: Final = "1s"
SMOKE_GROUP_INTERVAL: Final = "2s"
SMOKE_REPEAT_INTERVAL: Final = "2s"
# The alerts the run makes fire (configs/rules/backend.py, redis.py, pipeline.py).
ERROR_RATE_ALERT: Final = "BackendHighErrorRate"
REDIS_DOWN_ALERT: Final = "RedisDown"
NOTIFICATIONS_FAILING_ALERT: Final = "AlertmanagerNotificationsFailing"
SMOKE_ALERTS: Final = (ERROR_RATE_ALERT, REDIS_DOWN_ALERT, NOTIFICATIONS_FAILING_ALERT)
_GO_DURATION: Final = re.compile(r"(\d+)(ms|s|m|h)")
_NANOSECONDS: Final[Mapping[str, int]] = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9,
                                          "h": 3600 * 10**9}


@dataclass(frozen=True)
class Host:
    """What this machine provides: local images, free loopback ports, the test network's
    gateway (where the host's servers listen) and those servers' ports."""

    images: Mapping[Service, str]
    # (service, container port) -> free loopback port to publish it on.
    published: Mapping[tuple[Service, int], int]
    gateway: str
    backend_port: int
    redis_port: int
    catcher_port: int

    def url(self, port: int) -> str:
        return f"http://{self.gateway}:{port}"


@dataclass(frozen=True)
class Upload:
    path: str
    content: str
    owner: int | None
    mode: int


@dataclass(frozen=True)
class ContainerPlan:
    """One container as the Docker API takes it."""

    service: Service
    name: str
    image: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    uploads: tuple[Upload, ...]
    # The Docker SDK's Healthcheck arguments (durations in nanoseconds).
    healthcheck: Mapping[str, Any]
    memory_mb: int
    memory_swap_mb: int
    log_driver: str
    log_opts: Mapping[str, str]
    restart: str
    network: str
    aliases: tuple[str, ...]
    # container port -> (host ip, host port)
    ports: Mapping[int, tuple[str, int]]
    # volume name -> container path
    volumes: Mapping[str, str]
    wait_timeout_seconds: float
    stop_grace_seconds: int
    # Hardening, as the Docker API takes it.
    user: str
    cap_drop: tuple[str, ...]
    cap_add: tuple[str, ...]
    security_opt: tuple[str, ...]
    read_only: bool
    # path -> mount options
    tmpfs: Mapping[str, str]
    nano_cpus: int
    # The never-started container that holds the uploads (None: no uploads), and the
    # directories its anonymous volumes are at.
    files_name: str | None
    files_dirs: tuple[str, ...]

    def file(self, path: str) -> str:
        (content,) = [upload.content for upload in self.uploads if upload.path == path]
        return content

    def with_file(self, path: str, content: str) -> ContainerPlan:
        return dataclasses.replace(self, uploads=tuple(
            dataclasses.replace(u, content=content) if u.path == path else u
            for u in self.uploads))

    @property
    def config_path(self) -> str:
        """The file `--config.file` names (Prometheus and Alertmanager)."""
        return flag_value(self.command, "--config.file")

    def config(self) -> dict[str, Any]:
        """That file, parsed: a fresh document each call, free to change."""
        loaded: dict[str, Any] = yaml.safe_load(self.file(self.config_path))
        return loaded


def nanoseconds(duration: str) -> int:
    """A Go duration as the provider writes healthcheck ones (`15s`, `1m0s`) in nanoseconds."""
    parts = _GO_DURATION.findall(duration)
    if not parts or "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"not a simple Go duration: {duration!r}")
    return sum(int(number) * _NANOSECONDS[unit] for number, unit in parts)


def flag_value(command: tuple[str, ...] | list[str], name: str) -> str:
    (value,) = [arg.partition("=")[2] for arg in command if arg.partition("=")[0] == name]
    return value


def localize(rendered: Rendered, host: Host) -> dict[Service, ContainerPlan]:
    """The containers to create here; everything not listed below is as rendered.

    - Image: the local build of the same release (`make images`).
    - Names: container, volume and network names get NAME_PREFIX.
    - Published ports: the host port becomes a free one; the host IP stays as rendered.
    - Prometheus: global and per-job scrape interval and timeout and the evaluation interval
      become 1s, the `for` of SMOKE_ALERTS 5s; a job that scrapes outside the stack (the
      backend) scrapes the stand-in at the network gateway, over http.
    - Alertmanager: group_wait 1s, group_interval and repeat_interval 2s wherever set (so the
      Watchdog's heartbeat repeats within the run); each receiver's URL file holds the
      catcher's `/<receiver name>`.
    - redis_exporter: REDIS_ADDR, and the address in each password-map key, become the host's
      Redis at the gateway (redis://: it has no TLS).
    """
    plans = {service: _plan(rendered, service, host.images[service], host.published)
             for service in RUN if service.value in rendered.containers}
    plans[Service.PROMETHEUS] = _prometheus(plans[Service.PROMETHEUS], host)
    plans[Service.ALERTMANAGER] = _alertmanager(plans[Service.ALERTMANAGER], host)
    if Service.REDIS_EXPORTER in plans:
        plans[Service.REDIS_EXPORTER] = _redis_exporter(plans[Service.REDIS_EXPORTER], host)
    return plans


def standin_plans(rendered: Rendered, images: Mapping[Service, str],
                  published: Mapping[tuple[Service, int], int]) -> dict[Service, ContainerPlan]:
    """Loki, Tempo and Grafana as rendered, on their stand-in images (toolchain/images.py).

    Changed as `localize` changes every container (image, names, published ports), nothing else:
    a stand-in ignores what its config says, so there is nothing to shorten.
    """
    return {service: _plan(rendered, service, images[service], published)
            for service in NOT_RUN if service.value in rendered.containers}


def _plan(rendered: Rendered, service: Service, image: str,
          published: Mapping[tuple[Service, int], int]) -> ContainerPlan:
    spec = rendered.containers[service.value]
    files = rendered.files.get(service.value, {})
    health = spec["healthcheck"]
    (network,) = spec["networksAdvanced"]
    holder = spec.get("filesContainer")
    capabilities = spec.get("capabilities", {})
    return ContainerPlan(
        service=service,
        name=NAME_PREFIX + spec["name"],
        image=image,
        command=tuple(spec.get("command", ())),
        env=dict(spec.get("env", {})),
        uploads=tuple(Upload(u["file"], files[u["file"]],
                             int(u["owner"]) if u.get("owner") else None,
                             int(u["permissions"], 8))
                      for u in spec.get("uploads", [])),
        healthcheck={"test": list(health["tests"]),
                     "interval": nanoseconds(health["interval"]),
                     "timeout": nanoseconds(health["timeout"]),
                     "retries": int(health["retries"]),
                     "start_period": nanoseconds(health["startPeriod"])},
        memory_mb=int(spec["memory"]),
        memory_swap_mb=int(spec["memorySwap"]),
        log_driver=spec["logDriver"],
        log_opts=dict(spec["logOpts"]),
        restart=spec["restart"],
        network=NAME_PREFIX + network["name"],
        aliases=tuple(network["aliases"]),
        ports={int(port["internal"]): (port["ip"], published[(service, int(port["internal"]))])
               for port in spec.get("ports", [])},
        volumes={NAME_PREFIX + volume["volumeName"]: volume["containerPath"]
                 for volume in spec.get("volumes", []) if "volumeName" in volume},
        wait_timeout_seconds=float(spec["waitTimeout"]),
        stop_grace_seconds=int(spec["destroyGraceSeconds"]),
        user=spec["user"],
        cap_drop=tuple(capabilities.get("drops", ())),
        cap_add=tuple(capabilities.get("adds", ())),
        security_opt=tuple(spec.get("securityOpts", ())),
        read_only=bool(spec.get("readOnly", False)),
        tmpfs=dict(spec.get("tmpfs", {})),
        nano_cpus=round(float(spec["cpus"]) * 1_000_000_000),
        files_name=NAME_PREFIX + holder["name"] if holder else None,
        files_dirs=tuple(volume["containerPath"] for volume in holder["volumes"]) if holder
        else (),
    )


def _prometheus(plan: ContainerPlan, host: Host) -> ContainerPlan:
    config = plan.config()
    for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        if key in config.get("global", {}):
            config["global"][key] = SMOKE_INTERVAL
    # Targets inside the stack are network aliases (or Prometheus' own localhost).
    stack_addresses = (*(f"{service.value}:" for service in Service), "localhost:")
    for job in config["scrape_configs"]:
        for key in ("scrape_interval", "scrape_timeout"):
            if key in job:
                job[key] = SMOKE_INTERVAL
        targets = [target for static in job["static_configs"] for target in static["targets"]]
        if not any(target.startswith(stack_addresses) for target in targets):
            for static in job["static_configs"]:
                static["targets"] = [f"{host.gateway}:{host.backend_port}"]
            if job.get("scheme") == "https":
                job["scheme"] = "http"
    planned = plan.with_file(plan.config_path, to_yaml(config))
    for rule_file in config.get("rule_files", []):
        planned = planned.with_file(rule_file, to_yaml(shorten_alerts(
            yaml.safe_load(planned.file(rule_file)))))
    return planned


def shorten_alerts(document: Mapping[str, Any]) -> dict[str, Any]:
    shortened = copy.deepcopy(dict(document))
    for group in shortened.get("groups", []):
        for rule in group["rules"]:
            if rule.get("alert") in SMOKE_ALERTS:
                rule["for"] = SMOKE_FOR
    return shortened


def _alertmanager(plan: ContainerPlan, host: Host) -> ContainerPlan:
    config = plan.config()

    def shorten(route: dict[str, Any]) -> None:
        for key, value in (("group_wait", SMOKE_GROUP_WAIT),
                           ("group_interval", SMOKE_GROUP_INTERVAL),
                           ("repeat_interval", SMOKE_REPEAT_INTERVAL)):
            if key in route:
                route[key] = value
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    planned = plan.with_file(plan.config_path, to_yaml(config))
    for receiver, paths in receiver_url_files(planned).items():
        for path in paths:
            planned = planned.with_file(path, f"{host.url(host.catcher_port)}/{receiver}")
    return planned


URL_FILE_KEYS: Final = ("url_file", "api_url_file")


def receiver_url_files(plan: ContainerPlan) -> dict[str, list[str]]:
    """Each Alertmanager receiver's URL files, by receiver name."""
    config = plan.config()
    return {receiver["name"]: [entry[key] for entries in receiver.values()
                               if isinstance(entries, list) for entry in entries
                               for key in URL_FILE_KEYS if key in entry]
            for receiver in config.get("receivers", [])}


def _moved(address: str, to: str) -> str:
    """A Redis address (`scheme://[user@]host:port`) pointed at `to`, over plain redis://."""
    rest = address.partition("://")[2]
    user, at, _ = rest.rpartition("@")
    return f"redis://{user}{at}{to}"


def _redis_exporter(plan: ContainerPlan, host: Host) -> ContainerPlan:
    to = f"{host.gateway}:{host.redis_port}"
    env = {**plan.env, "REDIS_ADDR": _moved(plan.env["REDIS_ADDR"], to)}
    planned = dataclasses.replace(plan, env=env)
    if "REDIS_PASSWORD_FILE" in env:
        path = env["REDIS_PASSWORD_FILE"]
        # The exporter looks a password up by the address it scrapes: the keys move with it.
        passwords = {_moved(key, to): value
                     for key, value in json.loads(planned.file(path)).items()}
        planned = planned.with_file(path, to_json(passwords, compact=True))
    return planned

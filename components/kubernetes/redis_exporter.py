"""redis_exporter on Kubernetes: one stateless pod of a Deployment, the environment and password
file the Docker layer gives it (configs/redis_exporter.py), the password from a Secret mounted
read-only where REDIS_PASSWORD_FILE points, never in the environment; reached by Prometheus
alone, reaching the Redis alone."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.workload import (
    Allow,
    WorkloadArgs,
    container,
    expose,
    labels,
    metadata,
    network_policy,
    pod_template,
    secrets_mount,
    secrets_volume,
    service_port,
)
from configs.redis_exporter import PASSWORD_FILE, password_file, redis_exporter_env
from services import SERVICES, Service
from settings import Redis
from settings.pulumi_config import reveal

SERVICE: Final = Service.REDIS_EXPORTER
NAME: Final = str(SERVICE)
# Redis' own default port, where `redisAddress` names none (redis://host).
REDIS_PORT: Final = 6379
meta = kubernetes.meta.v1
core = kubernetes.core.v1
apps = kubernetes.apps.v1


@dataclass(frozen=True)
class RedisExporterArgs:
    workload: WorkloadArgs
    redis: Redis


def redis_port(redis: Redis) -> int:
    return urlsplit(redis.address).port or REDIS_PORT


class RedisExporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: RedisExporterArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:kubernetes:RedisExporter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workload, redis = args.workload, args.redis
        facts = SERVICES[SERVICE]
        secrets_dir, file_name = posixpath.split(PASSWORD_FILE)

        volumes: list[core.VolumeArgs] = []
        mounts: list[core.VolumeMountArgs] = []
        if redis.password is not None:
            files = {file_name: reveal(redis.password).apply(
                lambda password: password_file(redis, password))}
            volumes.append(secrets_volume(f"{NAME}-password", workload, SERVICE, files, child))
            mounts.append(secrets_mount(secrets_dir))

        pod = container(
            SERVICE, workload,
            env=[core.EnvVarArgs(name=key, value=value)
                 for key, value in sorted(redis_exporter_env(redis).items())],
            ports=[core.ContainerPortArgs(name="http", container_port=facts.http_port)],
            mounts=mounts)
        apps.Deployment(
            name, metadata=metadata(NAME, workload, SERVICE),
            spec=apps.DeploymentSpecArgs(
                # Stateless, and one is enough: a scrape missed while it restarts is one gap.
                replicas=1,
                selector=meta.LabelSelectorArgs(match_labels=labels(SERVICE)),
                template=pod_template(SERVICE, pod, volumes)),
            opts=child)
        # Scraped in the cluster only: the Docker alias, as on the stack network.
        expose(name, NAME, workload, SERVICE, selector=labels(SERVICE),
               ports=[service_port("http", facts.http_port)], opts=child)

        # In: Prometheus' scrapes. Out: the Redis, outside the cluster, on its port.
        network_policy(f"{NAME}-network", workload, SERVICE, opts=child,
                       ingress=[Allow((Service.PROMETHEUS,), ((facts.http_port, "TCP"),))],
                       egress=[Allow((), ((redis_port(redis), "TCP"),))])
        self.register_outputs({})

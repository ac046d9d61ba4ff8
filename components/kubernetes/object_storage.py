"""What Loki and Tempo share on Kubernetes for their object storage: the key pair as a Secret
file (0400, the service's user alone), the one projected volume that holds it beside the
config file, the variable that points the S3 client at it, and the way out to the endpoint."""

from __future__ import annotations

import posixpath
from typing import Final

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.workload import Allow, WorkloadArgs, metadata
from configs.object_storage import (
    CREDENTIALS_ENV,
    credentials_file,
    credentials_path,
    endpoint_port,
)
from services import Service, config_path
from settings import ObjectStorage
from settings.pulumi_config import reveal

# Read by the service's user alone (the group is the pod's fsGroup, the image's own).
SECRET_MODE: Final = 0o400
CONFIG_MODE: Final = 0o444
CONFIG_VOLUME: Final = "config"
core = kubernetes.core.v1


def config_dir(service: Service) -> str:
    """Where the projected volume is mounted: the config file's directory, which holds the
    secrets dir too (a read-only volume cannot take a mount point inside it)."""
    return posixpath.dirname(config_path(service))


def config_file(service: Service) -> str:
    """The config file's name: its key in the ConfigMap and its path in the volume."""
    return posixpath.basename(config_path(service))


def credentials_key(service: Service) -> str:
    return posixpath.basename(credentials_path(service))


def credentials_secret(name: str, workload: WorkloadArgs, service: Service,
                       storage: ObjectStorage, opts: pulumi.ResourceOptions) -> core.Secret:
    """The Secret holding the credentials file, built from the two secrets inside an apply:
    what an apply of secrets makes is a secret too."""
    text = pulumi.Output.all(reveal(storage.access_key_id), reveal(storage.secret_access_key)) \
        .apply(lambda keys: credentials_file(keys[0], keys[1]))
    return core.Secret(name, metadata=metadata(name, workload, service), type="Opaque",
                       string_data={credentials_key(service): text},
                       opts=opts)


def config_volume(service: Service, config_map: core.ConfigMap,
                  secret: core.Secret) -> core.VolumeArgs:
    """The config file (world-readable, no secret in it) and the credentials file (0400)."""
    name = config_file(service)
    secret_file = posixpath.relpath(credentials_path(service), config_dir(service))
    return core.VolumeArgs(name=CONFIG_VOLUME, projected=core.ProjectedVolumeSourceArgs(sources=[
        core.VolumeProjectionArgs(config_map=core.ConfigMapProjectionArgs(
            name=config_map.metadata.name,
            items=[core.KeyToPathArgs(key=name, path=name, mode=CONFIG_MODE)])),
        core.VolumeProjectionArgs(secret=core.SecretProjectionArgs(
            name=secret.metadata.name,
            items=[core.KeyToPathArgs(key=credentials_key(service), path=secret_file,
                                      mode=SECRET_MODE)])),
    ]))


def config_mount(service: Service) -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=CONFIG_VOLUME, mount_path=config_dir(service),
                                read_only=True)


def credentials_env(service: Service) -> core.EnvVarArgs:
    """A path, not a secret: where the S3 client reads the key pair."""
    return core.EnvVarArgs(name=CREDENTIALS_ENV, value=credentials_path(service))


def storage_egress(storage: ObjectStorage) -> Allow:
    """Out to the object storage: any address (outside the cluster, or a MinIO whose pods the
    stack does not label), on the endpoint's port alone."""
    return Allow((), ((endpoint_port(storage), "TCP"),))

"""What Loki and Tempo share on Kubernetes for their object storage: the key pair as a Secret
file (0400, the service's user alone) in the config volume beside the config file, the
variable that points the S3 client at it, and the way out to the endpoint."""

from __future__ import annotations

import posixpath

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.workload import Allow, WorkloadArgs, config_dir, secret_source
from configs.object_storage import (
    CREDENTIALS_ENV,
    credentials_file,
    credentials_path,
    endpoint_port,
)
from services import Service
from settings import ObjectStorage
from settings.pulumi_config import reveal

core = kubernetes.core.v1


def _credentials(service: Service) -> str:
    """The credentials file's path in the config volume."""
    return posixpath.relpath(credentials_path(service), config_dir(service))


def credentials_source(name: str, workload: WorkloadArgs, service: Service,
                       storage: ObjectStorage,
                       opts: pulumi.ResourceOptions) -> core.VolumeProjectionArgs:
    """The Secret holding the credentials file, as a source of the config volume beside the
    config file; built from the two secrets inside an apply: what an apply of secrets makes is
    a secret too."""
    text = pulumi.Output.all(reveal(storage.access_key_id), reveal(storage.secret_access_key)) \
        .apply(lambda keys: credentials_file(keys[0], keys[1]))
    return secret_source(name, workload, service, {_credentials(service): text}, opts)


def credentials_env(service: Service) -> core.EnvVarArgs:
    """A path, not a secret: where the S3 client reads the key pair."""
    return core.EnvVarArgs(name=CREDENTIALS_ENV, value=credentials_path(service))


def storage_egress(storage: ObjectStorage) -> Allow:
    """Out to the object storage: any address (outside the cluster, or a MinIO whose pods the
    stack does not label), on the endpoint's port alone."""
    return Allow((), ((endpoint_port(storage), "TCP"),))

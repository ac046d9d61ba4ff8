"""Loki 3.7: a single binary on the local filesystem (Docker), or simple-scalable on object
storage (Kubernetes: `-target=write|read|backend`, rings over memberlist). Both keep tsdb v13
and enforce retention the same way.

Retention needs both `limits_config.retention_period` and the compactor's `retention_enabled`
with a `delete_request_store` (Loki refuses to start otherwise). Every key is checked against
the v3.7.6 reference in references/.
"""

from collections.abc import Mapping
from typing import Final

from services import SERVICES, Listener, LokiTarget, Service, config_path, data_dir
from settings import Duration, ObjectStorage

CONFIG_PATH: Final = config_path(Service.LOKI)
DATA_DIR: Final = data_dir(Service.LOKI)
LISTENS: Final = SERVICES[Service.LOKI].listens
# First day of the only schema period. Fixed: moving it would orphan stored logs.
SCHEMA_FROM: Final = "2025-01-01"
# memberlist's gossip port, its default `bind_port` (grafana/loki v3.7.6
# vendor/github.com/grafana/dskit/kv/memberlist/tcp_transport.go, `memberlist.bind-port`),
# stated so the Services and the NetworkPolicy name the port the config binds.
MEMBERLIST_PORT: Final = 7946
# What Kubernetes calls each piece the config names (components/kubernetes/loki.py makes
# them): the headless Service every Loki pod joins the rings through, and each target's Service.
# The write path keeps the Docker alias, so `internal_url(Service.LOKI)` pushes on both
# platforms; Grafana queries the read path.
MEMBERLIST_SERVICE: Final = "loki-memberlist"
SERVICE_NAMES: Final[Mapping[LokiTarget, str]] = {
    LokiTarget.WRITE: str(Service.LOKI),
    LokiTarget.READ: "loki-read",
    LokiTarget.BACKEND: "loki-backend",
}
# At most three copies of each stream (the Helm chart's `replication_factor: 3`, grafana/loki
# v3.7.6 production/helm/loki/values.yaml), fewer where fewer write pods hold them.
MAX_REPLICATION: Final = 3


def workload_name(target: LokiTarget) -> str:
    """A target's StatefulSet or Deployment, and its pods' prefix."""
    return f"{Service.LOKI}-{target}"


def pods_service(target: LokiTarget) -> str:
    """The headless Service governing a target's StatefulSet (`<workload>-pods`)."""
    return f"{workload_name(target)}-pods"


def query_url(kubernetes: bool) -> str:
    """Where Grafana queries logs: the single binary, or the read path's Service."""
    name = SERVICE_NAMES[LokiTarget.READ] if kubernetes else str(Service.LOKI)
    return f"http://{name}:{LISTENS[Listener.HTTP]}"


def replication_factor(write_replicas: int) -> int:
    return min(MAX_REPLICATION, write_replicas)


def _config(logs_retention: Duration, *, common: dict[str, object], object_store: str,
            cluster: Mapping[str, object]) -> dict[str, object]:
    """What both platforms write: the same schema, limits and retention; `common` and `cluster`
    (blocks only Kubernetes has, after `common`) differ."""
    retention = str(logs_retention)
    return {
        "auth_enabled": False,
        "server": {"http_listen_port": LISTENS[Listener.HTTP],
                   "grpc_listen_port": LISTENS[Listener.GRPC],
                   "log_level": "info"},
        "common": common,
        **cluster,
        "schema_config": {"configs": [{
            "from": SCHEMA_FROM,
            "store": "tsdb",
            "object_store": object_store,
            "schema": "v13",
            "index": {"prefix": "index_", "period": "24h"},
        }]},
        "limits_config": {
            "retention_period": retention,
            # Older lines would be deleted by the next retention run anyway.
            "reject_old_samples": True,
            "reject_old_samples_max_age": retention,
            "ingestion_rate_mb": 10,
            "ingestion_burst_size_mb": 20,
            "max_global_streams_per_user": 10000,
        },
        # On Kubernetes only the backend target runs the compactor (one at a time, through its
        # ring): retention is applied once, from the same settings as on Docker.
        "compactor": {
            "working_directory": f"{DATA_DIR}/compactor",
            "compaction_interval": "10m",
            "retention_enabled": True,
            "retention_delete_delay": "2h",
            "retention_delete_worker_count": 150,
            "delete_request_store": object_store,
        },
        "analytics": {"reporting_enabled": False},
    }


def loki_config(logs_retention: Duration) -> dict[str, object]:
    """The single binary of the Docker platform, chunks and index on its volume."""
    return _config(logs_retention, object_store="filesystem", cluster={}, common={
        "instance_addr": "127.0.0.1",
        "path_prefix": DATA_DIR,
        "replication_factor": 1,
        "ring": {"kvstore": {"store": "inmemory"}},
        "storage": {"filesystem": {"chunks_directory": f"{DATA_DIR}/chunks",
                                   "rules_directory": f"{DATA_DIR}/rules"}},
    })


def loki_cluster_config(logs_retention: Duration, write_replicas: int,
                        storage: ObjectStorage) -> dict[str, object]:
    """Simple-scalable on Kubernetes: one file for the three targets, chunks and index in the
    bucket, the key pair from AWS_SHARED_CREDENTIALS_FILE (configs/object_storage.py), never
    here. Each pod advertises its own address (no `instance_addr`: the pod's interface)."""
    grpc = LISTENS[Listener.GRPC]
    backend = LokiTarget.BACKEND
    return _config(logs_retention, object_store="s3", common={
        "path_prefix": DATA_DIR,
        "replication_factor": replication_factor(write_replicas),
        "ring": {"kvstore": {"store": "memberlist"}},
        # The read path sends delete requests and asks for their state here; the Helm chart
        # points it at the backend Service (production/helm/loki/templates/_helpers.tpl,
        # `loki.compactorAddress`).
        "compactor_grpc_address": f"{SERVICE_NAMES[backend]}:{grpc}",
        "storage": {"s3": {
            "bucketnames": storage.buckets[Service.LOKI],
            "endpoint": storage.endpoint,
            "region": storage.region,
            # Path-style URLs (`endpoint/bucket/...`): what MinIO and most S3-compatible
            # stores need, and AWS still answers.
            "s3forcepathstyle": True,
            "insecure": storage.insecure,
        }},
    }, cluster={
        # Every pod joins the rings (ingesters, compactor, scheduler, index gateway) through
        # the headless Service that lists them all, ready or not.
        "memberlist": {"bind_port": MEMBERLIST_PORT,
                       "join_members": [f"{MEMBERLIST_SERVICE}:{MEMBERLIST_PORT}"]},
        # Queriers ask the backend's index gateways for the index instead of downloading it
        # (the Helm chart's `loki.indexGatewayAddress` for simple-scalable).
        "storage_config": {"tsdb_shipper": {"index_gateway_client": {
            "server_address": f"dns+{pods_service(backend)}:{grpc}"}}},
    })


def loki_command(target: LokiTarget | None = None) -> list[str]:
    """The single binary, or one simple-scalable target (grafana/loki v3.7.6 pkg/loki/modules.go:
    `read`, `write`, `backend`)."""
    command = [f"-config.file={CONFIG_PATH}"]
    return command if target is None else [*command, f"-target={target}"]

"""Tempo 3.0 as a single binary (monolithic, `-target=all`): OTLP in, metrics generator on;
traces on the local filesystem (Docker) or in object storage (Kubernetes).

The generator runs only for processors listed under `overrides.defaults.metrics_generator`;
what it makes is remote-written into this stack's Prometheus with exemplars (on Kubernetes into
each replica of it). Every key is checked against the v3.0.3 reference in references/.
"""

from collections.abc import Sequence
from typing import Final

from services import (
    SERVICES,
    Listener,
    Service,
    config_path,
    data_dir,
    internal_address,
    pod_address,
)
from settings import Duration, ObjectStorage

CONFIG_PATH: Final = config_path(Service.TEMPO)
DATA_DIR: Final = data_dir(Service.TEMPO)
LISTENS: Final = SERVICES[Service.TEMPO].listens
PROCESSORS: Final = ("service-graphs", "span-metrics")


def _remote_write(addresses: Sequence[str]) -> list[dict[str, object]]:
    return [{"url": f"http://{address}/api/v1/write", "send_exemplars": True}
            for address in addresses]


def tempo_config(environment: str, traces_retention: Duration) -> dict[str, object]:
    """The Docker platform's: traces on the data volume, span metrics into the one Prometheus."""
    return _config(environment, traces_retention, trace={
        "backend": "local",
        "local": {"path": f"{DATA_DIR}/traces"},
    }, prometheus=[internal_address(Service.PROMETHEUS)])


def tempo_cluster_config(environment: str, traces_retention: Duration, storage: ObjectStorage,
                         prometheus_replicas: int) -> dict[str, object]:
    """The Kubernetes platform's: blocks in the bucket (the key pair from
    AWS_SHARED_CREDENTIALS_FILE, configs/object_storage.py, never here), the WAL on the pod's
    claim; span metrics written to every Prometheus replica, which keep no copy of each other's
    series (an HA pair each scrapes and stores everything itself)."""
    return _config(environment, traces_retention, trace={
        "backend": "s3",
        "s3": {
            "bucket": storage.buckets[Service.TEMPO],
            "endpoint": storage.endpoint,
            "region": storage.region,
            # Path-style URLs: what MinIO and most S3-compatible stores need, and AWS still
            # answers.
            "forcepathstyle": True,
            "insecure": storage.insecure,
        },
    }, prometheus=[pod_address(Service.PROMETHEUS, ordinal)
                   for ordinal in range(prometheus_replicas)])


def _config(environment: str, traces_retention: Duration, *, trace: dict[str, object],
            prometheus: Sequence[str]) -> dict[str, object]:
    return {
        "stream_over_http_enabled": True,
        "server": {"http_listen_port": LISTENS[Listener.HTTP],
                   "grpc_listen_port": LISTENS[Listener.GRPC],
                   "log_level": "info"},
        "distributor": {"receivers": {"otlp": {"protocols": {
            # Since 2.7 receivers default to localhost, unreachable from outside the container.
            "grpc": {"endpoint": f"0.0.0.0:{LISTENS[Listener.OTLP_GRPC]}"},
            "http": {"endpoint": f"0.0.0.0:{LISTENS[Listener.OTLP_HTTP]}"},
        }}}},
        "storage": {"trace": {**trace, "wal": {"path": f"{DATA_DIR}/wal"}}},
        # No `processor.*.dimensions`. Tempo v3.0.3 looks a dimension up only among the span's
        # and its resource's attributes (grafana/tempo v3.0.3 modules/generator/processor/
        # servicegraphs/servicegraphs.go `upsertDimensions`; spanmetrics/spanmetrics.go,
        # `FindAttributeValue(d, rs.Attributes, span.Attributes)`). The seed's `name` (an
        # intrinsic), `cluster` (its external label), `namespace` and `service.namespace`
        # (attributes the backend does not set) would be labels that are always empty. What the
        # dashboards need are intrinsic labels already: client, server, connection_type on the
        # service graph; service, span_name, span_kind, status_code on span metrics
        # (spanmetrics/config.go `RegisterFlagsAndApplyDefaults`).
        "metrics_generator": {
            "registry": {"external_labels": {"source": "tempo", "env": environment}},
            "storage": {
                "path": f"{DATA_DIR}/generator/wal",
                "remote_write": _remote_write(prometheus),
            },
        },
        "overrides": {"defaults": {
            "metrics_generator": {"processors": list(PROCESSORS)},
            "compaction": {"block_retention": str(traces_retention)},
        }},
        "usage_report": {"reporting_enabled": False},
    }


def tempo_command() -> list[str]:
    return [f"-config.file={CONFIG_PATH}"]

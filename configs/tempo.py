"""Tempo 3.0 as a single binary: OTLP in, local trace storage, metrics generator on.

The generator runs only for processors listed under `overrides.defaults.metrics_generator`;
what it makes is remote-written into this stack's Prometheus with exemplars. Every key is
checked against the v3.0.3 reference in references/.
"""

from typing import Final

from services import SERVICES, Listener, Service, config_path, data_dir, internal_url
from settings import Duration

CONFIG_PATH: Final = config_path(Service.TEMPO)
DATA_DIR: Final = data_dir(Service.TEMPO)
LISTENS: Final = SERVICES[Service.TEMPO].listens
PROCESSORS: Final = ("service-graphs", "span-metrics")


def tempo_config(environment: str, traces_retention: Duration) -> dict[str, object]:
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
        "storage": {"trace": {
            "backend": "local",
            "local": {"path": f"{DATA_DIR}/traces"},
            "wal": {"path": f"{DATA_DIR}/wal"},
        }},
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
                "remote_write": [{"url": f"{internal_url(Service.PROMETHEUS)}/api/v1/write",
                                  "send_exemplars": True}],
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

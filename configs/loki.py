"""Loki 3.7 as a single binary: tsdb v13 on the local filesystem, retention enforced.

Retention needs both `limits_config.retention_period` and the compactor's `retention_enabled`
with a `delete_request_store` (Loki refuses to start otherwise). Every key is checked against
the v3.7.6 reference in references/.
"""

from typing import Final

from services import SERVICES, Listener, Service, config_path, data_dir
from settings import Duration

CONFIG_PATH: Final = config_path(Service.LOKI)
DATA_DIR: Final = data_dir(Service.LOKI)
LISTENS: Final = SERVICES[Service.LOKI].listens
# First day of the only schema period. Fixed: moving it would orphan stored logs.
SCHEMA_FROM: Final = "2025-01-01"


def loki_config(logs_retention: Duration) -> dict[str, object]:
    retention = str(logs_retention)
    return {
        "auth_enabled": False,
        "server": {"http_listen_port": LISTENS[Listener.HTTP],
                   "grpc_listen_port": LISTENS[Listener.GRPC],
                   "log_level": "info"},
        "common": {
            "instance_addr": "127.0.0.1",
            "path_prefix": DATA_DIR,
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
            "storage": {"filesystem": {"chunks_directory": f"{DATA_DIR}/chunks",
                                       "rules_directory": f"{DATA_DIR}/rules"}},
        },
        "schema_config": {"configs": [{
            "from": SCHEMA_FROM,
            "store": "tsdb",
            "object_store": "filesystem",
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
        "compactor": {
            "working_directory": f"{DATA_DIR}/compactor",
            "compaction_interval": "10m",
            "retention_enabled": True,
            "retention_delete_delay": "2h",
            "retention_delete_worker_count": 150,
            "delete_request_store": "filesystem",
        },
        "analytics": {"reporting_enabled": False},
    }


def loki_command() -> list[str]:
    return [f"-config.file={CONFIG_PATH}"]

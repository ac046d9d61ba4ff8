"""Prometheus rule files: recording rules, the backend, Redis, stack and alerting-pipeline alerts,
and the Watchdog, by file name.

`rule_files()` builds them from the settings; the Prometheus component writes each as YAML
(configs.render) under `RULES_DIR`.
"""

import posixpath
from typing import Final

from configs.rules import backend, pipeline, recording, redis, stack, watchdog
from services import Service, config_path
from settings import Settings

# Beside prometheus.yml.
RULES_DIR: Final = f"{posixpath.dirname(config_path(Service.PROMETHEUS))}/rules"


def rule_files(settings: Settings) -> dict[str, dict[str, object]]:
    """Rule documents (`{"groups": [...]}`) by file name, recording rules first.

    Redis alerts only where a Redis is watched: without an exporter, RedisExporterDown would
    fire for its missing target forever.
    """
    files = {"recording.yml": recording.document(), "backend.yml": backend.document(settings)}
    if settings.redis is not None:
        files["redis.yml"] = redis.document(settings)
    files["stack.yml"] = stack.document(settings)
    files["pipeline.yml"] = pipeline.document(settings)
    files["watchdog.yml"] = watchdog.document(settings)
    return files


__all__ = ["RULES_DIR", "rule_files"]

"""Prometheus rule files: recording rules and the backend, Redis and stack alerts, by file name.

`rule_files()` builds them from the settings, `render()` writes one as YAML; the Prometheus
component uploads each under `RULES_DIR`.
"""

from typing import Final

import yaml

from configs.rules import backend, recording, redis, stack
from settings import Settings

RULES_DIR: Final = "/etc/prometheus/rules"
# Keeps each PromQL expression on one line of the file, as it was written.
_NO_WRAP: Final = 1 << 16


def rule_files(settings: Settings) -> dict[str, dict[str, object]]:
    """Rule documents (`{"groups": [...]}`) by file name, recording rules first.

    Redis alerts only where a Redis is watched: without an exporter, RedisExporterDown would
    fire for its missing target forever.
    """
    files = {"recording.yml": recording.document(), "backend.yml": backend.document(settings)}
    if settings.redis is not None:
        files["redis.yml"] = redis.document(settings)
    files["stack.yml"] = stack.document(settings)
    return files


def render(doc: dict[str, object]) -> str:
    """YAML of one rule document; the same document always renders to the same text."""
    return yaml.safe_dump(doc, sort_keys=False, width=_NO_WRAP)


__all__ = ["RULES_DIR", "render", "rule_files"]

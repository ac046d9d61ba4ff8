"""Prometheus rules: recording rules, the backend, Redis, stack and alerting-pipeline alerts and
the Watchdog, one module per concern, each alert with its runbook written beside its rule
(helpers.py).

Which files a stack writes, and in what order, is configs/mixins.py's table (`MIXINS`), which
also builds them (`rule_files()`, each alert linked to its runbook by a `runbook_url`
annotation) and gives the runbooks to docs/alerts.md (`runbooks()`, review/alerts_doc.py); the
Prometheus component writes each as YAML (configs.render) under `RULES_DIR`.
"""

from __future__ import annotations

import posixpath
from typing import Final

from services import Service, config_path

# Beside prometheus.yml.
RULES_DIR: Final = f"{posixpath.dirname(config_path(Service.PROMETHEUS))}/rules"


__all__ = ["RULES_DIR"]

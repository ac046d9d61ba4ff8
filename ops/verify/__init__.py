"""`make verify`: check over HTTP that a deployed stack's services run as its settings say.

context (what a check is given and returns, the HTTP helpers), checks (one function per service),
synthetic (`--synthetic`: a span and a log line pushed and found), cli (`python -m ops.verify`).
"""

from ops.verify.checks import (
    check_alertmanager,
    check_grafana,
    check_loki,
    check_prometheus,
    check_redis_exporter,
    check_tempo,
)
from ops.verify.cli import main, resolve_urls, run_checks
from ops.verify.context import (
    ENDPOINTS,
    LOKI_RETENTION_RUN,
    OUTPUTS,
    REMOTE_SAMPLES_FAILED,
    REMOTE_SAMPLES_SENT,
    SPAN_METRIC,
    TEMPO_ACTIVE_PROCESSORS,
    TIMEOUT_SECONDS,
    URL_NAMES,
    Context,
    Result,
    Urls,
    duration_seconds,
    expected_for,
    open_context,
    published_urls,
)
from ops.verify.synthetic import check_synthetic

__all__ = [
    "ENDPOINTS", "LOKI_RETENTION_RUN", "OUTPUTS", "REMOTE_SAMPLES_FAILED", "REMOTE_SAMPLES_SENT",
    "SPAN_METRIC", "TEMPO_ACTIVE_PROCESSORS", "TIMEOUT_SECONDS", "URL_NAMES", "Context", "Result",
    "Urls", "check_alertmanager", "check_grafana", "check_loki", "check_prometheus",
    "check_redis_exporter", "check_synthetic", "check_tempo", "duration_seconds", "expected_for",
    "main", "open_context", "published_urls", "resolve_urls", "run_checks",
]

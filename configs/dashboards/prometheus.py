"""Prometheus itself: targets up and down per job, scrape durations, TSDB size and head series,
its HTTP API, the remote writes Tempo's metrics generator sends it, and rule evaluation failures.
"""

from typing import Final

from configs.dashboards.panels import Json, dashboard, row, stat, table, timeseries
from configs.dashboards.targets import promql, quantile, rate, series, stack_job
from services import Service
from settings import Settings

UID: Final = "gatewayz-prometheus"
TITLE: Final = "Prometheus"
JOB: Final = stack_job(Service.PROMETHEUS)
HTTP_REQUESTS: Final = "prometheus_http_requests_total"
# Tempo's metrics generator remote-writes span and service-graph metrics here.
REMOTE_WRITE: Final = 'handler="/api/v1/write"'


def build(settings: Settings) -> Json:
    up = series("up")
    return dashboard(
        settings, uid=UID, title=TITLE, tags=("prometheus", "stack"),
        items=(
            stat("Targets up", promql(f"count({up} == 1) or vector(0)")),
            stat("Targets down", promql(f"count({up} == 0) or vector(0)"),
                 thresholds=((None, "green"), (1, "red"))),
            stat("TSDB blocks size",
                 promql(f"sum({series('prometheus_tsdb_storage_blocks_bytes', JOB)})"),
                 unit="bytes",
                 description="Persisted blocks; retention also caps this size "
                             f"({settings.retention.metrics_size})."),
            stat("Head series", promql(f"sum({series('prometheus_tsdb_head_series', JOB)})")),
            table("Targets by job",
                  promql(f"min by (job) ({up})", instant=True, table=True),
                  promql(f"max by (job) ({series('scrape_duration_seconds')})", instant=True,
                         table=True),
                  columns=("Up (all instances)", "Slowest scrape (s)"), width=12),
            timeseries("Targets up by job", promql(f"sum by (job) ({up})", "{{job}}")),
            timeseries("Scrape duration by job",
                       promql(f"max by (job) ({series('scrape_duration_seconds')})", "{{job}}"),
                       unit="s"),
            timeseries("Head series",
                       promql(f"sum({series('prometheus_tsdb_head_series', JOB)})", "series")),
            row("HTTP API",
                timeseries("Requests by handler",
                           promql(f"sum by (handler) ({rate(HTTP_REQUESTS, JOB)})",
                                  "{{handler}}"),
                           unit="reqps"),
                timeseries("p95 latency by handler",
                           promql(quantile(0.95, "prometheus_http_request_duration_seconds", JOB,
                                           by="handler"), "{{handler}}"),
                           unit="s")),
            row("Ingest and rules",
                timeseries("Remote writes received from Tempo",
                           promql(f"sum by (code) "
                                  f"({rate(HTTP_REQUESTS, JOB, REMOTE_WRITE)})",
                                  "HTTP {{code}}"),
                           unit="reqps",
                           description="Span and service-graph metrics pushed by Tempo's metrics "
                                       "generator; anything but 2xx loses them."),
                timeseries("Rule evaluation failures",
                           promql(f"sum by (rule_group) "
                                  f"({rate('prometheus_rule_evaluation_failures_total', JOB)})",
                                  "{{rule_group}}"),
                           unit="ops",
                           description="Recording and alerting rules that failed to evaluate.")),
        ),
    )

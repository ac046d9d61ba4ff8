"""The FastAPI service overview: traffic, errors and latency, the process, its dependencies
(database, cache, rate limiting) and its log stream.
"""

from typing import Final

from configs.dashboards.panels import Json, dashboard, logs, row, stat, timeseries
from configs.dashboards.targets import BACKEND_JOB, logql, promql, quantile, rate, ratio, series
from configs.dashboards.variables import job_variable, loki_label_variable, textbox_variable
from configs.metric_names import REQUEST_DURATION, REQUESTS, SERVER_ERROR
from settings import Settings

UID: Final = "gatewayz-fastapi"
TITLE: Final = "GatewayZ FastAPI service"
# The backend's logs carry no `env` label and each stack's Loki holds one environment's logs, so
# log queries select by service only (the backend labels its log streams with `service_name`).
LOG_STREAM: Final = '{service_name=~"$service"} |~ "(?i)$search"'


def build(settings: Settings) -> Json:
    limits = settings.alerting.thresholds
    return dashboard(
        settings, uid=UID, title=TITLE, tags=("backend", "fastapi"),
        description="The GatewayZ backend at a glance; per-endpoint detail is on GatewayZ "
                    "backend metrics.",
        variables=(job_variable(settings),
                   loki_label_variable("service", "service_name", "Log service"),
                   textbox_variable("search", "Log search (regex)")),
        items=(
            stat("Requests / s", promql(f"sum({rate(REQUESTS, BACKEND_JOB)})"), unit="reqps"),
            stat("5xx share",
                 promql(ratio(rate(REQUESTS, BACKEND_JOB, SERVER_ERROR),
                              rate(REQUESTS, BACKEND_JOB))),
                 unit="percentunit",
                 description="Share of requests answered 5xx; red at the alerting threshold.",
                 thresholds=((None, "green"), (limits.error_ratio, "red"))),
            stat("p95 latency", promql(quantile(0.95, REQUEST_DURATION, BACKEND_JOB)), unit="s",
                 description="Red at the alerting threshold.",
                 thresholds=((None, "green"), (limits.latency_p95_seconds, "red"))),
            stat("Requests in progress",
                 promql(f"sum({series('fastapi_requests_in_progress', BACKEND_JOB)})")),
            timeseries("Requests by status code",
                       promql(f"sum by (status_code) ({rate(REQUESTS, BACKEND_JOB)})",
                              "{{status_code}}"),
                       unit="reqps", stacked=True),
            timeseries("Errors",
                       promql(f"sum({rate(REQUESTS, BACKEND_JOB, SERVER_ERROR)})", "5xx responses"),
                       promql(f"sum({rate('fastapi_exceptions_total', BACKEND_JOB)})",
                              "unhandled exceptions"),
                       unit="reqps"),
            timeseries("Latency percentiles",
                       *(promql(quantile(q, REQUEST_DURATION, BACKEND_JOB), f"p{round(q * 100)}")
                         for q in (0.5, 0.95, 0.99)),
                       unit="s"),
            timeseries("Average response time",
                       promql(ratio(rate(f"{REQUEST_DURATION}_sum", BACKEND_JOB),
                                    rate(f"{REQUEST_DURATION}_count", BACKEND_JOB)), "average"),
                       unit="s"),
            row("Process",
                timeseries("CPU", promql(f"sum({rate('process_cpu_seconds_total', BACKEND_JOB)})",
                                         "cores used"), unit="short"),
                timeseries("Resident memory",
                           promql(f"sum({series('process_resident_memory_bytes', BACKEND_JOB)})",
                                  "resident"),
                           unit="bytes")),
            row("Dependencies",
                timeseries("Database queries by operation",
                           promql(f"sum by (operation) "
                                  f"({rate('database_queries_total', BACKEND_JOB)})",
                                  "{{operation}}"),
                           unit="ops", width=8),
                timeseries("Database p95 by operation",
                           promql(quantile(0.95, "database_query_duration_seconds", BACKEND_JOB,
                                           by="operation"), "{{operation}}"),
                           unit="s", width=8),
                timeseries("Cache hit ratio",
                           promql(ratio(rate("cache_hits_total", BACKEND_JOB),
                                        f"{rate('cache_hits_total', BACKEND_JOB)} + "
                                        f"{rate('cache_misses_total', BACKEND_JOB)}"), "hits"),
                           unit="percentunit", width=8),
                timeseries("Rate-limited requests",
                           promql(f"sum({rate('rate_limited_requests_total', BACKEND_JOB)})",
                                  "rate limited"),
                           unit="reqps", width=8),
                timeseries("Active connections",
                           promql(f"sum({series('active_connections', BACKEND_JOB)})",
                                  "connections"),
                           width=8),
                timeseries("Cache size",
                           promql(f"sum({series('cache_size_bytes', BACKEND_JOB)})", "cache"),
                           unit="bytes", width=8)),
            row("Logs",
                logs("Log stream", logql(LOG_STREAM),
                     description="Backend logs of the chosen services; trace ids link to Tempo.")),
        ),
    )

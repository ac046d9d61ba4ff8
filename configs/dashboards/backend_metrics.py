"""GatewayZ backend metrics per endpoint: request rate, latency percentiles, errors by path and
method, status codes and payload sizes, from the `fastapi_*` metrics the backend exports.
"""

from typing import Final

from configs.dashboards.panels import Json, dashboard, piechart, row, stat, table, timeseries
from configs.dashboards.targets import BACKEND_JOB, increase, promql, quantile, rate, ratio
from configs.dashboards.variables import job_variable
from configs.metric_names import CLIENT_ERROR, REQUEST_DURATION, REQUESTS, SERVER_ERROR
from settings import Settings

UID: Final = "gatewayz-backend-metrics"
TITLE: Final = "GatewayZ backend metrics"


def build(settings: Settings) -> Json:
    limits = settings.alerting.thresholds
    return dashboard(
        settings, uid=UID, title=TITLE, tags=("backend", "api"),
        variables=(job_variable(settings),),
        items=(
            stat("Requests in range",
                 promql(f"sum({increase(REQUESTS, BACKEND_JOB)})", instant=True)),
            stat("5xx in range",
                 promql(f"sum({increase(REQUESTS, BACKEND_JOB, SERVER_ERROR)})", instant=True),
                 thresholds=((None, "green"), (1, "red"))),
            stat("5xx share",
                 promql(ratio(rate(REQUESTS, BACKEND_JOB, SERVER_ERROR),
                              rate(REQUESTS, BACKEND_JOB))),
                 unit="percentunit",
                 thresholds=((None, "green"), (limits.error_ratio, "red"))),
            stat("p99 latency", promql(quantile(0.99, REQUEST_DURATION, BACKEND_JOB)), unit="s",
                 thresholds=((None, "green"), (limits.latency_p95_seconds, "red"))),
            timeseries("Request rate by path",
                       promql(f"sum by (path) ({rate(REQUESTS, BACKEND_JOB)})", "{{path}}"),
                       unit="reqps"),
            timeseries("Latency percentiles",
                       *(promql(quantile(q, REQUEST_DURATION, BACKEND_JOB), f"p{round(q * 100)}")
                         for q in (0.5, 0.95, 0.99)),
                       unit="s"),
            timeseries("p95 latency by path",
                       promql(quantile(0.95, REQUEST_DURATION, BACKEND_JOB, by="path"), "{{path}}"),
                       unit="s"),
            timeseries("5xx share by path",
                       promql(ratio(rate(REQUESTS, BACKEND_JOB, SERVER_ERROR),
                                    rate(REQUESTS, BACKEND_JOB), by="path"), "{{path}}"),
                       unit="percentunit"),
            timeseries("4xx by path",
                       promql(f"sum by (path) ({rate(REQUESTS, BACKEND_JOB, CLIENT_ERROR)})",
                              "{{path}}"),
                       unit="reqps",
                       description="Client errors: bad requests, auth failures, rate limits."),
            timeseries("Requests by method",
                       promql(f"sum by (method) ({rate(REQUESTS, BACKEND_JOB)})", "{{method}}"),
                       unit="reqps"),
            piechart("Status codes in range",
                     promql(f"sum by (status_code) ({increase(REQUESTS, BACKEND_JOB)})",
                            "{{status_code}}", instant=True)),
            timeseries("Status codes",
                       promql(f"sum by (status_code) ({rate(REQUESTS, BACKEND_JOB)})",
                              "{{status_code}}"),
                       unit="reqps", stacked=True, width=16),
            table("Endpoints over the time range",
                  promql(f"sum by (method, path) ({increase(REQUESTS, BACKEND_JOB)})",
                         instant=True, table=True),
                  promql(f"sum by (method, path) "
                         f"({increase(REQUESTS, BACKEND_JOB, SERVER_ERROR)})",
                         instant=True, table=True),
                  promql(ratio(increase(f"{REQUEST_DURATION}_sum", BACKEND_JOB),
                               increase(f"{REQUEST_DURATION}_count", BACKEND_JOB),
                               by="method, path"),
                         instant=True, table=True),
                  columns=("Requests", "5xx", "Mean latency (s)")),
            row("Payloads",
                timeseries("Request size percentiles",
                           *(promql(quantile(q, "fastapi_request_size_bytes", BACKEND_JOB),
                                    f"p{round(q * 100)}") for q in (0.5, 0.95)),
                           unit="bytes"),
                timeseries("Response size percentiles",
                           *(promql(quantile(q, "fastapi_response_size_bytes", BACKEND_JOB),
                                    f"p{round(q * 100)}") for q in (0.5, 0.95)),
                           unit="bytes"),
                collapsed=True),
        ),
    )

"""Logs in Loki: volume by service and level, error and warning rates, a searchable log stream,
and Loki's own health (lines received, request latency, retention runs).

LogQL queries select by service only: the backend's logs carry no `env` label and each stack's
Loki holds one environment's logs. The `env` variable drives the Loki-health panels.
"""

from typing import Final

from configs.dashboards.panels import Json, dashboard, logs, row, stat, timeseries
from configs.dashboards.targets import increase, logql, promql, quantile, rate, series, stack_job
from configs.dashboards.variables import loki_label_variable, textbox_variable
from services import Service
from settings import Settings

UID: Final = "gatewayz-loki"
TITLE: Final = "Loki logs"
JOB: Final = stack_job(Service.LOKI)
SERVICES: Final = 'service_name=~"$service"'
ERRORS: Final = 'level=~"(?i)(error|critical|fatal)"'
WARNINGS: Final = 'level=~"(?i)(warn|warning)"'
# `$__auto` is the Loki datasource's range that follows the panel's resolution.
WINDOW: Final = "[$__auto]"
RETENTION_RUNS: Final = "loki_compactor_apply_retention_operation_total"
LAST_RETENTION: Final = "loki_compactor_apply_retention_last_successful_run_timestamp_seconds"


def _volume(by: str, *matchers: str) -> str:
    return f"sum by ({by}) (count_over_time({{{', '.join((SERVICES, *matchers))}}}{WINDOW}))"


def build(settings: Settings) -> Json:
    return dashboard(
        settings, uid=UID, title=TITLE, tags=("loki", "logs", "stack"),
        variables=(loki_label_variable("service", "service_name", "Service"),
                   textbox_variable("search", "Search (regex)")),
        items=(
            timeseries("Log volume by service",
                       logql(_volume("service_name"), "{{service_name}}"), stacked=True),
            timeseries("Log volume by level", logql(_volume("level"), "{{level}}"),
                       stacked=True),
            timeseries("Error lines by service",
                       logql(_volume("service_name", ERRORS), "{{service_name}}"),
                       description="Lines at level error, critical or fatal."),
            timeseries("Warning lines by service",
                       logql(_volume("service_name", WARNINGS), "{{service_name}}")),
            logs("Log stream", logql('{' + SERVICES + '} |~ "(?i)$search"'),
                 description="Newest first; `search` is a case-insensitive regex on the line."),
            row("Loki health",
                stat("Loki up", promql(f"min({series('up', JOB)})"),
                     thresholds=((None, "red"), (1, "green"))),
                stat("Since last retention run",
                     promql(f"time() - max({series(LAST_RETENTION, JOB)})"),
                     unit="s",
                     description="Age of the compactor's last successful retention pass; logs "
                                 f"older than {settings.retention.logs} are deleted by it."),
                stat("Lines received / s",
                     promql(f"sum({rate('loki_distributor_lines_received_total', JOB)})")),
                stat("Streams created / s",
                     promql(f"sum({rate('loki_ingester_streams_created_total', JOB)})")),
                timeseries("Lines received by tenant",
                           promql(f"sum by (tenant) "
                                  f"({rate('loki_distributor_lines_received_total', JOB)})",
                                  "{{tenant}}"),
                           unit="short"),
                timeseries("Request p95 by route",
                           promql(quantile(0.95, "loki_request_duration_seconds", JOB,
                                           by="route"), "{{route}}"),
                           unit="s"),
                timeseries("Retention runs by status",
                           promql("sum by (status) ("
                                  f"{increase(RETENTION_RUNS, JOB, window='1h')})",
                                  "{{status}}"),
                           unit="short", width=24,
                           description="Retention passes per hour; the compactor applies "
                                       "retention every few minutes."),
                collapsed=True),
        ),
    )

"""Traces in Tempo: trace search, request rate, errors and latency from span metrics, the service
graph, spans received and discarded, and the metrics generator's health.
"""

from typing import Final

from configs.dashboards.panels import (
    Json,
    dashboard,
    node_graph,
    row,
    stat,
    timeseries,
    trace_search,
)
from configs.dashboards.targets import promql, quantile, rate, ratio, series, stack_job
from configs.dashboards.variables import prometheus_label_variable
from services import Service
from settings import Settings

UID: Final = "gatewayz-tempo"
TITLE: Final = "Tempo tracing"
JOB: Final = stack_job(Service.TEMPO)
CALLS: Final = "traces_spanmetrics_calls_total"
# Server spans are the requests a service answers; client spans would count calls twice.
SERVER_SPANS: Final = ('service=~"$service"', 'span_kind="SPAN_KIND_SERVER"')
ERROR_STATUS: Final = 'status_code="STATUS_CODE_ERROR"'
# Tempo 3.0 counts every discarded span here, by reason (tempo@v3.0.3
# modules/overrides/discarded_spans.go); `tempo_distributor_spans_dropped_total` is gone.
DISCARDED: Final = "tempo_discarded_spans_total"


def build(settings: Settings) -> Json:
    return dashboard(
        settings, uid=UID, title=TITLE, tags=("tempo", "traces", "stack"),
        variables=(prometheus_label_variable("service", "service", series(CALLS), "Service"),),
        items=(
            trace_search("Recent traces", '{ resource.service.name =~ "$service" }', width=12,
                         description="Click a trace id to open it."),
            trace_search("Failed traces",
                         '{ resource.service.name =~ "$service" && status = error }', width=12),
            timeseries("Requests by service",
                       promql(f"sum by (service) ({rate(CALLS, *SERVER_SPANS)})", "{{service}}"),
                       unit="reqps", width=8),
            timeseries("Error share by service",
                       promql(ratio(rate(CALLS, *SERVER_SPANS, ERROR_STATUS),
                                    rate(CALLS, *SERVER_SPANS), by="service"), "{{service}}"),
                       unit="percentunit", width=8),
            timeseries("p95 latency by service",
                       promql(quantile(0.95, "traces_spanmetrics_latency", *SERVER_SPANS,
                                       by="service"), "{{service}}", exemplar=True),
                       unit="s", width=8,
                       description="Exemplar dots open the trace behind them."),
            node_graph("Service graph",
                       description="From the service-graph metrics Tempo's metrics generator "
                                   "writes to Prometheus."),
            row("Ingest",
                stat("Tempo up", promql(f"min({series('up', JOB)})"),
                     thresholds=((None, "red"), (1, "green"))),
                stat("Spans received / s",
                     promql(f"sum({rate('tempo_distributor_spans_received_total', JOB)})")),
                stat("Spans discarded / s", promql(f"sum({rate(DISCARDED, JOB)})"),
                     thresholds=((None, "green"), (0.001, "red"))),
                stat("Generator active series",
                     promql("sum("
                            f"{series('tempo_metrics_generator_registry_active_series', JOB)})")),
                timeseries("Spans received",
                           promql(f"sum({rate('tempo_distributor_spans_received_total', JOB)})",
                                  "received"),
                           unit="short"),
                timeseries("Spans discarded by reason",
                           promql(f"sum by (reason) ({rate(DISCARDED, JOB)})", "{{reason}}"),
                           unit="short",
                           description="Rate limits, oversized traces or live-trace limits."),
                ),
            row("Metrics generator",
                timeseries("Spans into the generator",
                           promql("sum("
                                  f"{rate('tempo_metrics_generator_spans_received_total', JOB)})",
                                  "received"),
                           promql(f"sum by (reason) ("
                                  f"{rate('tempo_metrics_generator_spans_discarded_total', JOB)})",
                                  "discarded: {{reason}}"),
                           unit="short",
                           description="Spans the span-metrics and service-graph processors "
                                       "took in, and those they skipped."),
                timeseries("Active processors",
                           promql("sum by (processor) "
                                  f"({series('tempo_metrics_generator_active_processors', JOB)})",
                                  "{{processor}}"),
                           description="Should list span-metrics and service-graphs; empty "
                                       "means no span metrics reach Prometheus."),
                collapsed=True),
        ),
    )

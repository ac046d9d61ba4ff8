"""GatewayZ application health: system health from what the backend exports today, then
provider health, circuit breakers, model uptime, costs and anomalies on the metrics asked of
the backend team; those panels say so and stay empty until the backend exports them.
"""

from typing import Final

from configs.dashboards.panels import (
    UP,
    UP_MAPPINGS,
    Json,
    Panel,
    dashboard,
    gauge,
    piechart,
    row,
    stat,
    table,
    text,
    timeseries,
)
from configs.dashboards.targets import (
    BACKEND_JOB,
    RATE_WINDOW,
    increase,
    promql,
    quantile,
    rate,
    ratio,
    series,
    stack_job,
)
from configs.dashboards.variables import job_variable
from configs.metric_names import INFERENCE_SUCCESS, INFERENCES, REQUESTS, SERVER_ERROR
from services import Service
from settings import Settings

UID: Final = "gatewayz-application-health"
TITLE: Final = "GatewayZ application health"
HEALTHY: Final = ((None, "red"), (0.9, "orange"), (0.99, "green"))
INTRO: Final = (
    "The first row uses metrics the backend exports today. The rows below it are built on "
    "metrics asked of the backend team (provider health, circuit breakers, model uptime, cost, "
    "anomalies): each such panel names its metric in its description and stays empty until the "
    "backend exports it.")


def redis_panels(settings: Settings) -> tuple[Panel, ...]:
    """Whether the backend's Redis is up, where the stack watches one (`Settings.services`):
    without an exporter the panel could only say "No data"."""
    if Service.REDIS_EXPORTER not in settings.services:
        return ()
    return (stat("Redis", promql(f"min({series('redis_up', stack_job(Service.REDIS_EXPORTER))})"),
                 thresholds=UP, mappings=UP_MAPPINGS, width=4),)


def build(settings: Settings) -> Json:
    limits = settings.alerting.thresholds
    anomalies = increase("gatewayz_detected_anomalies", BACKEND_JOB, window=RATE_WINDOW)
    server_errors = ratio(rate(REQUESTS, BACKEND_JOB, SERVER_ERROR), rate(REQUESTS, BACKEND_JOB))
    return dashboard(
        settings, uid=UID, title=TITLE, tags=("backend", "health", "providers", "models"),
        variables=(job_variable(settings),),
        items=(
            text("About this dashboard", INTRO, height=2),
            row("System health",
                stat("Backend scrape", promql(f"min({series('up', BACKEND_JOB)})"),
                     thresholds=UP, mappings=UP_MAPPINGS, width=4),
                *redis_panels(settings),
                stat("Request success",
                     promql(f"1 - ({server_errors})"),
                     unit="percentunit", width=4,
                     thresholds=((None, "red"), (1 - limits.error_ratio, "green"))),
                stat("Inference success",
                     promql(ratio(rate(INFERENCES, BACKEND_JOB, INFERENCE_SUCCESS),
                                  rate(INFERENCES, BACKEND_JOB))),
                     unit="percentunit", width=4,
                     thresholds=((None, "red"), (1 - limits.inference_error_ratio, "green"))),
                stat("p95 latency",
                     promql(quantile(0.95, "fastapi_requests_duration_seconds", BACKEND_JOB)),
                     unit="s", width=4,
                     thresholds=((None, "green"), (limits.latency_p95_seconds, "red"))),
                stat("Stack targets down", promql(f"count({series('up')} == 0) or vector(0)"),
                     thresholds=((None, "green"), (1, "red")), width=4)),
            row("Providers",
                gauge("Overall provider health",
                      promql(f"avg({series('gatewayz_provider_health_score', BACKEND_JOB)})"),
                      thresholds=HEALTHY, height=8),
                timeseries("Health score by provider",
                           promql(f"min by (provider) "
                                  f"({series('gatewayz_provider_health_score', BACKEND_JOB)})",
                                  "{{provider}}"),
                           unit="percentunit", width=18),
                timeseries("Availability by provider",
                           promql(f"min by (provider) "
                                  f"({series('provider_availability', BACKEND_JOB)})",
                                  "{{provider}}"),
                           width=8),
                timeseries("Error rate by provider",
                           promql(f"max by (provider) "
                                  f"({series('provider_error_rate', BACKEND_JOB)})",
                                  "{{provider}}"),
                           unit="percentunit", width=8),
                timeseries("Response time p95 by provider",
                           promql(quantile(0.95, "provider_response_time_seconds", BACKEND_JOB,
                                           by="provider"), "{{provider}}"),
                           unit="s", width=8)),
            row("Circuit breakers",
                piechart("Breakers by state",
                         promql(f"count by (state) "
                                f"({series('gatewayz_circuit_breaker_state', BACKEND_JOB)} == 1)",
                                "{{state}}", instant=True)),
                table("Breaker state by provider",
                      promql(f"max by (provider, state) "
                             f"({series('gatewayz_circuit_breaker_state', BACKEND_JOB)} == 1)",
                             instant=True, table=True),
                      columns=("In this state",), width=16)),
            row("Models",
                table("Model uptime (24h)",
                      promql(f"min by (model) "
                             f"({series('gatewayz_model_uptime_24h', BACKEND_JOB)})",
                             instant=True, table=True),
                      columns=("Uptime",), unit="percentunit", width=8),
                timeseries("Inference success by model",
                           promql(ratio(rate(INFERENCES, BACKEND_JOB, INFERENCE_SUCCESS),
                                        rate(INFERENCES, BACKEND_JOB), by="model"), "{{model}}"),
                           unit="percentunit", width=8,
                           description="From the exported inference counter, until the uptime "
                                       "gauge exists."),
                timeseries("Token efficiency by model",
                           promql(f"avg by (model) "
                                  f"({series('gatewayz_token_efficiency', BACKEND_JOB)})",
                                  "{{model}}"),
                           width=8, description="Tokens per credit.")),
            row("Costs",
                timeseries("Spend by provider",
                           promql(f"sum by (provider) "
                                  f"({rate('gatewayz_cost_by_provider', BACKEND_JOB)})",
                                  "{{provider}}"),
                           stacked=True, description="Spend per second."),
                piechart("Credits by provider in range",
                         promql(f"sum by (provider) "
                                f"({increase('credits_used_total', BACKEND_JOB)})",
                                "{{provider}}", instant=True),
                         width=12, description="From the exported credits counter."),
                collapsed=True),
            row("Anomalies",
                timeseries("Detected anomalies by type",
                           promql(f"sum by (type) ({anomalies})", "{{type}}"),
                           stacked=True, width=24,
                           description="Latency spikes, error surges and unusual patterns the "
                                       "backend detects."),
                collapsed=True),
        ),
    )

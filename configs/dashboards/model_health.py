"""Model health: inference traffic, success and latency per model and provider, streaming
latency, and what the models consume (tokens, credits).
"""

from typing import Final

from configs.dashboards.panels import Json, dashboard, piechart, row, stat, table, timeseries
from configs.dashboards.targets import BACKEND_JOB, increase, promql, quantile, rate, ratio, series
from configs.dashboards.variables import job_variable
from configs.metric_names import (
    INFERENCE_DURATION,
    INFERENCE_FAILED,
    INFERENCE_SUCCESS,
    INFERENCES,
)
from settings import Settings

UID: Final = "gatewayz-model-health"
TITLE: Final = "GatewayZ model health"
BY_MODEL: Final = "model, provider"
MODEL_LEGEND: Final = "{{model}} ({{provider}})"


def build(settings: Settings) -> Json:
    limits = settings.alerting.thresholds
    return dashboard(
        settings, uid=UID, title=TITLE, tags=("backend", "models"),
        variables=(job_variable(settings),),
        items=(
            stat("Inferences / s", promql(f"sum({rate(INFERENCES, BACKEND_JOB)})"),
                 unit="reqps"),
            stat("Inference success",
                 promql(ratio(rate(INFERENCES, BACKEND_JOB, INFERENCE_SUCCESS),
                              rate(INFERENCES, BACKEND_JOB))),
                 unit="percentunit",
                 description="Red below the alerting threshold of failed inferences.",
                 thresholds=((None, "red"), (1 - limits.inference_error_ratio, "green"))),
            stat("Active models",
                 promql(f"count(count by (model) ({series(INFERENCES, BACKEND_JOB)}))"),
                 description="Models that served at least one request since the backend "
                             "started."),
            stat("Tokens / s", promql(f"sum({rate('tokens_used_total', BACKEND_JOB)})")),
            timeseries("Inferences by model",
                       promql(f"sum by ({BY_MODEL}) ({rate(INFERENCES, BACKEND_JOB)})",
                              MODEL_LEGEND),
                       unit="reqps"),
            timeseries("Inference p95 by model",
                       promql(quantile(0.95, INFERENCE_DURATION, BACKEND_JOB, by=BY_MODEL),
                              MODEL_LEGEND),
                       unit="s"),
            timeseries("Failed inferences by model",
                       promql(f"sum by ({BY_MODEL}) "
                              f"({rate(INFERENCES, BACKEND_JOB, INFERENCE_FAILED)})",
                              MODEL_LEGEND),
                       unit="reqps"),
            timeseries("Time to first chunk p95 by model",
                       promql(quantile(0.95, "time_to_first_chunk_seconds", BACKEND_JOB,
                                       by=BY_MODEL), MODEL_LEGEND),
                       unit="s"),
            row("Usage",
                timeseries("Token usage by model and provider",
                           promql(f"sum by ({BY_MODEL}) "
                                  f"({rate('tokens_used_total', BACKEND_JOB)})", MODEL_LEGEND),
                           unit="short", stacked=True,
                           description="Tokens per second, as counted by the backend."),
                timeseries("Credits by model and provider",
                           promql(f"sum by ({BY_MODEL}) "
                                  f"({rate('credits_used_total', BACKEND_JOB)})", MODEL_LEGEND),
                           unit="short", stacked=True, description="Credits per second."),
                piechart("Requests by model",
                         promql(f"sum by (model) ({increase(INFERENCES, BACKEND_JOB)})",
                                "{{model}}", instant=True),
                         description="Over the dashboard's time range."),
                piechart("Requests by provider",
                         promql(f"sum by (provider) ({increase(INFERENCES, BACKEND_JOB)})",
                                "{{provider}}", instant=True),
                         description="Over the dashboard's time range."),
                piechart("Tokens by provider",
                         promql(f"sum by (provider) "
                                f"({increase('tokens_used_total', BACKEND_JOB)})",
                                "{{provider}}", instant=True),
                         description="Over the dashboard's time range.")),
            row("Streaming",
                timeseries("Backend time to first byte p95 by provider",
                           promql(quantile(0.95, "backend_ttfb_seconds", BACKEND_JOB,
                                           by="provider"), "{{provider}}"),
                           unit="s"),
                timeseries("Streaming duration percentiles",
                           *(promql(quantile(q, "streaming_duration_seconds", BACKEND_JOB),
                                    f"p{round(q * 100)}") for q in (0.5, 0.95)),
                           unit="s")),
            table("Models over the time range",
                  promql(f"sum by ({BY_MODEL}) ({increase(INFERENCES, BACKEND_JOB)})",
                         instant=True, table=True),
                  promql(ratio(increase(INFERENCES, BACKEND_JOB, INFERENCE_SUCCESS),
                               increase(INFERENCES, BACKEND_JOB), by=BY_MODEL),
                         instant=True, table=True),
                  promql(ratio(increase(f"{INFERENCE_DURATION}_sum", BACKEND_JOB),
                               increase(f"{INFERENCE_DURATION}_count", BACKEND_JOB),
                               by=BY_MODEL),
                         instant=True, table=True),
                  promql(f"sum by ({BY_MODEL}) ({increase('tokens_used_total', BACKEND_JOB)})",
                         instant=True, table=True),
                  promql(f"sum by ({BY_MODEL}) "
                         f"({increase('credits_used_total', BACKEND_JOB)})",
                         instant=True, table=True),
                  columns=("Requests", "Success share", "Mean inference (s)", "Tokens",
                           "Credits")),
        ),
    )

"""Recording rules for what the backend alerts and dashboards compute again and again: request
and error rates, error ratios and p95 latencies per job, and per model and provider.

Names follow Prometheus' `level:metric:operations` convention; every one keeps `env` and `job`.
"""

from typing import Final

from configs.metric_names import (
    INFERENCE_DURATION,
    INFERENCE_FAILED,
    INFERENCES,
    REQUEST_DURATION,
    REQUESTS,
    SERVER_ERROR,
)
from configs.promql import histogram_quantile, rate, sum_by
from configs.rules.helpers import group, record, rule_file

REQUESTS_RATE: Final = "job:fastapi_requests:rate5m"
ERROR_RATIO_5M: Final = "job:fastapi_request_errors:ratio_rate5m"
ERROR_RATIO_1H: Final = "job:fastapi_request_errors:ratio_rate1h"
LATENCY_P95: Final = "job:fastapi_requests_duration_seconds:p95_rate5m"
TTFB_P95: Final = "job:backend_ttfb_seconds:p95_rate5m"
STREAMING_P95: Final = "job:streaming_duration_seconds:p95_rate5m"
RATE_LIMITED_RATE: Final = "job:rate_limited_requests:rate5m"
INFERENCE_RATE: Final = "model_provider:model_inference_requests:rate5m"
INFERENCE_ERROR_RATIO: Final = "model_provider:model_inference_errors:ratio_rate5m"
INFERENCE_P95: Final = "model_provider:model_inference_duration_seconds:p95_rate5m"

BY_JOB: Final = "env, job"
BY_MODEL: Final = "env, job, model, provider"


def _rate(metric: str, by: str, window: str, *matchers: str) -> str:
    return sum_by(by, rate(metric, *matchers, window=window))


def _p95(histogram: str, by: str) -> str:
    return histogram_quantile(0.95, f"{by}, le", histogram, window="5m")


def _ratio(metric: str, by: str, window: str, failed: str) -> str:
    return f"{_rate(metric, by, window, failed)} / {_rate(metric, by, window)}"


def document() -> dict[str, object]:
    """The recording rules file; it depends on no setting."""
    return rule_file(group("gatewayz-backend-recording", [
        record(REQUESTS_RATE, _rate(REQUESTS, BY_JOB, "5m")),
        record(ERROR_RATIO_5M, _ratio(REQUESTS, BY_JOB, "5m", SERVER_ERROR)),
        record(ERROR_RATIO_1H, _ratio(REQUESTS, BY_JOB, "1h", SERVER_ERROR)),
        record(LATENCY_P95, _p95(REQUEST_DURATION, BY_JOB)),
        record(TTFB_P95, _p95("backend_ttfb_seconds", BY_JOB)),
        record(STREAMING_P95, _p95("streaming_duration_seconds", BY_JOB)),
        record(RATE_LIMITED_RATE, _rate("rate_limited_requests_total", BY_JOB, "5m")),
        record(INFERENCE_RATE, _rate(INFERENCES, BY_MODEL, "5m")),
        record(INFERENCE_ERROR_RATIO,
               _ratio(INFERENCES, BY_MODEL, "5m", INFERENCE_FAILED)),
        record(INFERENCE_P95, _p95(INFERENCE_DURATION, BY_MODEL)),
    ]))

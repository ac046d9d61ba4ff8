"""Recording rules for what the backend alerts and dashboards compute again and again: request
and error rates, error ratios and p95 latencies per job, and per model and provider.

Names follow Prometheus' `level:metric:operations` convention; every one keeps `env` and `job`.
"""

from typing import Final

from configs.rules.alert import group, record, rule_file, selector

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

# 5xx answers are the backend's own failures; 4xx are the caller's and stay out of the ratio.
SERVER_ERROR: Final = 'status_code=~"5.."'
# The backend labels each inference `success` or `error` (gatewayz-backend
# src/services/prometheus_metrics.py, `track_model_inference`); counting everything but
# `success` as failed keeps a new failure status (a timeout, say) from hiding.
INFERENCE_FAILED: Final = 'status!="success"'


def _rate(metric: str, by: str, window: str, *matchers: str) -> str:
    return f"sum by ({by}) (rate({selector(metric, *matchers)}[{window}]))"


def _p95(histogram: str, by: str) -> str:
    return f"histogram_quantile(0.95, {_rate(histogram + '_bucket', f'{by}, le', '5m')})"


def _ratio(metric: str, by: str, window: str, failed: str) -> str:
    return f"{_rate(metric, by, window, failed)} / {_rate(metric, by, window)}"


def document() -> dict[str, object]:
    """The recording rules file; it depends on no setting."""
    return rule_file(group("gatewayz-backend-recording", [
        record(REQUESTS_RATE, _rate("fastapi_requests_total", BY_JOB, "5m")),
        record(ERROR_RATIO_5M, _ratio("fastapi_requests_total", BY_JOB, "5m", SERVER_ERROR)),
        record(ERROR_RATIO_1H, _ratio("fastapi_requests_total", BY_JOB, "1h", SERVER_ERROR)),
        record(LATENCY_P95, _p95("fastapi_requests_duration_seconds", BY_JOB)),
        record(TTFB_P95, _p95("backend_ttfb_seconds", BY_JOB)),
        record(STREAMING_P95, _p95("streaming_duration_seconds", BY_JOB)),
        record(RATE_LIMITED_RATE, _rate("rate_limited_requests_total", BY_JOB, "5m")),
        record(INFERENCE_RATE, _rate("model_inference_requests_total", BY_MODEL, "5m")),
        record(INFERENCE_ERROR_RATIO,
               _ratio("model_inference_requests_total", BY_MODEL, "5m", INFERENCE_FAILED)),
        record(INFERENCE_P95, _p95("model_inference_duration_seconds", BY_MODEL)),
    ]))

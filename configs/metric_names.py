"""The GatewayZ backend's metrics, and the label matchers that say what counts as a failure.

Alerts, recording rules and dashboards all use these, so they agree on what an error is. They
are what the backend serves on its /metrics (production: https://api.gatewayz.ai/metrics).
"""

from typing import Final

REQUESTS: Final = "fastapi_requests_total"
REQUEST_DURATION: Final = "fastapi_requests_duration_seconds"
# 5xx answers are the backend's own failures; 4xx are the caller's and stay out of error ratios.
SERVER_ERROR: Final = 'status_code=~"5.."'
CLIENT_ERROR: Final = 'status_code=~"4.."'
INFERENCES: Final = "model_inference_requests_total"
INFERENCE_DURATION: Final = "model_inference_duration_seconds"
# The backend labels each inference `success` or `error` (gatewayz-backend
# src/services/prometheus_metrics.py, `track_model_inference`); counting everything but
# `success` as failed keeps a new failure status (a timeout, say) from hiding.
INFERENCE_SUCCESS: Final = 'status="success"'
INFERENCE_FAILED: Final = 'status!="success"'

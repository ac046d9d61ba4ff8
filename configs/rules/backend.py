"""Alerts on the GatewayZ backend: scrape down, 5xx share, p95 latency, time to first byte and
streaming time, model inference failures and latency per model and provider, rate-limit surges.

They read the recorded series of `recording.py`; every threshold comes from the stack settings.
"""

from configs.rules import recording as rec
from configs.rules.helpers import ENV, Value, alert, group, job_down, label, rule_file
from settings import Settings, Severity

JOB = label("job")
MODEL = f"{label('model')} via {label('provider')}"


def _p95_alert(name: str, series: str, what: str, threshold: float) -> dict[str, object]:
    """A warning when a p95 recorded by `recording.py` stays above `threshold` seconds."""
    return alert(
        name, f"{series} > {threshold}", severity=Severity.WARNING, for_minutes=10,
        summary=f"{what} p95 {Value.DURATION} in {ENV}",
        description=f"p95 {what.lower()} of {JOB} in {ENV} has been {Value.DURATION} for 10 "
                    f"minutes, above the {threshold:g}s threshold.")


def document(settings: Settings) -> dict[str, object]:
    t = settings.alerting.thresholds
    job = settings.backend.job
    error_share = (f"5xx share of {JOB} requests in {ENV} is {Value.PERCENT}, above the "
                   f"{t.error_ratio:.0%} threshold")
    # Warning and critical share the alert name, so the critical one inhibits the warning
    # (see configs/alertmanager.py); critical means the 1h average is past the threshold too.
    return rule_file(group("gatewayz-backend", [
        alert("BackendDown", job_down(job, settings.environment), severity=Severity.CRITICAL,
              for_minutes=2,
              summary=f"Backend {job} unreachable in {ENV}: {Value.NUMBER} targets up",
              description=f"Prometheus has not scraped {JOB} in {ENV} for 2 minutes "
                          f"({Value.NUMBER} targets up): the backend is down, its metrics "
                          "endpoint refuses the scrape (auth, TLS), or the scrape job is missing."),
        alert("BackendHighErrorRate", f"{rec.ERROR_RATIO_5M} > {t.error_ratio}",
              severity=Severity.WARNING, for_minutes=5,
              summary=f"Backend 5xx share {Value.PERCENT} in {ENV}",
              description=f"{error_share} over the last 5 minutes."),
        alert("BackendHighErrorRate",
              f"{rec.ERROR_RATIO_5M} > {t.error_ratio} and {rec.ERROR_RATIO_1H} > {t.error_ratio}",
              severity=Severity.CRITICAL, for_minutes=5,
              summary=f"Backend 5xx share {Value.PERCENT} in {ENV}, sustained for an hour",
              description=f"{error_share} over 5 minutes and averaged over the last hour."),
        _p95_alert("BackendHighLatency", rec.LATENCY_P95, "Request latency",
                   t.latency_p95_seconds),
        _p95_alert("BackendSlowTimeToFirstByte", rec.TTFB_P95, "Time to first byte",
                   t.ttfb_p95_seconds),
        _p95_alert("BackendSlowStreaming", rec.STREAMING_P95, "Streaming duration",
                   t.streaming_p95_seconds),
        alert("ModelInferenceErrors", f"{rec.INFERENCE_ERROR_RATIO} > {t.inference_error_ratio}",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"{MODEL} fails {Value.PERCENT} of inferences in {ENV}",
              description=f"{Value.PERCENT} of inference requests to {MODEL} in {ENV} have not "
                          f"succeeded for 10 minutes (threshold {t.inference_error_ratio:.0%})."),
        alert("ModelInferenceSlow", f"{rec.INFERENCE_P95} > {t.inference_p95_seconds}",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"{MODEL} inference p95 {Value.DURATION} in {ENV}",
              description=f"p95 inference duration of {MODEL} in {ENV} has been {Value.DURATION} "
                          f"for 10 minutes, above the {t.inference_p95_seconds:g}s threshold."),
        # Rate limiting doing its job is not an outage: info, for a client bug or abuse to be seen.
        alert("BackendRateLimitedSurge",
              f"{rec.RATE_LIMITED_RATE} > {t.rate_limited_per_second}",
              severity=Severity.INFO, for_minutes=10,
              summary=f"{Value.NUMBER} rate-limited requests/s in {ENV}",
              description=f"{JOB} in {ENV} has rejected {Value.NUMBER} requests/s for rate "
                          f"limits over 10 minutes (threshold {t.rate_limited_per_second}/s)."),
    ]))

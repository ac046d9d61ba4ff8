"""Alerts on the GatewayZ backend: scrape down, 5xx share, p95 latency, time to first byte and
streaming time, model inference failures and latency per model and provider, rate-limit surges;
each with its runbook.

They read the recorded series of `recording.py`; every threshold comes from the stack settings.
"""

from configs.dashboards import application_health, backend_metrics, fastapi, model_health
from configs.dashboards import prometheus as prometheus_dashboard
from configs.metric_names import (
    INFERENCE_DURATION,
    INFERENCE_FAILED,
    INFERENCES,
    REQUEST_DURATION,
    REQUESTS,
    SERVER_ERROR,
)
from configs.promql import eq, histogram_quantile, rate, selector, sum_by
from configs.rules import recording as rec
from configs.rules.helpers import (
    ENV,
    LogQL,
    Panel,
    PromQL,
    Runbook,
    Shell,
    Value,
    Verify,
    alert,
    group,
    job_down,
    label,
    rule_file,
)
from settings import BackendAuth, Settings, Severity

JOB = label("job")
MODEL = f"{label('model')} via {label('provider')}"
# The backend's error lines, whichever service name it logs under (Loki needs one matcher that
# cannot match the empty string, hence `.+`).
ERROR_LINES = '{service_name=~".+", level=~"(?i)(error|critical|fatal)"}'


def _p95_alert(name: str, series: str, what: str, threshold: float,
               runbook: Runbook) -> dict[str, object]:
    """A warning when a p95 recorded by `recording.py` stays above `threshold` seconds."""
    return alert(
        name, f"{series} > {threshold}", severity=Severity.WARNING, for_minutes=10,
        summary=f"{what} p95 {Value.DURATION} in {ENV}",
        description=f"p95 {what.lower()} of {JOB} in {ENV} has been {Value.DURATION} for 10 "
                    f"minutes, above the {threshold:g}s threshold.",
        runbook=runbook)


def document(settings: Settings) -> dict[str, object]:
    t = settings.alerting.thresholds
    job = settings.backend.job
    env = settings.environment
    on_backend = (eq("env", env), eq("job", job))

    def recorded(series: str) -> str:
        return selector(series, eq("env", env))

    def by_path(metric: str, *matchers: str) -> str:
        return sum_by("path", rate(metric, *on_backend, *matchers, window="5m"))

    # The token through a file descriptor, so it never shows in the process list.
    auth = (' -H @<(echo "Authorization: Bearer $(pulumi config get backendBearerToken '
            f'--stack {settings.stack})")' if settings.backend.auth is BackendAuth.BEARER else "")
    too_many = 'status_code="429"'
    scrape_target = f"prometheus target {job}"
    error_share = (f"5xx share of {JOB} requests in {ENV} is {Value.PERCENT}, above the "
                   f"{t.error_ratio:.0%} threshold")
    error_runbook = Runbook(
        meaning=f"More than {t.error_ratio:.0%} of the requests the backend answered over the "
                "last 5 minutes were 5xx: the backend's own failures (4xx, the callers' "
                "mistakes, do not count). The critical one adds that the last hour's average "
                "is past the threshold too: not a blip, an outage; it mutes the warning.",
        impact="API calls to GatewayZ fail with 500/502/503/504: chat completions and other "
               "requests return errors instead of model output, and SDK clients retry, which "
               "adds load.",
        causes=("A deploy of the backend that broke an endpoint (look at when the share rose).",
                "A dependency of the backend failing: its database, Redis, or an upstream "
                "model provider whose errors the backend passes on as 5xx.",
                "The backend overloaded or out of memory, timing out at its proxy (502/504)."),
        checks=(
            PromQL("The 5xx share the alert reads, per backend job (5m and 1h):",
                   f"{recorded(rec.ERROR_RATIO_5M)} or {recorded(rec.ERROR_RATIO_1H)}"),
            PromQL("Which endpoints fail, in 5xx answers per second:",
                   f"topk(10, {by_path(REQUESTS, SERVER_ERROR)})"),
            Panel("When it started and which status codes:", fastapi.TITLE,
                  "Requests by status code"),
            Panel("The share per endpoint:", backend_metrics.TITLE, "5xx share by path"),
            LogQL("The backend's error lines (pick the backend's service on the Log stream "
                  "panel if other services log here too):", ERROR_LINES),
            Panel("Whether providers fail too (5xx passed on from a provider):",
                  model_health.TITLE, "Failed inferences by model"),
        ),
        actions=("If it started with a deploy, roll the backend back first and investigate "
                 "after.",
                 "If one endpoint or one provider carries the errors, fail it over or disable "
                 "it in the backend and tell the team that owns it.",
                 "If every endpoint fails, check the backend's database and Redis (the GatewayZ "
                 "Redis dashboard in production) and the backend's host (Railway) for restarts "
                 "or memory limits."),
        resolves=f"When the 5-minute 5xx share is back under {t.error_ratio:.0%} (the critical: "
                 "also when the hour's average is), it resolves on the next evaluation, and "
                 "whoever it notified gets a resolved message.")
    latency_checks = (
        Panel("Which percentiles moved, and since when:", fastapi.TITLE, "Latency percentiles"),
        Panel("Which endpoints are slow:", backend_metrics.TITLE, "p95 latency by path"),
        Panel("Whether the database is the slow part:", fastapi.TITLE,
              "Database p95 by operation"),
    )
    return rule_file(group("gatewayz-backend", [
        alert("BackendDown", job_down(job, env), severity=Severity.CRITICAL,
              for_minutes=2,
              summary=f"Backend {job} unreachable in {ENV}: {Value.NUMBER} targets up",
              description=f"Prometheus has not scraped {JOB} in {ENV} for 2 minutes "
                          f"({Value.NUMBER} targets up): the backend is down, its metrics "
                          "endpoint refuses the scrape (auth, TLS), or the scrape job is missing.",
              runbook=Runbook(
                  meaning="Prometheus has not been able to scrape the backend's metrics "
                          "endpoint (`backendMetricsUrl`) for 2 minutes, or has no target for "
                          "the backend job at all.",
                  impact="If the backend itself is down, every GatewayZ API call fails "
                         "(connection errors or 502s from its proxy). If only /metrics fails, "
                         "users see nothing, but every other backend alert is blind: they "
                         "all read these metrics.",
                  causes=("The backend is down or restarting (a failed deploy, a crash loop, "
                          "its host out of memory).",
                          "The metrics endpoint refuses the scrape: a rotated bearer token "
                          "(401/403), an expired certificate, a changed path (404).",
                          "The scrape times out: the backend answers slower than the job's "
                          f"{settings.backend.timeout} timeout.",
                          "The scrape job is missing from Prometheus' config (then `up` has no "
                          "series and the alert reads 0 from `absent`)."),
                  checks=(
                      PromQL("Is the target up, and how long do scrapes take:",
                             f"up{{job=\"{job}\"}} or scrape_duration_seconds{{job=\"{job}\"}}"),
                      Shell("What the endpoint answers from the Docker host (the HTTP status "
                            "and the first bytes):",
                            f"curl -sS -m 10 -o /dev/null -w '%{{http_code}}\\n'{auth} "
                            f"{settings.backend.url}"),
                      Verify("Prometheus' own view of the scrape, with the last error:",
                             (scrape_target,)),
                      Panel("Since when:", application_health.TITLE, "Backend scrape"),
                      Panel("Whether other targets are down too (then it is Prometheus or its "
                            "network):", prometheus_dashboard.TITLE, "Targets up by job"),
                  ),
                  actions=("The last error on Prometheus' Status → Target health page says which "
                           "case it is: connection refused or timeout (the backend is down: "
                           "check its host and recent deploys), 401/403 (set the token again "
                           "with `pulumi config set --secret backendBearerToken` and `make "
                           "up`), x509 (the certificate), 404 (the metrics path moved: "
                           "`backendMetricsUrl`).",
                           "If the backend serves its API but not /metrics, it is a monitoring "
                           "outage, not a user one: say so in the incident channel."),
                  resolves="Two minutes after the scrapes succeed again it clears by itself; "
                           "nothing has to be reset.")),
        alert("BackendHighErrorRate", f"{rec.ERROR_RATIO_5M} > {t.error_ratio}",
              severity=Severity.WARNING, for_minutes=5,
              summary=f"Backend 5xx share {Value.PERCENT} in {ENV}",
              description=f"{error_share} over the last 5 minutes.", runbook=error_runbook),
        alert("BackendHighErrorRate",
              f"{rec.ERROR_RATIO_5M} > {t.error_ratio} and {rec.ERROR_RATIO_1H} > {t.error_ratio}",
              severity=Severity.CRITICAL, for_minutes=5,
              summary=f"Backend 5xx share {Value.PERCENT} in {ENV}, sustained for an hour",
              description=f"{error_share} over 5 minutes and averaged over the last hour.",
              runbook=error_runbook),
        _p95_alert("BackendHighLatency", rec.LATENCY_P95, "Request latency",
                   t.latency_p95_seconds, Runbook(
                       meaning="One request in twenty to the backend has taken longer than "
                               f"{t.latency_p95_seconds:g}s for 10 minutes (p95 over all "
                               "endpoints, streamed completions included).",
                       impact="GatewayZ feels slow: API calls take seconds longer, and clients "
                              "with short timeouts give up and see errors.",
                       causes=("A slow upstream model provider: completions wait on it (see "
                               "ModelInferenceSlow for which one).",
                               "The database or Redis answering slowly.",
                               "The backend saturated: more requests in progress than it can "
                               "serve, CPU at its limit."),
                       checks=(
                           PromQL("The p95 the alert reads, and the slowest endpoints:",
                                  f"{recorded(rec.LATENCY_P95)} or topk(5, histogram_quantile("
                                  f"0.95, sum by (path, le) (rate({REQUEST_DURATION}_bucket"
                                  f"{{env=\"{env}\", job=\"{job}\"}}[5m]))))"),
                           *latency_checks,
                           Panel("Whether the backend is saturated:", fastapi.TITLE,
                                 "Requests in progress"),
                       ),
                       actions=("If one endpoint or one provider is slow, the fix is there: "
                                "fail the provider over, or tell the team that owns the "
                                "endpoint.",
                                "If everything is slow and requests in progress climb, scale "
                                "the backend out or shed load; if the database is slow, look "
                                "at its own monitoring."),
                       resolves="When the p95 is back under the threshold it resolves at the "
                                "next evaluation.")),
        _p95_alert("BackendSlowTimeToFirstByte", rec.TTFB_P95, "Time to first byte",
                   t.ttfb_p95_seconds, Runbook(
                       meaning=f"For 10 minutes, one response in twenty took longer than "
                               f"{t.ttfb_p95_seconds:g}s before its first byte.",
                       impact="Chat UIs and SDKs wait before anything appears: the product "
                              "feels frozen even when the answer streams fast afterwards.",
                       causes=("An upstream provider slow to start generating (its queue, a "
                               "cold model).",
                               "The backend's work before the first byte: authentication, "
                               "credit checks, the database or Redis.",
                               "Routing to a distant or overloaded provider region."),
                       checks=(
                           PromQL("The time to first byte per provider:",
                                  histogram_quantile(0.95, "provider, le",
                                                     "backend_ttfb_seconds", *on_backend,
                                                     window="5m")),
                           Panel("Which provider:", model_health.TITLE,
                                 "Backend time to first byte p95 by provider"),
                           Panel("Per model:", model_health.TITLE,
                                 "Time to first chunk p95 by model"),
                           Panel("Whether the backend's own work is slow:", fastapi.TITLE,
                                 "Database p95 by operation"),
                       ),
                       actions=("If one provider carries it, route its models elsewhere or "
                                "tell its status page; if all do, look at the backend's "
                                "database and Redis first.",),
                       resolves="It resolves by itself once the p95 is under the threshold.")),
        _p95_alert("BackendSlowStreaming", rec.STREAMING_P95, "Streaming duration",
                   t.streaming_p95_seconds, Runbook(
                       meaning=f"For 10 minutes, one streamed response in twenty took longer "
                               f"than {t.streaming_p95_seconds:g}s from start to end.",
                       impact="Streamed completions arrive slowly, in long pauses, or are cut "
                              "off by clients that time out.",
                       causes=("Providers generating slowly (long outputs, a loaded model).",
                               "Longer answers than usual: a client asking for more tokens "
                               "shifts the p95 without anything being wrong.",
                               "The backend's event loop blocked, so chunks are sent late."),
                       checks=(
                           PromQL("The streaming p95 per provider:",
                                  histogram_quantile(0.95, "provider, le",
                                                     "streaming_duration_seconds",
                                                     *on_backend, window="5m")),
                           Panel("The percentiles over time:", model_health.TITLE,
                                 "Streaming duration percentiles"),
                           Panel("Whether the token volume rose with it (longer answers):",
                                 model_health.TITLE, "Token usage by model and provider"),
                       ),
                       actions=("If tokens per second rose with it, it is load, not a fault: "
                                "raise the threshold if this is the new normal.",
                                "If one provider carries it, route around it."),
                       resolves="It resolves by itself once the p95 is under the threshold.")),
        alert("ModelInferenceErrors", f"{rec.INFERENCE_ERROR_RATIO} > {t.inference_error_ratio}",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"{MODEL} fails {Value.PERCENT} of inferences in {ENV}",
              description=f"{Value.PERCENT} of inference requests to {MODEL} in {ENV} have not "
                          f"succeeded for 10 minutes (threshold {t.inference_error_ratio:.0%}).",
              runbook=Runbook(
                  meaning=f"More than {t.inference_error_ratio:.0%} of the inferences to one "
                          "model at one provider (the alert's `model` and `provider` labels) "
                          "have not succeeded for 10 minutes.",
                  impact="Users of that model get errors (or the backend's fallback model, "
                         "where it has one); other models are not affected.",
                  causes=("The provider is down or degraded (check its status page).",
                          "The provider rejects GatewayZ: an expired API key, exhausted "
                          "credits or quota, a rate limit on GatewayZ's account.",
                          "The model was renamed or retired at the provider."),
                  checks=(
                      PromQL("Failure share per model and provider, worst first:",
                             f"sort_desc({recorded(rec.INFERENCE_ERROR_RATIO)})"),
                      PromQL("Failed inferences per second by status, for this provider "
                             "(replace the provider):",
                             sum_by("model, provider, status",
                                    rate(INFERENCES, *on_backend, INFERENCE_FAILED,
                                         'provider="<provider>"', window="5m"))),
                      Panel("Which models, since when:", model_health.TITLE,
                            "Failed inferences by model"),
                      LogQL("The backend's errors that name the provider (replace it):",
                            f'{ERROR_LINES} |~ "(?i)<provider>"'),
                  ),
                  actions=("Confirm at the provider's status page; if it is theirs, route the "
                           "model to another provider if the backend can, and tell users.",
                           "If the errors are 401/402/429, renew the key or the quota."),
                  resolves="When the failure share is back under the threshold for that model "
                           "and provider it resolves by itself.")),
        alert("ModelInferenceSlow", f"{rec.INFERENCE_P95} > {t.inference_p95_seconds}",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"{MODEL} inference p95 {Value.DURATION} in {ENV}",
              description=f"p95 inference duration of {MODEL} in {ENV} has been {Value.DURATION} "
                          f"for 10 minutes, above the {t.inference_p95_seconds:g}s threshold.",
              runbook=Runbook(
                  meaning=f"Inferences of one model at one provider have had a p95 above "
                          f"{t.inference_p95_seconds:g}s for 10 minutes.",
                  impact="Users of that model wait long for answers; clients with timeouts "
                         "see errors.",
                  causes=("The provider is overloaded or degraded.",
                          "Requests for much longer outputs than usual.",
                          "Retries inside the backend adding up."),
                  checks=(
                      PromQL("p95 per model and provider, slowest first:",
                             f"sort_desc({recorded(rec.INFERENCE_P95)})"),
                      PromQL("The same from the histogram, for one provider's models (replace "
                             "it):",
                             histogram_quantile(0.95, "model, le", INFERENCE_DURATION,
                                                *on_backend, 'provider="<provider>"',
                                                window="5m")),
                      Panel("Since when, next to the others:", model_health.TITLE,
                            "Inference p95 by model"),
                  ),
                  actions=("Check the provider's status page; route the model elsewhere if it "
                           "stays slow.",
                           "If outputs got longer (Token usage by model and provider), it is "
                           "load: adjust `alertInferenceP95Ms` if it is the new normal."),
                  resolves="It resolves by itself once the p95 is under the threshold.")),
        # Rate limiting doing its job is not an outage: info, for a client bug or abuse to be seen.
        alert("BackendRateLimitedSurge",
              f"{rec.RATE_LIMITED_RATE} > {t.rate_limited_per_second}",
              severity=Severity.INFO, for_minutes=10,
              summary=f"{Value.NUMBER} rate-limited requests/s in {ENV}",
              description=f"{JOB} in {ENV} has rejected {Value.NUMBER} requests/s for rate "
                          f"limits over 10 minutes (threshold {t.rate_limited_per_second}/s).",
              runbook=Runbook(
                  meaning=f"The backend has rejected more than {t.rate_limited_per_second} "
                          "requests per second for its rate limits, for 10 minutes. Info: it "
                          "notifies nobody and is seen on Alertmanager's page.",
                  impact="The rate-limited callers get 429s; everyone else is protected by "
                         "them.",
                  causes=("A client in a retry loop, or a script without backoff.",
                          "Abuse, or a leaked API key.",
                          "Limits set too low for a customer's legitimate growth."),
                  checks=(
                      PromQL("The rejected requests per second:",
                             recorded(rec.RATE_LIMITED_RATE)),
                      PromQL("Which endpoints answer 429:",
                             f"topk(5, {by_path(REQUESTS, too_many)})"),
                      Panel("Since when:", fastapi.TITLE, "Rate-limited requests"),
                  ),
                  actions=("Find the key or client in the backend's logs; contact the "
                           "customer, or revoke a key that leaked.",),
                  resolves="It resolves by itself when the surge stops.")),
    ]))

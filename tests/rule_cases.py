"""Input series and expected alerts for `promtool test rules`, per alert name: cases where the
alert fires (with every label Alertmanager will see) and cases where it stays quiet.

Series are sampled every minute (`STEP`) in promtool's `start+increment x count` notation.
Firing inputs sit above a threshold (twice it, or halfway to 100% for a share of a limit) and
quiet ones at half of it, computed from the settings instead of restating their numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from configs.rules import replicas, watchdog
from services import Service, internal_address
from settings import AlertThresholds, Platform, Settings, Severity, Size, parse_settings

# The two stacks' alerting settings, as the rule and Alertmanager tests see them.
STACKS: Final[Mapping[str, tuple[Mapping[str, str], frozenset[str]]]] = {
    "staging": ({"backendMetricsUrl": "https://gatewayz-staging.up.railway.app/metrics",
                 "backendAuth": "bearer", "redisAddress": "redis://redis:6379",
                 "alertCriticalReceiver": "slack", "alertWarningReceiver": "slack"},
                frozenset({"backendBearerToken", "alertSlackWebhookUrl"})),
    "production": ({"backendMetricsUrl": "https://api.gatewayz.ai/metrics",
                    "redisAddress": "redis://redis:6379",
                    "alertCriticalReceiver": "webhook", "alertWarningReceiver": "slack",
                    "alertHeartbeat": "true", "protectData": "true"},
                   frozenset({"alertWebhookUrl", "alertSlackWebhookUrl", "alertHeartbeatUrl"})),
    # Production's alerting on Kubernetes, which adds the rules only a cluster has.
    "cluster": ({"platform": "kubernetes", "backendMetricsUrl": "https://api.gatewayz.ai/metrics",
                 "redisAddress": "redis://redis:6379",
                 "alertCriticalReceiver": "webhook", "alertWarningReceiver": "slack",
                 "alertHeartbeat": "true", "protectData": "true",
                 "objectStorageEndpoint": "https://s3.eu-west-1.amazonaws.com",
                 "lokiBucket": "gatewayz-cluster-loki", "tempoBucket": "gatewayz-cluster-tempo"},
                frozenset({"alertWebhookUrl", "alertSlackWebhookUrl", "alertHeartbeatUrl",
                           "objectStorageAccessKeyId", "objectStorageSecretAccessKey"})),
}

STEP: Final = "1m"
# Long enough for every `for:` (15m at most) plus the 5m rate windows.
EVAL_MINUTES: Final = 30
STEPS: Final = 40

Labels = Mapping[str, str]
Series = dict[str, str]


@dataclass(frozen=True)
class Fired:
    # A `Severity`, or the Watchdog's `none` (configs/rules/watchdog.py).
    severity: str
    # The alert's labels besides alertname and severity: what its expression keeps.
    labels: Labels
    # `$value` as the annotations print it, e.g. "10%" for humanizePercentage of 0.1.
    value: str


@dataclass(frozen=True)
class Case:
    name: str
    series: Series
    # Empty: the alert must stay quiet.
    fired: tuple[Fired, ...] = ()
    eval_minutes: int = EVAL_MINUTES


def stack_settings(stack: str) -> Settings:
    raw, secrets = STACKS[stack]
    return parse_settings(stack, raw, secrets)


# --- $value as Prometheus' template functions print it (prometheus template/template.go) -----

def percent(ratio: float) -> str:
    """humanizePercentage."""
    return f"{ratio * 100:.4g}%"


def duration(seconds: float) -> str:
    """humanizeDuration, for the sub-minute values these cases produce."""
    assert 0 < seconds < 60
    return f"{seconds:.4g}s" if seconds >= 1 else f"{seconds * 1000:.4g}ms"


def long_duration(seconds: int) -> str:
    """humanizeDuration, for 0 and for whole seconds of at least an hour and under a day."""
    if seconds == 0:
        return "0s"
    assert 3600 <= seconds < 86400
    return f"{seconds // 3600}h {seconds // 60 % 60}m {seconds % 60}s"


def number(value: float) -> str:
    """humanize, for 0 and values from 1 to 999."""
    assert value == 0 or 1 <= value < 1000
    return f"{value:.4g}"


# --- series --------------------------------------------------------------------------------

def series(metric: str, labels: Labels) -> str:
    return metric + "{" + ", ".join(f'{name}="{value}"' for name, value in labels.items()) + "}"


def counter(per_step: float, steps: int = STEPS) -> str:
    return f"0+{per_step}x{steps}"


def gauge(value: int, steps: int = STEPS) -> str:
    return f"{value}+0x{steps}"


def histogram(metric: str, labels: Labels, upper: float) -> Series:
    """Every observation at most `upper`, so histogram_quantile puts p95 at 0.95 * upper."""
    return {series(f"{metric}_bucket", {**labels, "le": le}): counter(60)
            for le in (repr(upper), "+Inf")}


class _Stack:
    """Target labels as Prometheus attaches them in the stack under test."""

    def __init__(self, settings: Settings) -> None:
        self.env = settings.environment
        self.backend = {"env": self.env, "job": settings.backend.job,
                        "instance": settings.backend.address}

    def service(self, service: Service) -> dict[str, str]:
        return {"env": self.env, "job": service.job, "instance": internal_address(service)}

    def scope(self, labels: Labels, keep: tuple[str, ...]) -> dict[str, str]:
        """What an aggregation `by (env, *keep)` leaves of `labels`."""
        return {"env": self.env, **{name: labels[name] for name in keep}}


# --- case shapes shared by several alerts ----------------------------------------------------

def _down(s: _Stack, metric: str, labels: Labels, severity: Severity,
          keep: tuple[str, ...]) -> tuple[Case, ...]:
    return (Case(f"{metric} 0: fires", {series(metric, labels): gauge(0)},
                 (Fired(severity, s.scope(labels, keep), number(0)),)),
            Case(f"{metric} 1: quiet", {series(metric, labels): gauge(1)}))


def _job_down(s: _Stack, labels: Labels, severity: Severity) -> tuple[Case, ...]:
    return _down(s, "up", labels, severity, ("job",))


def _increasing(s: _Stack, metric: str, labels: Labels, *, per_minute: int, value: str,
                severity: Severity, keep: tuple[str, ...]) -> tuple[Case, ...]:
    return (Case("increasing: fires", {series(metric, labels): counter(per_minute)},
                 (Fired(severity, s.scope(labels, keep), value),)),
            Case("flat: quiet", {series(metric, labels): counter(0)}))


def _p95(s: _Stack, metric: str, labels: Labels, threshold: float,
         keep: tuple[str, ...]) -> tuple[Case, ...]:
    return (Case("p95 at 1.9x threshold: fires", histogram(metric, labels, 2 * threshold),
                 (Fired(Severity.WARNING, s.scope(labels, keep), duration(1.9 * threshold)),)),
            Case("p95 at half the threshold: quiet", histogram(metric, labels, threshold / 2)))


def _outcomes(metric: str, ok: Labels, failed: Labels, failed_ratio: float, *,
              steps: int = STEPS, start_minute: int = 0) -> Series:
    """1000 requests a minute, `failed_ratio` of them failed from `start_minute` on."""
    failures = round(1000 * failed_ratio)
    failing = counter(failures, steps) if start_minute == 0 else (
        f"{gauge(0, start_minute)} {counter(failures, steps - start_minute)}")
    return {series(metric, ok): counter(1000 - failures, steps),
            series(metric, failed): failing}


# --- per alert -------------------------------------------------------------------------------

def _backend_down(s: _Stack) -> tuple[Case, ...]:
    prometheus = s.service(Service.PROMETHEUS)
    return (*_job_down(s, s.backend, Severity.CRITICAL),
            Case("no backend target at all: fires", {series("up", prometheus): gauge(1)},
                 (Fired(Severity.CRITICAL, s.scope(s.backend, ("job",)), number(0)),)))


def _error_rate(s: _Stack, threshold: float) -> tuple[Case, ...]:
    labels = {**s.backend, "method": "POST", "path": "/v1/chat/completions"}
    scope = s.scope(labels, ("job",))
    high, low = 2 * threshold, threshold / 2

    def outcomes(ratio: float, start_minute: int = 0) -> Series:
        # The 1h window needs more than an hour of samples.
        return _outcomes("fastapi_requests_total", {**labels, "status_code": "200"},
                         {**labels, "status_code": "500"}, ratio, steps=90,
                         start_minute=start_minute)

    return (
        Case("sustained for an hour: warning and critical", outcomes(high),
             (Fired(Severity.WARNING, scope, percent(high)),
              Fired(Severity.CRITICAL, scope, percent(high))), eval_minutes=80),
        Case("a 20 minute spike: warning only", outcomes(high, start_minute=60),
             (Fired(Severity.WARNING, scope, percent(high)),), eval_minutes=80),
        Case("below threshold: quiet", outcomes(low), eval_minutes=80),
    )


def _inference_errors(s: _Stack, threshold: float) -> tuple[Case, ...]:
    labels = {**s.backend, "model": "gpt-4o", "provider": "openai"}
    high, low = 2 * threshold, threshold / 2

    def outcomes(ratio: float) -> Series:
        return _outcomes("model_inference_requests_total", {**labels, "status": "success"},
                         {**labels, "status": "error"}, ratio)

    return (
        Case("failing model: fires", outcomes(high),
             (Fired(Severity.WARNING, s.scope(labels, ("job", "model", "provider")),
                    percent(high)),)),
        Case("below threshold: quiet", outcomes(low)),
    )


def _redis_memory(s: _Stack, threshold: float) -> tuple[Case, ...]:
    labels = s.service(Service.REDIS_EXPORTER)
    limit = 1 << 30

    def memory(used_ratio: float, maximum: int = limit) -> Series:
        return {series("redis_memory_used_bytes", labels): gauge(round(limit * used_ratio)),
                series("redis_memory_max_bytes", labels): gauge(maximum)}

    near = (1 + threshold) / 2
    return (
        Case("near maxmemory: fires", memory(near),
             (Fired(Severity.WARNING, s.scope(labels, ("job", "instance")), percent(near)),)),
        Case("well below maxmemory: quiet", memory(threshold / 2)),
        Case("maxmemory 0 (no limit): quiet", memory(near, maximum=0)),
    )


def _target_down(s: _Stack) -> tuple[Case, ...]:
    alertmanager = s.service(Service.ALERTMANAGER)
    grafana, loki = s.service(Service.GRAFANA), s.service(Service.LOKI)
    return (
        Case("alertmanager down: fires", {series("up", alertmanager): gauge(0)},
             (Fired(Severity.WARNING, s.scope(alertmanager, ("job", "instance")), number(0)),)),
        # Loki and Grafana have LokiDown and GrafanaDown: TargetDown must not notify again.
        Case("loki and grafana down: quiet, their own alerts' job",
             {series("up", alertmanager): gauge(1), series("up", loki): gauge(0),
              series("up", grafana): gauge(0)}),
    )


def _prometheus_replica_down(s: _Stack) -> tuple[Case, ...]:
    # On Kubernetes `instance` is the pod's name (configs/prometheus.py).
    first, second = ({"env": s.env, "job": Service.PROMETHEUS.job, "instance": f"prometheus-{i}"}
                     for i in range(2))
    return (
        Case("one replica down, its twin up: fires",
             {series("up", first): gauge(1), series("up", second): gauge(0)},
             (Fired(Severity.WARNING, second, number(0)),)),
        Case("both up: quiet", {series("up", first): gauge(1), series("up", second): gauge(1)}),
        # No twin left to evaluate it in a real pair; nothing stands for "up" here either.
        Case("both down: quiet", {series("up", first): gauge(0), series("up", second): gauge(0)}),
    )


def _alertmanager_member_missing(s: _Stack, replicas: int) -> tuple[Case, ...]:
    pods = [{"env": s.env, "job": Service.ALERTMANAGER.job, "instance": f"alertmanager-{i}"}
            for i in range(replicas)]
    metric = "alertmanager_cluster_members"
    # The last replica is gone; every other one sees one member fewer.
    return (
        Case("a peer lost: fires on each replica left",
             {series(metric, pod): gauge(replicas - 1) for pod in pods[:-1]},
             tuple(Fired(Severity.WARNING, pod, number(replicas - 1)) for pod in pods[:-1])),
        Case("every peer seen: quiet", {series(metric, pod): gauge(replicas) for pod in pods}),
    )


def _share(metric: str, total: str, labels: Labels, failed: Labels, *, threshold: float,
           severity: Severity, scope: Labels) -> tuple[Case, ...]:
    """`failed` counts twice the threshold's share of `total` (1000 a minute), or half of it."""
    def counts(ratio: float) -> Series:
        return {series(total, labels): counter(1000),
                series(metric, failed): counter(round(1000 * ratio))}

    return (Case("failing above the threshold: fires", counts(2 * threshold),
                 (Fired(severity, scope, percent(2 * threshold)),)),
            Case("failing below the threshold: quiet", counts(threshold / 2)))


def _pipeline(s: _Stack, t: AlertThresholds) -> dict[str, tuple[Case, ...]]:
    prometheus, alertmanager = s.service(Service.PROMETHEUS), s.service(Service.ALERTMANAGER)
    loki = s.service(Service.LOKI)
    to_alertmanager = {**prometheus, "alertmanager": "http://alertmanager:9093/api/v2/alerts"}
    slack = {**alertmanager, "integration": "slack"}
    push = {**loki, "method": "POST", "route": "loki_api_v1_push"}
    on_prometheus = ("job", "instance")
    retention = "loki_compactor_apply_retention_last_successful_run_timestamp_seconds"
    # Past the retention threshold plus its 30m `for`, and the 4h `for` of compactions.
    long_run = max(250, t.loki_retention_stale_seconds // 60 + 45)
    long_steps = long_run + 10

    def retention_runs(values: str) -> Series:
        return {series(retention, loki): values}

    def loki_requests(failed_ratio: float) -> Series:
        return _outcomes("loki_request_duration_seconds_count", {**push, "status_code": "204"},
                         {**push, "status_code": "500"}, failed_ratio)

    return {
        "PrometheusNotConnectedToAlertmanager": _down(
            s, "prometheus_notifications_alertmanagers_discovered", prometheus,
            Severity.WARNING, on_prometheus),
        "PrometheusErrorSendingAlerts": _share(
            "prometheus_notifications_errors_total", "prometheus_notifications_sent_total",
            to_alertmanager, to_alertmanager, threshold=t.notification_error_ratio,
            severity=Severity.WARNING,
            scope=s.scope(to_alertmanager, ("job", "instance", "alertmanager"))),
        "PrometheusDroppingAlerts": _increasing(
            s, "prometheus_notifications_dropped_total", to_alertmanager, per_minute=1,
            value=number(5), severity=Severity.WARNING, keep=on_prometheus),
        "PrometheusRuleEvaluationFailures": _increasing(
            s, "prometheus_rule_evaluation_failures_total",
            {**prometheus, "rule_group": "/etc/prometheus/rules/backend.yml;gatewayz-backend"},
            per_minute=1, value=number(5), severity=Severity.CRITICAL,
            keep=("job", "instance", "rule_group")),
        "PrometheusTSDBCompactionsFailing": (
            Case("failing for 4 hours: fires",
                 {series("prometheus_tsdb_compactions_failed_total", prometheus):
                      counter(1, long_steps)},
                 (Fired(Severity.WARNING, s.scope(prometheus, on_prometheus), number(180)),),
                 eval_minutes=long_run),
            Case("no failure: quiet",
                 {series("prometheus_tsdb_compactions_failed_total", prometheus):
                      counter(0, long_steps)}, eval_minutes=long_run)),
        "PrometheusTSDBWALCorruptions": _increasing(
            s, "prometheus_tsdb_wal_corruptions_total", prometheus, per_minute=1,
            value=number(30), severity=Severity.WARNING, keep=on_prometheus),
        "AlertmanagerNotificationsFailing": _share(
            "alertmanager_notifications_failed_total", "alertmanager_notifications_total",
            slack, {**slack, "reason": "clientError"}, threshold=t.notification_error_ratio,
            severity=Severity.CRITICAL, scope=s.scope(slack, ("job", "instance", "integration"))),
        "LokiRetentionNotApplied": (
            # Last success at t=60s; promtool's clock starts at 0.
            Case("last applied over the threshold ago: fires",
                 retention_runs(gauge(60, long_steps)),
                 (Fired(Severity.WARNING, s.scope(loki, on_prometheus),
                        long_duration(long_run * 60 - 60)),), eval_minutes=long_run),
            Case("never applied since start: fires", retention_runs(gauge(0, long_steps)),
                 (Fired(Severity.WARNING, s.scope(loki, on_prometheus), long_duration(0)),),
                 eval_minutes=long_run),
            # The gauge holds the time of the last run: here, every minute.
            Case("applied every minute: quiet", retention_runs(counter(60, long_steps)),
                 eval_minutes=long_run)),
        "LokiRequestErrors": (
            Case("5xx above the threshold: fires", loki_requests(2 * t.loki_error_ratio),
                 (Fired(Severity.WARNING, s.scope(push, ("job", "route")),
                        percent(2 * t.loki_error_ratio)),)),
            Case("5xx below the threshold: quiet", loki_requests(t.loki_error_ratio / 2))),
        "GrafanaDown": _job_down(s, s.service(Service.GRAFANA), Severity.WARNING),
    }


def _remote_write_failing(s: _Stack) -> tuple[Case, ...]:
    labels = {**s.service(Service.TEMPO), "remote_name": "prometheus", "tenant": "single-tenant",
              "url": "http://prometheus:9090/api/v1/write"}

    def sent(failed: int, retried: int) -> Series:
        return {series("prometheus_remote_storage_samples_failed_total", labels): counter(failed),
                series("prometheus_remote_storage_samples_retried_total", labels):
                    counter(retried)}

    scope = s.scope(labels, ("job", "instance", "url"))
    return (
        Case("rejected samples: fires", sent(60, 0), (Fired(Severity.WARNING, scope, "1"),)),
        Case("retried samples: fires", sent(0, 120), (Fired(Severity.WARNING, scope, "2"),)),
        Case("all sent: quiet", sent(0, 0)),
    )


def _remote_write_rejected(s: _Stack) -> tuple[Case, ...]:
    labels = {**s.service(Service.PROMETHEUS), "handler": "/api/v1/write"}
    rejected, accepted = {**labels, "code": "404"}, {**labels, "code": "204"}
    requests = "prometheus_http_requests_total"
    return (
        Case("404 answers: fires",
             {series(requests, rejected): counter(60), series(requests, accepted): counter(60)},
             (Fired(Severity.WARNING, s.scope(rejected, ("job", "instance", "code")), "1"),)),
        Case("204 answers only: quiet", {series(requests, accepted): counter(60)}),
    )


def _generator_idle(s: _Stack) -> tuple[Case, ...]:
    tempo = s.service(Service.TEMPO)
    received = {series("tempo_distributor_spans_received_total",
                       {**tempo, "tenant": "single-tenant"}): counter(600)}
    # Span metrics arrive by remote write: the generator's external label `env`, no target labels.
    span_metrics = {series("traces_spanmetrics_calls_total",
                           {"env": s.env, "service": "gatewayz-backend",
                            "span_name": "POST /v1/chat/completions"}): counter(600)}
    return (
        Case("spans in, no span metrics: fires", received,
             (Fired(Severity.WARNING, s.scope(tempo, ("job",)), number(10)),)),
        Case("span metrics arriving: quiet", {**received, **span_metrics}),
    )


def _storage(s: _Stack, size: Size, threshold: float) -> tuple[Case, ...]:
    labels = s.service(Service.PROMETHEUS)
    budget = size.bytes

    def used(ratio: float) -> Series:
        head = budget // 100
        return {series("prometheus_tsdb_storage_blocks_bytes", labels):
                    gauge(round(budget * ratio) - 2 * head),
                series("prometheus_tsdb_wal_storage_size_bytes", labels): gauge(head),
                series("prometheus_tsdb_head_chunks_storage_size_bytes", labels): gauge(head)}

    near = (1 + threshold) / 2
    return (
        Case("near the size budget: fires", used(near),
             (Fired(Severity.WARNING, s.scope(labels, ("job", "instance")), percent(near)),)),
        Case("well below the budget: quiet", used(threshold / 2)),
    )


def _ring_unhealthy(s: _Stack, service: Service) -> tuple[Case, ...]:
    """One ring's members as one pod reports them; another pod's view of the same ring shows
    the same member unhealthy (`max`, not a sum of views)."""
    metric = f"{service}_ring_members"
    labels = {**s.service(service), "name": "ingester"}
    other = {**labels, "instance": f"{labels['instance']}-other"}

    def members(unhealthy: int) -> Series:
        return {series(metric, {**view, "state": state}): gauge(count)
                for view in (labels, other)
                for state, count in (("ACTIVE", 3 - unhealthy), ("Unhealthy", unhealthy))}

    return (Case("a member unhealthy in every view: fires", members(1),
                 (Fired(Severity.WARNING, s.scope(labels, ("job", "name")), number(1)),)),
            Case("every member active: quiet", members(0)))


def _kubernetes(s: _Stack) -> dict[str, tuple[Case, ...]]:
    """The alerts only the Kubernetes platform renders."""
    return {"LokiRingMemberUnhealthy": _ring_unhealthy(s, Service.LOKI),
            "TempoRingMemberUnhealthy": _ring_unhealthy(s, Service.TEMPO)}


def cases(settings: Settings) -> dict[str, tuple[Case, ...]]:
    """Cases by alert name, for every alert the rule files of `settings` define."""
    s = _Stack(settings)
    t = settings.alerting.thresholds
    redis = s.service(Service.REDIS_EXPORTER)
    tempo = s.service(Service.TEMPO)
    model = {**s.backend, "model": "gpt-4o", "provider": "openai"}
    by_model = ("job", "model", "provider")
    return {
        "BackendDown": _backend_down(s),
        "BackendHighErrorRate": _error_rate(s, t.error_ratio),
        "BackendHighLatency": _p95(s, "fastapi_requests_duration_seconds",
                                   {**s.backend, "method": "POST", "path": "/v1/chat/completions"},
                                   t.latency_p95_seconds, ("job",)),
        "BackendSlowTimeToFirstByte": _p95(s, "backend_ttfb_seconds", model, t.ttfb_p95_seconds,
                                           ("job",)),
        "BackendSlowStreaming": _p95(s, "streaming_duration_seconds", s.backend,
                                     t.streaming_p95_seconds, ("job",)),
        "ModelInferenceErrors": _inference_errors(s, t.inference_error_ratio),
        "ModelInferenceSlow": _p95(s, "model_inference_duration_seconds", model,
                                   t.inference_p95_seconds, by_model),
        "BackendRateLimitedSurge": _increasing(
            s, "rate_limited_requests_total", {**s.backend, "limit_type": "api_key"},
            per_minute=120 * t.rate_limited_per_second,
            value=number(2 * t.rate_limited_per_second), severity=Severity.INFO, keep=("job",)),
        "RedisDown": _down(s, "redis_up", redis, Severity.CRITICAL, ("job", "instance")),
        "RedisExporterDown": _job_down(s, redis, Severity.WARNING),
        "RedisMemoryNearMax": _redis_memory(s, t.redis_memory_ratio),
        # One rejection a minute: 10 in the 10m window.
        "RedisRejectingConnections": _increasing(
            s, "redis_rejected_connections_total", redis, per_minute=1, value=number(10),
            severity=Severity.WARNING, keep=("job", "instance")),
        "RedisEvictingKeys": _increasing(
            s, "redis_evicted_keys_total", redis, per_minute=60, value=number(1),
            severity=Severity.WARNING, keep=("job", "instance")),
        "TargetDown": _target_down(s),
        "LokiDown": _job_down(s, s.service(Service.LOKI), Severity.WARNING),
        "TempoDown": _job_down(s, tempo, Severity.WARNING),
        "TempoNotReady": _down(s, "tempo_live_store_ready", tempo, Severity.WARNING,
                               ("job", "instance")),
        "PrometheusConfigReloadFailing": _down(
            s, "prometheus_config_last_reload_successful", s.service(Service.PROMETHEUS),
            Severity.WARNING, ("job", "instance")),
        "TempoRemoteWriteFailing": _remote_write_failing(s),
        "PrometheusRemoteWriteRejected": _remote_write_rejected(s),
        "TempoDiscardingSpans": _increasing(
            s, "tempo_discarded_spans_total",
            {**tempo, "reason": "rate_limited", "tenant": "single-tenant"}, per_minute=120,
            value=number(2), severity=Severity.WARNING, keep=("job", "instance", "reason")),
        "TempoReceiverRefusingSpans": _increasing(
            s, "tempo_receiver_refused_spans", {**tempo, "receiver": "otlp", "transport": "grpc"},
            per_minute=60, value=number(1), severity=Severity.WARNING,
            keep=("job", "instance", "receiver")),
        "TempoMetricsGeneratorIdle": _generator_idle(s),
        "PrometheusStorageNearRetentionSize": _storage(s, settings.retention.metrics_size,
                                                       t.disk_ratio),
        **_pipeline(s, t),
        **(_kubernetes(s) if settings.platform is Platform.KUBERNETES else {}),
        **({"PrometheusReplicaDown": _prometheus_replica_down(s)}
           if replicas.watches_prometheus_replicas(settings) else {}),
        **({"AlertmanagerClusterMemberMissing": _alertmanager_member_missing(
            s, settings.kubernetes.alertmanager_replicas)}
           if replicas.watches_alertmanager_peers(settings) else {}),
        # Always firing, by design: its silence is caught by the heartbeat service, not here.
        watchdog.WATCHDOG: (Case("fires from the start, on no series at all", {},
                                 (Fired(watchdog.SEVERITY, {"env": s.env}, ""),),
                                 eval_minutes=0),),
    }

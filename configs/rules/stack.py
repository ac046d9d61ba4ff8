"""Alerts on the observability stack itself: targets down, Loki and Tempo down (Tempo also not
ready), Prometheus config reloads failing, Tempo's span metrics not reaching Prometheus (either
end of the remote write, or a generator that produces nothing), Tempo dropping spans, and the
TSDB nearing its size budget.

Metric names were read at the pinned releases: each source is named next to its rule.
"""

from configs.promql import eq, selector
from configs.rules.helpers import ENV, Value, alert, group, job_down, label, rule_file
from settings import Service, Settings, Severity

JOB = label("job")
INSTANCE = label("instance")

def _tsdb_bytes(prometheus: str) -> str:
    """Disk that size retention counts: blocks plus the head's WAL and chunks.

    prometheus@v3.14.0 tsdb/db.go `BeyondSizeRetention` adds `Head().Size()` (WAL and mmapped
    chunks) to the blocks; metric names from tsdb/db.go, tsdb/wlog/wlog.go and tsdb/head.go.
    """
    parts = ("prometheus_tsdb_storage_blocks_bytes", "prometheus_tsdb_wal_storage_size_bytes",
             "prometheus_tsdb_head_chunks_storage_size_bytes")
    return " + ".join(selector(metric, eq("job", prometheus)) for metric in parts)


def _rate_above_zero(metric: str, by: str, *matchers: str) -> str:
    return f"sum by ({by}) (rate({selector(metric, *matchers)}[5m])) > 0"


def document(settings: Settings) -> dict[str, object]:
    env = settings.environment
    prometheus, loki, tempo = (s.job for s in (Service.PROMETHEUS, Service.LOKI,
                                                      Service.TEMPO))
    # These jobs have alerts of their own (GrafanaDown in pipeline.py); TargetDown leaves them
    # out so nothing pages twice.
    own_alerts = (settings.backend.job, Service.REDIS_EXPORTER.job, loki, tempo,
                  Service.GRAFANA.job)
    budget = settings.retention.metrics_size.bytes
    disk_ratio = settings.alerting.thresholds.disk_ratio
    # Tempo's metrics generator remote-writes through Prometheus' own queue manager,
    # registered unprefixed on Tempo's /metrics (tempo@v3.0.3
    # modules/generator/storage/instance.go; prometheus@v3.11.3, the version Tempo vendors,
    # storage/remote/queue_manager.go). Failed is non-recoverable (4xx), retried is
    # recoverable (5xx, connection refused): both mean span metrics missing or late.
    remote_write_failing = (
        "sum by (env, job, instance, url) ("
        + " + ".join(f"rate({selector(metric, eq('job', tempo))}[5m])" for metric in (
            "prometheus_remote_storage_samples_failed_total",
            "prometheus_remote_storage_samples_retried_total"))
        + ") > 0")
    # Spans arrive (tempo@v3.0.3 modules/distributor/distributor.go) but no span metric
    # reaches Prometheus: processors not enabled, no remote_write, or writes dropped. Span
    # metrics carry `env` as the generator's external label, hence `on (env)`.
    generator_idle = (
        _rate_above_zero("tempo_distributor_spans_received_total", "env, job", eq("job", tempo))
        + " unless on (env) "
        + _rate_above_zero("traces_spanmetrics_calls_total", "env"))
    return rule_file(group("stack", [
        alert("TargetDown", f'up{{job!~"{"|".join(own_alerts)}"}} == 0',
              severity=Severity.WARNING, for_minutes=5,
              summary=f"{JOB} target {INSTANCE} down in {ENV} (up {Value.NUMBER})",
              description=f"Prometheus has failed to scrape {JOB} at {INSTANCE} in {ENV} for "
                          f"5 minutes (up = {Value.NUMBER})."),
        # A failed scrape means the process is gone: /metrics answers even while /ready does not.
        *(alert(name, job_down(job, env), severity=Severity.WARNING, for_minutes=5,
                summary=f"{name.removesuffix('Down')} unreachable in {ENV}: "
                        f"{Value.NUMBER} targets up",
                description=f"Prometheus has not scraped {job} in {ENV} for 5 minutes "
                            f"({Value.NUMBER} targets up): {what} are not being stored.")
          for name, job, what in (("LokiDown", loki, "logs"), ("TempoDown", tempo, "traces"))),
        # Loki has no readiness metric (its /ready stays the container healthcheck's); Tempo's
        # single binary runs the live store, whose gauge is 0 until it has caught up and while
        # it stops (tempo@v3.0.3 modules/livestore/live_store.go, cmd/tempo/app/modules.go).
        alert("TempoNotReady", f"{selector('tempo_live_store_ready', eq('job', tempo))} == 0",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Tempo not ready in {ENV} (live store ready {Value.NUMBER})",
              description=f"Tempo {INSTANCE} in {ENV} has not been ready to serve trace queries "
                          f"for 10 minutes (tempo_live_store_ready = {Value.NUMBER})."),
        alert("PrometheusConfigReloadFailing",
              f"{selector('prometheus_config_last_reload_successful', eq('job', prometheus))}"
              " == 0",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Prometheus config reload failing in {ENV} (last reload ok: "
                      f"{Value.NUMBER})",
              description=f"Prometheus {INSTANCE} in {ENV} could not load its configuration "
                          f"(prometheus_config_last_reload_successful = {Value.NUMBER}); it "
                          "runs the previous one and will not start again as it is."),
        alert("TempoRemoteWriteFailing", remote_write_failing,
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Tempo cannot remote-write span metrics in {ENV}: {Value.NUMBER} "
                      "samples/s failing",
              description=f"Tempo's metrics generator in {ENV} has failed to send "
                          f"{Value.NUMBER} samples/s to {label('url')} for 10 minutes: span "
                          "metrics and the service graph stop updating."),
        # The receiving end: remote writes land on handler /api/v1/write of
        # prometheus_http_requests_total (prometheus@v3.14.0 web/web.go, web/api/v1/api.go);
        # a 404 there means --web.enable-remote-write-receiver is missing.
        alert("PrometheusRemoteWriteRejected",
              _rate_above_zero("prometheus_http_requests_total", "env, job, instance, code",
                               eq("job", prometheus), eq("handler", "/api/v1/write"),
                               'code!~"2.."'),
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Prometheus rejects {Value.NUMBER} remote writes/s in {ENV}",
              description=f"Prometheus {INSTANCE} in {ENV} has answered {Value.NUMBER} remote "
                          f"writes/s with HTTP {label('code')} for 10 minutes: Tempo's span "
                          "metrics are being lost."),
        # tempo@v3.0.3 modules/overrides/discarded_spans.go: reasons rate_limited,
        # trace_too_large, live_traces_exceeded, invalid_trace_id, ...
        alert("TempoDiscardingSpans",
              _rate_above_zero("tempo_discarded_spans_total", "env, job, instance, reason",
                               eq("job", tempo)),
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Tempo discards {Value.NUMBER} spans/s in {ENV}",
              description=f"Tempo in {ENV} has discarded {Value.NUMBER} spans/s for 10 minutes "
                          f"(reason {label('reason')}): those traces are incomplete."),
        # tempo@v3.0.3 modules/distributor/receiver/metrics_provider.go (no `_total` suffix).
        alert("TempoReceiverRefusingSpans",
              _rate_above_zero("tempo_receiver_refused_spans", "env, job, instance, receiver",
                               eq("job", tempo)),
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Tempo's {label('receiver')} receiver refuses {Value.NUMBER} spans/s "
                      f"in {ENV}",
              description=f"Tempo's {label('receiver')} receiver in {ENV} has refused "
                          f"{Value.NUMBER} spans/s for 10 minutes: senders get errors."),
        alert("TempoMetricsGeneratorIdle", generator_idle,
              severity=Severity.WARNING, for_minutes=15,
              summary=f"Tempo receives {Value.NUMBER} spans/s in {ENV} but no span metrics "
                      "arrive",
              description=f"Tempo in {ENV} has received {Value.NUMBER} spans/s for 15 minutes "
                          "while Prometheus got no traces_spanmetrics_calls_total samples: the "
                          "span-metrics dashboards and exemplar links are empty."),
        alert("PrometheusStorageNearRetentionSize",
              f"({_tsdb_bytes(prometheus)}) / {budget} > {disk_ratio}",
              severity=Severity.WARNING, for_minutes=15,
              summary=f"Prometheus TSDB at {Value.PERCENT} of its size budget in {ENV}",
              description=f"Prometheus {INSTANCE} in {ENV} uses {Value.PERCENT} of the "
                          f"{settings.retention.metrics_size} retention size (threshold "
                          f"{disk_ratio:.0%}): past it Prometheus deletes the oldest blocks, "
                          "keeping less than the retention time."),
    ]))

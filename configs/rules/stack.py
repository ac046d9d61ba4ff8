"""Alerts on the observability stack itself: targets down, Loki and Tempo down (Tempo also not
ready), Prometheus config reloads failing, Tempo's span metrics not reaching Prometheus (either
end of the remote write, or a generator that produces nothing), Tempo dropping spans, and the
TSDB nearing its size budget.

Metric names were read at the pinned releases: each source is named next to its rule.
"""

from configs.dashboards import loki as loki_dashboard
from configs.dashboards import prometheus as prometheus_dashboard
from configs.dashboards import tempo as tempo_dashboard
from configs.promql import eq, selector
from configs.rules.helpers import (
    ENV,
    Panel,
    PromQL,
    Runbook,
    Value,
    Verify,
    alert,
    container_log,
    container_state,
    group,
    job_down,
    label,
    rule_file,
)
from configs.rules.replicas import watches_prometheus_replicas
from services import Service
from settings import Settings, Severity

JOB = label("job")
INSTANCE = label("instance")
# Span metrics name nothing of the stack's own; traces_spanmetrics_calls_total is their backbone.
SPAN_CALLS = "traces_spanmetrics_calls_total"

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
    # Docker names are the stack's (services.container_name).
    stack = settings.stack
    prometheus, loki, tempo = (s.job for s in (Service.PROMETHEUS, Service.LOKI,
                                                      Service.TEMPO))
    # These jobs have alerts of their own (GrafanaDown in pipeline.py); TargetDown leaves them
    # out so nothing pages twice.
    own_alerts = (settings.backend.job, Service.REDIS_EXPORTER.job, loki, tempo,
                  Service.GRAFANA.job,
                  # PrometheusReplicaDown, where Prometheus runs as an HA pair.
                  *((prometheus,) if watches_prometheus_replicas(settings) else ()))
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
        + _rate_above_zero(SPAN_CALLS, "env"))
    on_tempo = eq("job", tempo)
    span_metrics_lost = (
        "Tempo's span metrics stop reaching Prometheus: the Tempo tracing dashboard's "
        "request, error and latency panels and its service graph go flat, and exemplar links "
        "from latency panels find nothing new. Traces themselves are still stored and "
        "searchable. GatewayZ's users see nothing.")
    loki_tempo_down = {
        "LokiDown": (loki, Service.LOKI, loki_dashboard.TITLE, "Loki up",
                     "The backend's log pushes fail (it may buffer, retry or drop them): new "
                     "log lines are lost for as long as it lasts, and the log panels and "
                     "Explore show nothing new. GatewayZ's users see nothing."),
        "TempoDown": (tempo, Service.TEMPO, tempo_dashboard.TITLE, "Tempo up",
                      "The backend's OTLP exports fail: traces are lost for as long as it "
                      "lasts, span metrics stop, and trace links from logs and exemplars "
                      "open nothing new. GatewayZ's users see nothing."),
    }

    def down_runbook(name: str) -> Runbook:
        job, service, dashboard, panel, impact = loki_tempo_down[name]
        return Runbook(
            meaning=f"Prometheus has not scraped {service.value.title()} ({job}) for 5 "
                    "minutes: the process is gone, or not answering on its HTTP port.",
            impact=impact,
            causes=(f"The container was killed for memory (its limit is "
                    f"{settings.memory_mb[service]} MiB) and is restarting.",
                    "It refuses to start after a config change: its log names the key.",
                    "The data volume is full, or its files are not writable."),
            checks=(
                PromQL("The scrape target:", f'up{{job="{job}"}}'),
                container_state(stack, service),
                container_log(stack, service),
                Verify("Its readiness from outside:", (f"{job} ready",)),
                Panel("Since when:", dashboard, panel),
            ),
            actions=(f"If it was killed for memory, raise `{service.value}MemoryMb` and "
                     "`make up`.",
                     "If it will not start, the log's last lines name the reason; a config "
                     "the stack wrote is checked by `make validate STACK=<stack>`.",
                     "`make up STACK=<stack>` recreates a container that is gone."),
            resolves="Five minutes after the scrapes succeed again it resolves by itself.")

    return rule_file(group("stack", [
        alert("TargetDown", f'up{{job!~"{"|".join(own_alerts)}"}} == 0',
              severity=Severity.WARNING, for_minutes=5,
              summary=f"{JOB} target {INSTANCE} down in {ENV} (up {Value.NUMBER})",
              description=f"Prometheus has failed to scrape {JOB} at {INSTANCE} in {ENV} for "
                          f"5 minutes (up = {Value.NUMBER}).",
              runbook=Runbook(
                  meaning="A scrape target without an alert of its own (Prometheus, "
                          "Alertmanager, or an `extraTargets` job) has failed its scrapes for "
                          "5 minutes. The alert's `job` and `instance` say which.",
                  impact="Depends on the job: Prometheus or Alertmanager down means alerts may "
                         "not reach anyone; an extra target down means its metrics are "
                         "missing. GatewayZ's users see nothing from this alone.",
                  causes=("The target's process is down or restarting.",
                          "Its address or credentials changed (a moved `extraTargets` URL).",
                          "Network between the Docker host and the target."),
                  checks=(
                      PromQL("Every target that is down now:", "up == 0"),
                      Verify("Each job as Prometheus reports it, with the address tried:",
                             ("prometheus target <job>",)),
                      Panel("Which job, since when:", prometheus_dashboard.TITLE,
                            "Targets up by job"),
                  ),
                  actions=("Prometheus' Status → Target health page shows the last error of the "
                           "target: fix the target, or its `extraTargets` entry.",
                           "If the job is prometheus or alertmanager, check its container "
                           "(`docker ps -a`) and `make up` to recreate it."),
                  resolves="Five minutes after the target answers again it resolves by "
                           "itself; a removed target's alert goes away with it.")),
        # A failed scrape means the process is gone: /metrics answers even while /ready does not.
        *(alert(name, job_down(job, env), severity=Severity.WARNING, for_minutes=5,
                summary=f"{name.removesuffix('Down')} unreachable in {ENV}: "
                        f"{Value.NUMBER} targets up",
                description=f"Prometheus has not scraped {job} in {ENV} for 5 minutes "
                            f"({Value.NUMBER} targets up): {what} are not being stored.",
                runbook=down_runbook(name))
          for name, job, what in (("LokiDown", loki, "logs"), ("TempoDown", tempo, "traces"))),
        # Loki has no readiness metric (its /ready stays the container healthcheck's); Tempo's
        # single binary runs the live store, whose gauge is 0 until it has caught up and while
        # it stops (tempo@v3.0.3 modules/livestore/live_store.go, cmd/tempo/app/modules.go).
        alert("TempoNotReady", f"{selector('tempo_live_store_ready', eq('job', tempo))} == 0",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Tempo not ready in {ENV} (live store ready {Value.NUMBER})",
              description=f"Tempo {INSTANCE} in {ENV} has not been ready to serve trace queries "
                          f"for 10 minutes (tempo_live_store_ready = {Value.NUMBER}).",
              runbook=Runbook(
                  meaning="Tempo runs and is scraped, but its live store has not been ready "
                          "for 10 minutes: it is still replaying its write-ahead log after a "
                          "restart, or stuck doing so.",
                  impact="Trace search and trace links find no recent traces; ingest may "
                         "continue. GatewayZ's users see nothing.",
                  causes=("A restart with a large WAL to replay (slow, not broken).",
                          "A corrupt WAL block it cannot replay (its log says so).",
                          "Too little memory to finish the replay."),
                  checks=(
                      PromQL("Readiness and whether spans still arrive:",
                             f"{selector('tempo_live_store_ready', on_tempo)} or sum("
                             f"rate({selector('tempo_distributor_spans_received_total', on_tempo)}"
                             "[5m]))"),
                      container_log(stack, Service.TEMPO),
                      Verify("Its /ready from outside:", ("tempo ready",)),
                      Panel("Whether ingest continues:", tempo_dashboard.TITLE,
                            "Spans received"),
                  ),
                  actions=("If the log shows replay progress, wait: it gets ready by itself.",
                           "If it is stuck on one block, the log names it; moving that block "
                           "out of the data volume loses those traces but lets Tempo start."),
                  resolves="When the live store reports ready it resolves at the next "
                           "evaluation.")),
        alert("PrometheusConfigReloadFailing",
              f"{selector('prometheus_config_last_reload_successful', eq('job', prometheus))}"
              " == 0",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Prometheus config reload failing in {ENV} (last reload ok: "
                      f"{Value.NUMBER})",
              description=f"Prometheus {INSTANCE} in {ENV} could not load its configuration "
                          f"(prometheus_config_last_reload_successful = {Value.NUMBER}); it "
                          "runs the previous one and will not start again as it is.",
              runbook=Runbook(
                  meaning="Prometheus was asked to reload its configuration and refused the "
                          "new one. It keeps running the previous configuration, but a "
                          "restart would fail.",
                  impact="None now. The change that was meant to apply (a new target, new "
                         "rules) is not live, and the next restart of Prometheus fails.",
                  causes=("A config or rule file edited on the host by hand.",
                          "A file the config names (a credential file, a rule file) missing "
                          "or unreadable."),
                  checks=(
                      PromQL("Whether the last reload worked, and when it last did:",
                             " or ".join(selector(metric, eq("job", prometheus)) for metric in (
                                 "prometheus_config_last_reload_successful",
                                 "prometheus_config_last_reload_success_timestamp_seconds"))),
                      container_log(stack, Service.PROMETHEUS, "error loading config|reload"),
                      Verify("Whether the rule groups are the ones the stack renders:",
                             ("prometheus rules",)),
                  ),
                  actions=("`make validate STACK=<stack>` checks what the program writes with "
                           "promtool; `make up STACK=<stack>` writes it back over a hand edit.",
                           "Do not restart Prometheus before the config loads: it would not "
                           "come back."),
                  resolves="At the next successful reload it resolves by itself.")),
        alert("TempoRemoteWriteFailing", remote_write_failing,
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Tempo cannot remote-write span metrics in {ENV}: {Value.NUMBER} "
                      "samples/s failing",
              description=f"Tempo's metrics generator in {ENV} has failed to send "
                          f"{Value.NUMBER} samples/s to {label('url')} for 10 minutes: span "
                          "metrics and the service graph stop updating.",
              runbook=Runbook(
                  meaning="Tempo's metrics generator has been failing or retrying its remote "
                          "writes to Prometheus for 10 minutes (Tempo's side of the link).",
                  impact=span_metrics_lost,
                  causes=("Prometheus is down or restarting (then PrometheusRemoteWriteRejected "
                          "cannot fire, it has no data).",
                          "Prometheus rejects the samples: out-of-order or too old after a "
                          "Tempo restart (HTTP 400), or the receiver not enabled (404)."),
                  checks=(
                      PromQL("Failed and retried samples per second, by destination:",
                             remote_write_failing.removesuffix(" > 0")),
                      PromQL("What Prometheus answers to the writes:",
                             "sum by (code) (rate(" + selector(
                                 "prometheus_http_requests_total", eq("job", prometheus),
                                 eq("handler", "/api/v1/write")) + "[5m]))"),
                      container_log(stack, Service.TEMPO, "remote.?write|error"),
                      Verify("Both ends of the link:",
                             ("tempo remote write", "prometheus remote write from tempo")),
                      Panel("The writes Prometheus receives:", prometheus_dashboard.TITLE,
                            "Remote writes received from Tempo"),
                  ),
                  actions=("If Prometheus is down, bring it back: Tempo retries, and recent "
                           "samples arrive late.",
                           "If Prometheus answers 4xx, its log (`docker logs`) says why; "
                           "out-of-order errors after a restart stop by themselves."),
                  resolves="Ten minutes after the writes succeed it resolves by itself.")),
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
                          "metrics are being lost.",
              runbook=Runbook(
                  meaning="Prometheus has answered Tempo's remote writes with errors for 10 "
                          "minutes (Prometheus' side of the link; the alert's `code` says "
                          "which).",
                  impact=span_metrics_lost,
                  causes=("404: the remote-write receiver is not enabled (a hand-started "
                          "Prometheus without `--web.enable-remote-write-receiver`).",
                          "400: samples out of order or too old, typically for a while after "
                          "Tempo or Prometheus restarted.",
                          "5xx: Prometheus overloaded or its disk full."),
                  checks=(
                      PromQL("Remote writes per second by answer code:",
                             "sum by (code) (rate(" + selector(
                                 "prometheus_http_requests_total", eq("job", prometheus),
                                 eq("handler", "/api/v1/write")) + "[5m]))"),
                      container_log(stack, Service.PROMETHEUS, "remote|out of order|too old"),
                      Verify("The link from both sides:",
                             ("prometheus remote write from tempo", "tempo remote write")),
                      Panel("Since when:", prometheus_dashboard.TITLE,
                            "Remote writes received from Tempo"),
                  ),
                  actions=("404: `make up STACK=<stack>` restores the flags the program sets.",
                           "400 after a restart: wait for it to stop; if it does not, "
                           "restart Tempo so its generator starts a fresh series.",
                           "5xx: see PrometheusStorageNearRetentionSize and the container's "
                           "memory."),
                  resolves="Ten minutes after the writes are accepted it resolves by itself.")),
        # tempo@v3.0.3 modules/overrides/discarded_spans.go: reasons rate_limited,
        # trace_too_large, live_traces_exceeded, invalid_trace_id, ...
        alert("TempoDiscardingSpans",
              _rate_above_zero("tempo_discarded_spans_total", "env, job, instance, reason",
                               eq("job", tempo)),
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Tempo discards {Value.NUMBER} spans/s in {ENV}",
              description=f"Tempo in {ENV} has discarded {Value.NUMBER} spans/s for 10 minutes "
                          f"(reason {label('reason')}): those traces are incomplete.",
              runbook=Runbook(
                  meaning="Tempo accepted spans and then dropped them for 10 minutes; the "
                          "alert's `reason` says why.",
                  impact="Traces of GatewayZ requests have holes or are missing, so debugging "
                         "a slow or failed request from its trace may not work. Users see "
                         "nothing.",
                  causes=("`rate_limited`: more spans per second than Tempo's ingestion "
                          "limits allow (a traffic peak, or the backend sampling everything).",
                          "`trace_too_large` or `live_traces_exceeded`: one trace with huge "
                          "numbers of spans (a loop creating spans), or too many live traces.",
                          "`invalid_trace_id`: a client sending malformed ids."),
                  checks=(
                      PromQL("Discarded spans per second by reason, against those received:",
                             "sum by (reason) (rate(" + selector(
                                 "tempo_discarded_spans_total", on_tempo) + "[5m])) or sum(rate("
                             + selector("tempo_distributor_spans_received_total", on_tempo)
                             + "[5m]))"),
                      Panel("By reason, since when:", tempo_dashboard.TITLE,
                            "Spans discarded by reason"),
                      Panel("Whether traffic rose with it:", tempo_dashboard.TITLE,
                            "Spans received"),
                  ),
                  actions=("A traffic peak: it passes; if it is the new normal, lower the "
                           "backend's trace sampling rather than raise limits on one node.",
                           "Huge traces: find the service in Recent traces and fix the code "
                           "that creates the spans."),
                  resolves="Ten minutes after discards stop it resolves by itself.")),
        # tempo@v3.0.3 modules/distributor/receiver/metrics_provider.go (no `_total` suffix).
        alert("TempoReceiverRefusingSpans",
              _rate_above_zero("tempo_receiver_refused_spans", "env, job, instance, receiver",
                               eq("job", tempo)),
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Tempo's {label('receiver')} receiver refuses {Value.NUMBER} spans/s "
                      f"in {ENV}",
              description=f"Tempo's {label('receiver')} receiver in {ENV} has refused "
                          f"{Value.NUMBER} spans/s for 10 minutes: senders get errors.",
              runbook=Runbook(
                  meaning="Tempo's OTLP receiver (the alert's `receiver`) has refused spans "
                          "for 10 minutes: the senders got errors and, after their retries, "
                          "dropped the spans.",
                  impact="Traces are missing; the backend's exporter logs errors and may "
                         "spend effort on retries. Users see nothing.",
                  causes=("Tempo's ingester behind the receiver is not ready or overloaded "
                          "(see TempoNotReady).",
                          "Memory pressure: Tempo refuses work near its memory limit."),
                  checks=(
                      PromQL("Refused against accepted spans, per receiver:",
                             "sum by (receiver) (rate(" + selector(
                                 "tempo_receiver_refused_spans", on_tempo)
                             + "[5m])) or sum by (receiver) (rate(" + selector(
                                 "tempo_receiver_accepted_spans", on_tempo) + "[5m]))"),
                      container_state(stack, Service.TEMPO),
                      container_log(stack, Service.TEMPO),
                      Panel("Whether ingest dropped with it:", tempo_dashboard.TITLE,
                            "Spans received"),
                  ),
                  actions=("If Tempo is near its memory limit, raise `tempoMemoryMb` and "
                           "`make up`; if it is not ready, see TempoNotReady.",),
                  resolves="Ten minutes after it accepts spans again it resolves by itself.")),
        alert("TempoMetricsGeneratorIdle", generator_idle,
              severity=Severity.WARNING, for_minutes=15,
              summary=f"Tempo receives {Value.NUMBER} spans/s in {ENV} but no span metrics "
                      "arrive",
              description=f"Tempo in {ENV} has received {Value.NUMBER} spans/s for 15 minutes "
                          "while Prometheus got no traces_spanmetrics_calls_total samples: the "
                          "span-metrics dashboards and exemplar links are empty.",
              runbook=Runbook(
                  meaning="Spans reach Tempo, but for 15 minutes no span metric has reached "
                          "Prometheus: the metrics generator produces nothing, or what it "
                          "produces does not arrive.",
                  impact=span_metrics_lost,
                  causes=("The generator's processors are not running (the tempo.yaml on the "
                          "host edited, or overrides without processors).",
                          "Its remote write fails (then TempoRemoteWriteFailing or "
                          "PrometheusRemoteWriteRejected fire too).",
                          "The spans carry no server spans the span-metrics processor counts."),
                  checks=(
                      PromQL("Spans into the generator, and its active processors:",
                             "sum(rate(" + selector("tempo_metrics_generator_spans_received_total",
                                                    on_tempo)
                             + "[5m])) or sum by (processor) ("
                             + selector("tempo_metrics_generator_active_processors", on_tempo)
                             + ")"),
                      PromQL("Whether any span metric arrived in the last hour:",
                             f'count(count_over_time({SPAN_CALLS}{{env="{env}"}}[1h]))'),
                      Verify("The generator and its remote write, as Tempo reports them:",
                             ("tempo metrics generator", "tempo remote write")),
                      Panel("The generator's processors:", tempo_dashboard.TITLE,
                            "Active processors"),
                  ),
                  actions=("No active processors: `make up STACK=<stack>` writes back the "
                           "configuration that enables them.",
                           "Processors active but nothing arrives: follow "
                           "TempoRemoteWriteFailing."),
                  resolves="When span metrics arrive again it resolves by itself.")),
        alert("PrometheusStorageNearRetentionSize",
              f"({_tsdb_bytes(prometheus)}) / {budget} > {disk_ratio}",
              severity=Severity.WARNING, for_minutes=15,
              summary=f"Prometheus TSDB at {Value.PERCENT} of its size budget in {ENV}",
              description=f"Prometheus {INSTANCE} in {ENV} uses {Value.PERCENT} of the "
                          f"{settings.retention.metrics_size} retention size (threshold "
                          f"{disk_ratio:.0%}): past it Prometheus deletes the oldest blocks, "
                          "keeping less than the retention time.",
              runbook=Runbook(
                  meaning=f"Prometheus' storage uses more than {disk_ratio:.0%} of "
                          f"`metricsRetentionSize` ({settings.retention.metrics_size}). At "
                          "100% it deletes its oldest data to stay under it.",
                  impact="Nothing yet. Past the budget, history shorter than "
                         f"{settings.retention.metrics_time} is kept: dashboards over long "
                         "ranges show gaps at their start.",
                  causes=("More series than before: a new label with many values (a user "
                          "id, a request path with ids in it) on the backend's metrics.",
                          "A budget sized for less traffic."),
                  checks=(
                      PromQL("Storage against the budget:",
                             f"({_tsdb_bytes(prometheus)}) / {budget}"),
                      PromQL("The metrics with the most series (a new one at the top is the "
                             "usual cause):",
                             'topk(10, count by (__name__) ({__name__=~".+", env="'
                             + env + '"}))'),
                      Panel("When the series grew:", prometheus_dashboard.TITLE, "Head series"),
                      Panel("The disk itself:", prometheus_dashboard.TITLE, "TSDB blocks size"),
                  ),
                  actions=("If a metric exploded in series, ask the backend team to drop the "
                           "label; that stops the growth.",
                           "Otherwise raise `metricsRetentionSize` (with the disk to hold it) "
                           "or shorten `metricsRetentionTime`, then `make up`."),
                  resolves="When the storage falls under the threshold (old blocks deleted, "
                           "or the budget raised) it resolves by itself.")),
    ]))

"""Alerts on the alerting pipeline and the stores, written after the upstream mixins at the
pinned releases: Prometheus not connected to Alertmanager, failing or dropping notifications,
failing rule evaluations, TSDB compactions and WAL corruptions; Alertmanager failing to notify
an integration; Loki's compactor not applying retention, and Loki answering with 5xx; Grafana
down.

Sources, each read at the tag we pin (names, windows and thresholds follow them unless a comment
says otherwise): prometheus/prometheus v3.14.0 documentation/prometheus-mixin/alerts.libsonnet;
prometheus/alertmanager v0.34.0 doc/alertmanager-mixin/alerts.libsonnet; grafana/loki v3.7.6
production/loki-mixin/alerts.libsonnet. Metric names checked in the same releases' Go sources.
"""

from configs.dashboards import loki as loki_dashboard
from configs.dashboards import prometheus as prometheus_dashboard
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
from services import Service
from settings import Receiver, Settings, Severity

INSTANCE = label("instance")


def _ratio(failed: str, total: str, by: str, window: str, *matchers: str,
           failing: tuple[str, ...] = ()) -> str:
    """Failed share of `total`; `failing` adds matchers to the numerator only."""
    return (f"sum by ({by}) (rate({selector(failed, *matchers, *failing)}[{window}]))"
            f" / sum by ({by}) (rate({selector(total, *matchers)}[{window}]))")


def document(settings: Settings) -> dict[str, object]:
    t = settings.alerting.thresholds
    prometheus, alertmanager, loki, grafana = (s.job for s in (
        Service.PROMETHEUS, Service.ALERTMANAGER, Service.LOKI, Service.GRAFANA))
    on_prometheus = eq("job", prometheus)
    stale = t.loki_retention_stale_seconds
    retention_run = selector("loki_compactor_apply_retention_last_successful_run_timestamp_seconds",
                             eq("job", loki))
    env = settings.environment
    # Docker names are the stack's (services.container_name).
    stack = settings.stack
    receivers = settings.alerting.receivers
    pager = ("the pager webhook" if receivers[Severity.CRITICAL] is Receiver.WEBHOOK
             else f"{receivers[Severity.CRITICAL]}")
    notifier_checks = (
        PromQL("Alertmanagers Prometheus knows, and its sends, failures and drops per second:",
               "sum by (alertmanager) (rate("
               + selector("prometheus_notifications_sent_total", on_prometheus)
               + "[5m])) or sum by (alertmanager) (rate("
               + selector("prometheus_notifications_errors_total", on_prometheus)
               + "[5m])) or rate("
               + selector("prometheus_notifications_dropped_total", on_prometheus) + "[5m])"),
        Verify("Prometheus' discovery and Alertmanager's readiness from outside:",
               ("prometheus alertmanager discovered", "alertmanager ready")),
        container_log(stack, Service.PROMETHEUS, "notifier|alertmanager"),
    )
    alerts_lost = ("Alerts may not reach anyone: if GatewayZ breaks now, nobody is paged. "
                   "Users see nothing from this alert itself.")
    return rule_file(group("pipeline", [
        # prometheus-mixin PrometheusNotConnectedToAlertmanagers (notifier/metric.go).
        alert("PrometheusNotConnectedToAlertmanager",
              "max by (env, job, instance) (max_over_time("
              f"{selector('prometheus_notifications_alertmanagers_discovered', on_prometheus)}"
              "[5m])) < 1",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Prometheus in {ENV} knows {Value.NUMBER} Alertmanagers",
              description=f"Prometheus {INSTANCE} in {ENV} has discovered {Value.NUMBER} "
                          "Alertmanagers for 10 minutes: no alert reaches anyone (the "
                          "Watchdog's heartbeat stops too).",
              runbook=Runbook(
                  meaning="For 10 minutes Prometheus has known no Alertmanager to send "
                          "alerts to.",
                  impact=alerts_lost + " The heartbeat stops too, so in production the dead "
                         "man's switch pages shortly (this alert itself reaches nobody).",
                  causes=("Alertmanager's container is down, so its name does not resolve "
                          "on the stack's network.",
                          "prometheus.yml's `alerting` block changed by hand on the host."),
                  checks=(
                      PromQL("What Prometheus has discovered:",
                             selector("prometheus_notifications_alertmanagers_discovered",
                                      on_prometheus)),
                      container_state(stack, Service.ALERTMANAGER),
                      *notifier_checks[1:],
                  ),
                  actions=("`make up STACK=<stack>` recreates Alertmanager and writes back "
                           "Prometheus' configuration.",),
                  resolves="Ten minutes after Prometheus discovers an Alertmanager again it "
                           "resolves, if there is an Alertmanager to tell.")),
        # prometheus-mixin PrometheusErrorSendingAlertsToSomeAlertmanagers, > 1% for 15m.
        alert("PrometheusErrorSendingAlerts",
              _ratio("prometheus_notifications_errors_total",
                     "prometheus_notifications_sent_total", "env, job, instance, alertmanager",
                     "5m", on_prometheus) + f" > {t.notification_error_ratio}",
              severity=Severity.WARNING, for_minutes=15,
              summary=f"Prometheus fails {Value.PERCENT} of alerts sent to Alertmanager in {ENV}",
              description=f"{Value.PERCENT} of the alerts Prometheus {INSTANCE} in {ENV} sent to "
                          f"{label('alertmanager')} failed over 15 minutes (threshold "
                          f"{t.notification_error_ratio:.0%}).",
              runbook=Runbook(
                  meaning=f"More than {t.notification_error_ratio:.0%} of the alerts "
                          "Prometheus sent to Alertmanager failed over 15 minutes.",
                  impact=alerts_lost,
                  causes=("Alertmanager restarting or overloaded (timeouts).",
                          "Alertmanager refuses the alerts (its log says why)."),
                  checks=(*notifier_checks,
                          container_log(stack, Service.ALERTMANAGER)),
                  actions=("If Alertmanager restarts in a loop, its log says why; `make up` "
                           "writes back its configuration.",),
                  resolves="When the failed share is under the threshold again it resolves "
                           "by itself, if Alertmanager can receive it.")),
        # Not in the mixin: alerts the notifier gave up on (queue full, or sending failed),
        # prometheus@v3.14.0 notifier/metric.go `prometheus_notifications_dropped_total`.
        alert("PrometheusDroppingAlerts",
              "sum by (env, job, instance) (increase("
              f"{selector('prometheus_notifications_dropped_total', on_prometheus)}[5m])) > 0",
              severity=Severity.WARNING, for_minutes=5,
              summary=f"Prometheus dropped {Value.NUMBER} alerts in 5m in {ENV}",
              description=f"Prometheus {INSTANCE} in {ENV} dropped {Value.NUMBER} alerts in the "
                          "last 5 minutes instead of delivering them to Alertmanager.",
              runbook=Runbook(
                  meaning="Prometheus gave up on alerts in the last 5 minutes instead of "
                          "delivering them: its notification queue was full or sending "
                          "failed for too long.",
                  impact="Some alerts never reached Alertmanager, nor anyone after it.",
                  causes=("Alertmanager unreachable long enough for the queue to fill.",
                          "A storm of alerts (many firing at once) larger than the queue."),
                  checks=(
                      PromQL("Dropped alerts, and how full the queue is:",
                             "increase(" + selector("prometheus_notifications_dropped_total",
                                                    on_prometheus)
                             + "[15m]) or " + selector("prometheus_notifications_queue_length",
                                                       on_prometheus)),
                      *notifier_checks[1:],
                  ),
                  actions=("Fix what blocks delivery (see PrometheusErrorSendingAlerts), then "
                           "read Prometheus' Alerts page: the dropped alerts are still "
                           "firing there.",),
                  resolves="Five minutes after the last drop it resolves by itself.")),
        # prometheus-mixin PrometheusRuleFailures (critical, 15m; rules/group.go).
        alert("PrometheusRuleEvaluationFailures",
              "sum by (env, job, instance, rule_group) (increase("
              f"{selector('prometheus_rule_evaluation_failures_total', on_prometheus)}[5m])) > 0",
              severity=Severity.CRITICAL, for_minutes=15,
              summary=f"Prometheus rule group {label('rule_group')} failing in {ENV} "
                      f"({Value.NUMBER} in 5m)",
              description=f"Prometheus {INSTANCE} in {ENV} failed {Value.NUMBER} evaluations of "
                          f"{label('rule_group')} in 5 minutes: its alerts and recorded series "
                          "may be missing.",
              runbook=Runbook(
                  meaning="A rule group (the alert's `rule_group`) has failed evaluations "
                          "for 15 minutes: some of its alerts or recorded series are not "
                          "computed.",
                  impact="Alerts of that group may not fire when they should: the stack "
                         "watches GatewayZ with a blind spot.",
                  causes=("A query that errors at run time: many-to-many matching after a "
                          "new label, or a result with duplicate series.",
                          "Prometheus overloaded, so queries time out."),
                  checks=(
                      PromQL("Failures per rule group:",
                             "sum by (rule_group) (increase("
                             + selector("prometheus_rule_evaluation_failures_total",
                                        on_prometheus) + "[15m]))"),
                      Verify("Each rendered group loaded, with the last error of a failing "
                             "rule:", ("prometheus rules",)),
                      Panel("Which group, since when:", prometheus_dashboard.TITLE,
                            "Rule evaluation failures"),
                  ),
                  actions=("Prometheus' Status → Rule health page names the failing rule and "
                           "its error. A matching error after a label change is fixed in "
                           "configs/rules/, tested (`make test`), and deployed (`make up`).",),
                  resolves="Fifteen minutes after the last failure it resolves by itself.")),
        # prometheus-mixin PrometheusTSDBCompactionsFailing (3h window, for 4h; tsdb/db.go).
        alert("PrometheusTSDBCompactionsFailing",
              "sum by (env, job, instance) (increase("
              f"{selector('prometheus_tsdb_compactions_failed_total', on_prometheus)}[3h])) > 0",
              severity=Severity.WARNING, for_minutes=240,
              summary=f"Prometheus TSDB compactions failing in {ENV} ({Value.NUMBER} in 3h)",
              description=f"Prometheus {INSTANCE} in {ENV} has had {Value.NUMBER} failed "
                          "compactions in 3 hours for 4 hours: the head grows, and with it "
                          "memory and restart time.",
              runbook=Runbook(
                  meaning="Prometheus has failed to compact its storage in each of the last "
                          "3-hour windows, for 4 hours.",
                  impact="Nothing yet; the head block grows, and with it memory use and "
                         "restart time, until Prometheus runs out of memory.",
                  causes=("The data volume is full or read-only.",
                          "A corrupt block it cannot read."),
                  checks=(
                      PromQL("Failed compactions, and the head's size in series:",
                             "increase(" + selector("prometheus_tsdb_compactions_failed_total",
                                                    on_prometheus)
                             + "[3h]) or "
                             + selector("prometheus_tsdb_head_series", on_prometheus)),
                      container_log(stack, Service.PROMETHEUS, "compact"),
                      Panel("The storage size:", prometheus_dashboard.TITLE, "TSDB blocks size"),
                  ),
                  actions=("Free or grow the disk if it is full; a corrupt block named in "
                           "the log can be moved out of the data volume (its samples are "
                           "lost) and Prometheus restarted.",),
                  resolves="When compactions succeed for 3 hours it resolves by itself.")),
        # The v3.14.0 mixin has no WAL alert (older ones had PrometheusTSDBWALCorruptions):
        # tsdb/head.go `prometheus_tsdb_wal_corruptions_total`; the 3h window keeps a one-off
        # corruption visible long enough to be read.
        alert("PrometheusTSDBWALCorruptions",
              "sum by (env, job, instance) (increase("
              f"{selector('prometheus_tsdb_wal_corruptions_total', on_prometheus)}[3h])) > 0",
              severity=Severity.WARNING, for_minutes=1,
              summary=f"Prometheus WAL corrupted in {ENV} ({Value.NUMBER} in 3h)",
              description=f"Prometheus {INSTANCE} in {ENV} found {Value.NUMBER} WAL "
                          "corruptions in 3 hours: samples since the last block may be lost.",
              runbook=Runbook(
                  meaning="Prometheus found its write-ahead log corrupt in the last 3 hours, "
                          "typically while replaying it at start.",
                  impact="Samples since the last block (up to 2 hours of metrics) may be "
                         "lost: dashboards show a gap.",
                  causes=("Prometheus killed mid-write: out of memory, or the host lost "
                          "power.",
                          "A full disk during a write."),
                  checks=(
                      PromQL("The corruptions counted:",
                             "increase(" + selector("prometheus_tsdb_wal_corruptions_total",
                                                    on_prometheus) + "[3h])"),
                      container_state(stack, Service.PROMETHEUS),
                      container_log(stack, Service.PROMETHEUS, "wal|corrupt"),
                  ),
                  actions=("Prometheus repairs the WAL by itself on start; if it was killed "
                           "for memory, raise `prometheusMemoryMb` so it does not happen "
                           "again.",),
                  resolves="Three hours after the corruption it resolves by itself (the "
                           "window keeps it visible long enough to be read).")),
        # alertmanager-mixin AlertmanagerFailedToSendAlerts: failed share per integration over
        # 15m (notify/metrics.go; `reason` summed away). Critical, so in production a failing
        # Slack pages through the webhook; a failing pager webhook cannot page itself (README).
        alert("AlertmanagerNotificationsFailing",
              _ratio("alertmanager_notifications_failed_total", "alertmanager_notifications_total",
                     "env, job, instance, integration", "15m", eq("job", alertmanager))
              + f" > {t.notification_error_ratio}",
              severity=Severity.CRITICAL, for_minutes=5,
              summary=f"Alertmanager fails {Value.PERCENT} of {label('integration')} "
                      f"notifications in {ENV}",
              description=f"Alertmanager {INSTANCE} in {ENV} failed to send {Value.PERCENT} of "
                          f"its notifications to {label('integration')} over 15 minutes: "
                          "check that receiver's URL.",
              runbook=Runbook(
                  meaning=f"Over 15 minutes more than {t.notification_error_ratio:.0%} of "
                          "Alertmanager's notifications to one integration (the alert's "
                          "`integration`: slack or webhook) failed.",
                  impact="Alerts routed to that integration reach nobody. Critical: in "
                         f"{env} criticals go to {pager}, so a failing Slack pages through "
                         "it; a failing pager webhook shows only where criticals also go.",
                  causes=("The integration's URL is wrong or was revoked (Slack answers 404 "
                          "`no_service`, or 403; the pager 401).",
                          "Egress from the Docker host blocked, or DNS failing.",
                          "Slack rate-limits a notification storm (429)."),
                  checks=(
                      PromQL("Failed and total notifications per integration:",
                             "sum by (integration, reason) (rate("
                             + selector("alertmanager_notifications_failed_total",
                                        eq("job", alertmanager))
                             + "[15m])) or sum by (integration) (rate("
                             + selector("alertmanager_notifications_total",
                                        eq("job", alertmanager)) + "[15m]))"),
                      container_log(stack, Service.ALERTMANAGER, "notify|error"),
                      Verify("Alertmanager's receivers as loaded:",
                             ("alertmanager config", "alertmanager receiver critical")),
                  ),
                  actions=("Slack: create a new incoming webhook, `pulumi config set --secret "
                           "alertSlackWebhookUrl`, `make up`. The pager: the same with "
                           "`alertWebhookUrl`.",
                           "Until then read the firing alerts on Alertmanager's page."),
                  resolves="When the failed share over 15 minutes is under the threshold it "
                           "resolves by itself.")),
        # loki-mixin LokiCompactorHasNotSuccessfullyRunCompaction, on the retention run's own
        # gauge (grafana/loki v3.7.6 pkg/compactor/metrics.go): too long since the last success,
        # or none at all since start. 0 until the first run, so the second branch needs `for`.
        alert("LokiRetentionNotApplied",
              f"time() - max by (env, job, instance) ({retention_run} > 0) > {stale}"
              f" or max by (env, job, instance) (max_over_time({retention_run}[{stale}s])) == 0",
              severity=Severity.WARNING, for_minutes=30,
              summary=f"Loki has not applied log retention in {ENV} for {Value.DURATION}",
              description=f"Loki's compactor in {ENV} has not applied retention for "
                          f"{Value.DURATION} (0s: not once since it started; threshold "
                          f"{stale // 3600}h): old logs are not being deleted.",
              runbook=Runbook(
                  meaning=f"Loki's compactor has not completed a retention run for "
                          f"{stale // 3600} hours (or not once since it started): logs older "
                          f"than {settings.retention.logs} are not being deleted.",
                  impact="None now; Loki's disk grows until it fills, and then Loki stops "
                         "accepting the backend's logs.",
                  causes=("The compactor fails each run (its log says why: permissions on "
                          "its working directory, a full disk).",
                          "Loki restarted recently and has not run yet (then wait)."),
                  checks=(
                      PromQL("Seconds since the last successful retention run, and the runs "
                             "by status:",
                             "time() - " + retention_run + " or sum by (status) (increase("
                             + selector("loki_compactor_apply_retention_operation_total",
                                        eq("job", loki)) + "[1h]))"),
                      container_log(stack, Service.LOKI, "compactor|retention"),
                      Verify("Retention as Loki's config reports it, and its compactor:",
                             ("loki retention", "loki compactor")),
                      Panel("The runs:", loki_dashboard.TITLE, "Retention runs by status"),
                  ),
                  actions=("Fix what the compactor's log names (usually disk space or "
                           "permissions on the data volume), then restart Loki.",),
                  resolves="At the first successful run it resolves by itself.")),
        # loki-mixin LokiRequestErrors: 5xx share per route (pkg/util/server metrics), > 10%
        # for 15m. Warning, not the mixin's critical: logs are not what pages for GatewayZ.
        alert("LokiRequestErrors",
              _ratio("loki_request_duration_seconds_count", "loki_request_duration_seconds_count",
                     "env, job, route", "5m", eq("job", loki), failing=('status_code=~"5.."',))
              + f" > {t.loki_error_ratio}",
              severity=Severity.WARNING, for_minutes=15,
              summary=f"Loki answers {Value.PERCENT} of {label('route')} with 5xx in {ENV}",
              description=f"{Value.PERCENT} of Loki's {label('route')} requests in {ENV} failed "
                          f"with 5xx over 15 minutes (threshold {t.loki_error_ratio:.0%}).",
              runbook=Runbook(
                  meaning=f"More than {t.loki_error_ratio:.0%} of Loki's requests on one "
                          "route (the alert's `route`) answered 5xx over 15 minutes.",
                  impact="On a push route the backend's logs are being lost; on a query route "
                         "Grafana's log panels and Explore fail. Users see nothing.",
                  causes=("Loki out of memory or disk.",
                          "Queries too heavy for one node (a wide time range without a "
                          "label filter).",
                          "Its storage failing (read-only volume)."),
                  checks=(
                      PromQL("5xx answers per route:",
                             "sum by (route, status_code) (rate("
                             + selector("loki_request_duration_seconds_count", eq("job", loki),
                                        'status_code=~"5.."') + "[5m]))"),
                      container_state(stack, Service.LOKI),
                      container_log(stack, Service.LOKI),
                      Panel("Latency per route:", loki_dashboard.TITLE, "Request p95 by route"),
                  ),
                  actions=("Killed for memory: raise `lokiMemoryMb` and `make up`. Disk "
                           "full: see LokiRetentionNotApplied. Heavy queries: narrow them.",),
                  resolves="When the 5xx share is under the threshold it resolves by itself.")),
        alert("GrafanaDown", job_down(grafana, settings.environment),
              severity=Severity.WARNING, for_minutes=5,
              summary=f"Grafana unreachable in {ENV}: {Value.NUMBER} targets up",
              description=f"Prometheus has not scraped {grafana} in {ENV} for 5 minutes "
                          f"({Value.NUMBER} targets up): dashboards are down.",
              runbook=Runbook(
                  meaning="Prometheus has not scraped Grafana for 5 minutes: it is down or not "
                          "answering.",
                  impact="Dashboards are unavailable to whoever is debugging; alerts still "
                         "flow (they do not pass through Grafana). Users see nothing.",
                  causes=("The container was killed for memory or is restarting.",
                          "Its data volume is full or its database locked."),
                  checks=(
                      PromQL("The scrape target:", f'up{{job="{grafana}"}}'),
                      container_state(stack, Service.GRAFANA),
                      container_log(stack, Service.GRAFANA),
                      Verify("Grafana's health endpoint:", ("grafana health",)),
                  ),
                  actions=("`make up STACK=<stack>` recreates it; if it was killed for memory "
                           "raise `grafanaMemoryMb`. Prometheus at its own port answers the "
                           "queries of this page meanwhile.",),
                  resolves="Five minutes after Grafana answers again it resolves by itself.")),
    ]))

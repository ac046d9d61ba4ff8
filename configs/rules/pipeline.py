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

from configs.promql import eq, selector
from configs.rules.helpers import ENV, Value, alert, group, job_down, label, rule_file
from settings import Service, Settings, Severity

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
                          "Watchdog's heartbeat stops too)."),
        # prometheus-mixin PrometheusErrorSendingAlertsToSomeAlertmanagers, > 1% for 15m.
        alert("PrometheusErrorSendingAlerts",
              _ratio("prometheus_notifications_errors_total",
                     "prometheus_notifications_sent_total", "env, job, instance, alertmanager",
                     "5m", on_prometheus) + f" > {t.notification_error_ratio}",
              severity=Severity.WARNING, for_minutes=15,
              summary=f"Prometheus fails {Value.PERCENT} of alerts sent to Alertmanager in {ENV}",
              description=f"{Value.PERCENT} of the alerts Prometheus {INSTANCE} in {ENV} sent to "
                          f"{label('alertmanager')} failed over 15 minutes (threshold "
                          f"{t.notification_error_ratio:.0%})."),
        # Not in the mixin: alerts the notifier gave up on (queue full, or sending failed),
        # prometheus@v3.14.0 notifier/metric.go `prometheus_notifications_dropped_total`.
        alert("PrometheusDroppingAlerts",
              "sum by (env, job, instance) (increase("
              f"{selector('prometheus_notifications_dropped_total', on_prometheus)}[5m])) > 0",
              severity=Severity.WARNING, for_minutes=5,
              summary=f"Prometheus dropped {Value.NUMBER} alerts in 5m in {ENV}",
              description=f"Prometheus {INSTANCE} in {ENV} dropped {Value.NUMBER} alerts in the "
                          "last 5 minutes instead of delivering them to Alertmanager."),
        # prometheus-mixin PrometheusRuleFailures (critical, 15m; rules/group.go).
        alert("PrometheusRuleEvaluationFailures",
              "sum by (env, job, instance, rule_group) (increase("
              f"{selector('prometheus_rule_evaluation_failures_total', on_prometheus)}[5m])) > 0",
              severity=Severity.CRITICAL, for_minutes=15,
              summary=f"Prometheus rule group {label('rule_group')} failing in {ENV} "
                      f"({Value.NUMBER} in 5m)",
              description=f"Prometheus {INSTANCE} in {ENV} failed {Value.NUMBER} evaluations of "
                          f"{label('rule_group')} in 5 minutes: its alerts and recorded series "
                          "may be missing."),
        # prometheus-mixin PrometheusTSDBCompactionsFailing (3h window, for 4h; tsdb/db.go).
        alert("PrometheusTSDBCompactionsFailing",
              "sum by (env, job, instance) (increase("
              f"{selector('prometheus_tsdb_compactions_failed_total', on_prometheus)}[3h])) > 0",
              severity=Severity.WARNING, for_minutes=240,
              summary=f"Prometheus TSDB compactions failing in {ENV} ({Value.NUMBER} in 3h)",
              description=f"Prometheus {INSTANCE} in {ENV} has had {Value.NUMBER} failed "
                          "compactions in 3 hours for 4 hours: the head grows, and with it "
                          "memory and restart time."),
        # The v3.14.0 mixin has no WAL alert (older ones had PrometheusTSDBWALCorruptions):
        # tsdb/head.go `prometheus_tsdb_wal_corruptions_total`; the 3h window keeps a one-off
        # corruption visible long enough to be read.
        alert("PrometheusTSDBWALCorruptions",
              "sum by (env, job, instance) (increase("
              f"{selector('prometheus_tsdb_wal_corruptions_total', on_prometheus)}[3h])) > 0",
              severity=Severity.WARNING, for_minutes=1,
              summary=f"Prometheus WAL corrupted in {ENV} ({Value.NUMBER} in 3h)",
              description=f"Prometheus {INSTANCE} in {ENV} found {Value.NUMBER} WAL "
                          "corruptions in 3 hours: samples since the last block may be lost."),
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
                          "check that receiver's URL."),
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
                          f"{stale // 3600}h): old logs are not being deleted."),
        # loki-mixin LokiRequestErrors: 5xx share per route (pkg/util/server metrics), > 10%
        # for 15m. Warning, not the mixin's critical: logs are not what pages for GatewayZ.
        alert("LokiRequestErrors",
              _ratio("loki_request_duration_seconds_count", "loki_request_duration_seconds_count",
                     "env, job, route", "5m", eq("job", loki), failing=('status_code=~"5.."',))
              + f" > {t.loki_error_ratio}",
              severity=Severity.WARNING, for_minutes=15,
              summary=f"Loki answers {Value.PERCENT} of {label('route')} with 5xx in {ENV}",
              description=f"{Value.PERCENT} of Loki's {label('route')} requests in {ENV} failed "
                          f"with 5xx over 15 minutes (threshold {t.loki_error_ratio:.0%})."),
        alert("GrafanaDown", job_down(grafana, settings.environment),
              severity=Severity.WARNING, for_minutes=5,
              summary=f"Grafana unreachable in {ENV}: {Value.NUMBER} targets up",
              description=f"Prometheus has not scraped {grafana} in {ENV} for 5 minutes "
                          f"({Value.NUMBER} targets up): dashboards are down."),
    ]))

"""`make verify`'s checks, service by service: each takes a `Context` and returns `Result`s."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import yaml

from configs.alertmanager_routing import receiver_for
from configs.dashboards.queries import panels
from configs.tempo import PROCESSORS
from ops.verify.context import (
    LOKI_RETENTION_RUN,
    PROXIED_HEALTH,
    REMOTE_SAMPLES_FAILED,
    REMOTE_SAMPLES_SENT,
    ROUTE_PROBE,
    SERVICE_GRAPH_METRIC,
    SPAN_METRIC,
    TEMPO_ACTIVE_PROCESSORS,
    WATCHDOG_ALERT,
    Context,
    Endpoint,
    Result,
    check,
    duration_seconds,
    excerpt,
    promql_query,
    ready,
    samples,
)
from services import Service

# --- Prometheus ----------------------------------------------------------------------------


def check_prometheus(ctx: Context) -> list[Result]:
    """Ready; each scrape job up with its env label; rule groups loaded and evaluating without
    error; Alertmanager discovered; Tempo's span metrics arriving by remote write."""
    prometheus = Endpoint(ctx, ctx.urls.prometheus)
    expected = ctx.expected
    results = [ready(prometheus, "prometheus ready", "/-/ready")]
    targets: list[dict[str, Any]] = []

    def load_targets() -> list[dict[str, Any]]:
        if not targets:
            found = prometheus.json("/api/v1/targets", params={"state": "active"})
            targets.extend(found["data"]["activeTargets"])
        return targets

    for job, env in expected.jobs.items():
        def job_up(job: str = job, env: str = env) -> tuple[bool, str]:
            mine = [t for t in load_targets() if t["labels"].get("job") == job]
            if not mine:
                return False, f"no active target (jobs scraped: " \
                              f"{', '.join(sorted({t['labels'].get('job', '') for t in targets}))})"
            down = [f"{t['scrapeUrl']} {t['health']}: {t['lastError']}" for t in mine
                    if t["health"] != "up"]
            wrong = sorted({t["labels"].get("env", "<none>") for t in mine} - {env})
            if down or wrong:
                return False, "; ".join([*down, *(f"env={w}, not {env}" for w in wrong)])
            return True, f"{len(mine)}/{len(mine)} up, env={env}"
        results.append(check(f"prometheus target {job}", job_up))

    def rules() -> tuple[bool, str]:
        groups = prometheus.json("/api/v1/rules")["data"]["groups"]
        loaded = {group["name"] for group in groups}
        missing = [name for name in expected.rule_groups if name not in loaded]
        failing = [f"{group['name']}/{rule['name']}: {rule.get('lastError') or rule['health']}"
                   for group in groups for rule in group["rules"]
                   if rule["health"] == "err" or rule.get("lastError")]
        # `unknown` is a rule not evaluated yet (the first evaluation_interval after start).
        pending = sum(rule["health"] == "unknown" for group in groups for rule in group["rules"])
        count = sum(len(group["rules"]) for group in groups)
        if missing or failing:
            return False, "; ".join([*(f"group {name} not loaded" for name in missing),
                                     *failing])
        return True, f"{len(groups)} groups, {count} rules, no evaluation errors" + (
            f" ({pending} not evaluated yet)" if pending else "")
    results.append(check("prometheus rules", rules))

    def alertmanagers() -> tuple[bool, str]:
        active = prometheus.json("/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
        urls = [manager["url"] for manager in active]
        return bool(urls), ", ".join(urls) if urls else "no active Alertmanager"
    results.append(check("prometheus alertmanager discovered", alertmanagers))

    def remote_write() -> tuple[bool, str]:
        found = promql_query(prometheus, f'count by (__name__) ({{__name__=~"{SPAN_METRIC}|'
                                    f'{SERVICE_GRAPH_METRIC}", env="{expected.environment}"}})')
        names = sorted(series["metric"]["__name__"] for series in found)
        if not names:
            return False, (f"neither {SPAN_METRIC} nor {SERVICE_GRAPH_METRIC} with "
                           f"env={expected.environment}: no span reached Tempo yet, or its "
                           "remote write fails (--synthetic sends one)")
        return True, ", ".join(f"{series['metric']['__name__']}: {series['value'][1]} series"
                               for series in sorted(found, key=lambda s: s["metric"]["__name__"]))
    results.append(check("prometheus remote write from tempo", remote_write))
    return results


# --- Alertmanager --------------------------------------------------------------------------


def check_alertmanager(ctx: Context) -> list[Result]:
    """Ready; config loaded; each severity routed to the receiver the settings name, which
    exists; the Watchdog firing where a heartbeat is set."""
    manager = Endpoint(ctx, ctx.urls.alertmanager)
    expected = ctx.expected
    results = [ready(manager, "alertmanager ready", "/-/ready")]
    config: dict[str, Any] = {}

    def load_config() -> dict[str, Any]:
        if not config:
            original = manager.json("/api/v2/status")["config"]["original"]
            config.update(yaml.safe_load(original) or {})
        return config

    def loaded() -> tuple[bool, str]:
        names = [receiver["name"] for receiver in load_config().get("receivers", [])]
        return bool(names), f"receivers {', '.join(names)}" if names else "no receivers"
    results.append(check("alertmanager config", loaded))

    for severity, receiver in expected.receivers.items():
        def routed(severity: str = severity, receiver: str = receiver) -> tuple[bool, str]:
            document = load_config()
            names = {entry["name"] for entry in document.get("receivers", [])}
            chosen = receiver_for(document["route"], {
                "alertname": ROUTE_PROBE, "severity": severity, "env": expected.environment})
            ok = chosen == receiver and receiver in names
            return ok, f"severity={severity} routes to {chosen}" + (
                "" if ok else f", expected {receiver}" + (
                    "" if receiver in names else " (no such receiver)"))
        results.append(check(f"alertmanager receiver {severity}", routed))

    if expected.heartbeat:
        def watchdog() -> tuple[bool, str]:
            alerts = manager.json("/api/v2/alerts", params={
                "filter": f'alertname="{WATCHDOG_ALERT}"', "active": "true"})
            states = [alert["status"]["state"] for alert in alerts]
            return "active" in states, f"{WATCHDOG_ALERT}: {', '.join(states) or 'not firing'}"
        results.append(check("alertmanager watchdog", watchdog))
    return results


# --- redis_exporter ------------------------------------------------------------------------


def check_redis_exporter(ctx: Context) -> list[Result]:
    """`redis_up` 1: on the exporter's /metrics when it is reachable (`--redis-exporter-url`),
    else as Prometheus scraped it."""
    if ctx.urls.redis_exporter is not None:
        exporter = Endpoint(ctx, ctx.urls.redis_exporter)

        def direct() -> tuple[bool, str]:
            values = [value for _, value in samples(exporter.ok("/metrics").text, "redis_up")]
            seen = ", ".join(f"{value:g}" for value in values) or "absent"
            return values == [1.0], f"redis_up {seen} on {exporter.base}/metrics"
        return [check("redis_exporter redis_up", direct)]
    prometheus = Endpoint(ctx, ctx.urls.prometheus)

    def scraped() -> tuple[bool, str]:
        job = Service.REDIS_EXPORTER.job
        found = promql_query(prometheus, f'redis_up{{job="{job}"}}')
        values = [series["value"][1] for series in found]
        seen = ", ".join(values) or "absent"
        return values == ["1"], f"redis_up {seen} (Prometheus query, job={job})"
    return [check("redis_exporter redis_up", scraped)]


# --- Loki ----------------------------------------------------------------------------------


def check_loki(ctx: Context) -> list[Result]:
    """Ready; the running retention is the stack's; the compactor has applied it."""
    loki = Endpoint(ctx, ctx.urls.loki)
    want = ctx.expected.logs_retention_seconds
    results = [ready(loki, "loki ready", "/ready")]

    def retention() -> tuple[bool, str]:
        running = yaml.safe_load(loki.ok("/config").text)["limits_config"]["retention_period"]
        seconds = duration_seconds(str(running))
        return seconds == want, f"limits_config.retention_period {running}" + (
            "" if seconds == want else f", expected {want // 3600}h")
    results.append(check("loki retention", retention))

    def compactor() -> tuple[bool, str]:
        runs = [value for _, value in samples(loki.ok("/metrics").text, LOKI_RETENTION_RUN)]
        if not runs or max(runs) <= 0:
            return False, f"{LOKI_RETENTION_RUN} {runs or 'absent'}: retention never applied " \
                          "(the compactor runs it every compaction_interval)"
        age = time.time() - max(runs)
        return True, f"last retention run {age / 60:.0f} min ago"
    results.append(check("loki compactor", compactor))
    return results


# --- Tempo ---------------------------------------------------------------------------------


def check_tempo(ctx: Context) -> list[Result]:
    """Ready; the running block retention is the stack's; the metrics generator runs its
    processors and its remote write succeeds."""
    tempo = Endpoint(ctx, ctx.urls.tempo)
    want = ctx.expected.traces_retention_seconds
    results = [ready(tempo, "tempo ready", "/ready")]

    def retention() -> tuple[bool, str]:
        # The stack sets it as the default override (configs/tempo.py), which wins over the
        # backend worker's own block_retention.
        running = yaml.safe_load(tempo.ok("/status/config").text)
        value = running["overrides"]["defaults"]["compaction"]["block_retention"]
        seconds = duration_seconds(str(value))
        return seconds == want, f"overrides.defaults.compaction.block_retention {value}" + (
            "" if seconds == want else f", expected {want // 3600}h")
    results.append(check("tempo retention", retention))
    metrics: list[str] = []

    def load_metrics() -> str:
        if not metrics:
            metrics.append(tempo.ok("/metrics").text)
        return metrics[0]

    def generator() -> tuple[bool, str]:
        active = sorted({labels.get("processor", "") for labels, value in
                         samples(load_metrics(), TEMPO_ACTIVE_PROCESSORS) if value > 0})
        missing = sorted(set(PROCESSORS) - set(active))
        if missing:
            return False, f"{TEMPO_ACTIVE_PROCESSORS}: active {active or 'none'}, missing " \
                          f"{', '.join(missing)} (a processor starts with the first span)"
        return True, f"processors {', '.join(active)}"
    results.append(check("tempo metrics generator", generator))

    def remote_write() -> tuple[bool, str]:
        text = load_metrics()
        sent = sum(value for _, value in samples(text, REMOTE_SAMPLES_SENT))
        failed = sum(value for _, value in samples(text, REMOTE_SAMPLES_FAILED))
        return sent > 0 and failed == 0, f"{sent:.0f} samples sent, {failed:.0f} failed"
    results.append(check("tempo remote write", remote_write))
    return results


# --- Grafana -------------------------------------------------------------------------------


def check_grafana(ctx: Context) -> list[Result]:
    """Healthy; each datasource answers through Grafana; each dashboard loads by uid and names
    only datasources this stack provisions."""
    grafana = Endpoint(ctx, ctx.urls.grafana, ctx.grafana_auth)
    known = ctx.expected.datasources

    def health() -> tuple[bool, str]:
        body = grafana.json("/api/health")
        return body.get("database") == "ok", \
            f"version {body.get('version')}, database {body.get('database')}"
    results = [check("grafana health", health)]

    for uid, kind in known.items():
        def datasource(uid: str = uid, kind: str = kind) -> tuple[bool, str]:
            if kind in PROXIED_HEALTH:
                path = f"/api/datasources/proxy/uid/{uid}{PROXIED_HEALTH[kind]}"
                grafana.ok(path)
                return True, f"{kind}: answers through Grafana's proxy ({path})"
            response = grafana.get(f"/api/datasources/uid/{uid}/health")
            try:
                body = response.json()
            except ValueError:
                body = {"message": excerpt(response.text)}
            ok = response.is_success and body.get("status") == "OK"
            # Grafana's own message, whole: it says why the datasource failed.
            message = " ".join(str(body.get("message", "")).split())
            return ok, f"{kind}: HTTP {response.status_code} {body.get('status', '')} " \
                       f"{message}".rstrip()
        results.append(check(f"grafana datasource {uid}", datasource))

    for uid in ctx.expected.dashboards:
        def dashboard(uid: str = uid) -> tuple[bool, str]:
            model = grafana.json(f"/api/dashboards/uid/{uid}")["dashboard"]
            unknown = [f"panel {panel.get('title', panel.get('id'))!r} uses {source}"
                       for panel in panels(model)
                       for source in _datasource_uids(panel) if source not in known]
            count = sum(1 for _ in panels(model))
            return not unknown, "; ".join(unknown) if unknown else \
                f"{model.get('title')!r}: {count} panels, every datasource uid known"
        results.append(check(f"grafana dashboard {uid}", dashboard))
    return results


def _datasource_uids(panel: Mapping[str, Any]) -> list[str]:
    """Datasource uids a panel and its queries name; a bare string is a legacy name."""
    found = []
    for ref in (panel.get("datasource"), *(t.get("datasource") for t in panel.get("targets", []))):
        if isinstance(ref, Mapping):
            found.append(str(ref.get("uid")))
        elif isinstance(ref, str):
            found.append(f"name {ref!r}")
    return found


# Each service's checks, run for the services the stack runs (`Settings.services`), in their
# order; a stack without a Redis runs none of redis_exporter's.
CHECKS: Final[Mapping[Service, Callable[[Context], list[Result]]]] = {
    Service.PROMETHEUS: check_prometheus,
    Service.ALERTMANAGER: check_alertmanager,
    Service.REDIS_EXPORTER: check_redis_exporter,
    Service.LOKI: check_loki,
    Service.TEMPO: check_tempo,
    Service.GRAFANA: check_grafana,
}


def check_services(ctx: Context) -> list[Result]:
    """The checks of every service the stack runs."""
    return [result for service, checks in CHECKS.items() if service in ctx.expected.services
            for result in checks(ctx)]

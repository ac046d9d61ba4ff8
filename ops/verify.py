"""`make verify`: the seed's post-deployment checklist against a deployed stack, over HTTP.

A library first: each `check_*` takes a `Context` (where each service answers, what the stack's
settings say it should show) and returns `Result(name, ok, value)` tuples; `run_checks` runs them
all. The CLI prints `PASS|FAIL <check> <value seen>` per result (or `--json`) and exits 1 on any
failure. Every request has a short timeout, and a service that does not answer fails its other
checks at once, naming the address tried, so a stack that is down is reported in seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, NamedTuple

import httpx
import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind, format_trace_id
from prometheus_client.parser import text_string_to_metric_families

from components.service import port_url
from configs.alertmanager_routing import receiver_for
from configs.dashboards import dashboards
from configs.dashboards.queries import panels
from configs.datasources import TYPES, Uid, datasources
from configs.prometheus import prometheus_config
from configs.rules import rule_files
from configs.tempo import PROCESSORS
from settings import Port, Service, Settings
from settings.stack_file import file_settings

# Short enough that a stack with nothing listening is reported in seconds, long enough for a
# loaded Prometheus to answer /api/v1/targets.
TIMEOUT_SECONDS: Final = 2.0
# How long --synthetic waits for its span and line to come back: Tempo's generator writes span
# metrics on its collection interval (15 s by default), so a few of those.
SYNTHETIC_WAIT_SECONDS: Final = 60.0
POLL_SECONDS: Final = 2.0
SYNTHETIC_SERVICE: Final = "gatewayz-verify"
# The kube-prometheus name for the always-firing alert that feeds a dead man's switch.
WATCHDOG_ALERT: Final = "Watchdog"
# Labels of a probe alert for routing: a name no rule uses, so only `severity` decides.
_ROUTE_PROBE: Final = "VerifyRoutingProbe"
# Tempo's span-metric and service-graph series (tempo@v3.0.3 modules/generator/processor/
# spanmetrics and servicegraphs), remote-written into Prometheus.
SPAN_METRIC: Final = "traces_spanmetrics_calls_total"
SERVICE_GRAPH_METRIC: Final = "traces_service_graph_request_total"
# Loki's compactor, on its /metrics (loki@v3.7.6 pkg/compactor/metrics.go).
LOKI_RETENTION_RUN: Final = "loki_compactor_apply_retention_last_successful_run_timestamp_seconds"
# Tempo's generator and its remote write, which goes through Prometheus' queue manager and is
# registered unprefixed on Tempo's /metrics (tempo@v3.0.3 modules/generator/storage/instance.go).
TEMPO_ACTIVE_PROCESSORS: Final = "tempo_metrics_generator_active_processors"
REMOTE_SAMPLES_SENT: Final = "prometheus_remote_storage_samples_total"
REMOTE_SAMPLES_FAILED: Final = "prometheus_remote_storage_samples_failed_total"
# Grafana's Alertmanager datasource has no backend (grafana@v13.2.0
# public/app/plugins/datasource/alertmanager/plugin.json sets no `backend`), so its health API
# has nothing to call; it is reached through Grafana's datasource proxy instead.
_PROXIED_HEALTH: Final[Mapping[str, str]] = {TYPES[Uid.ALERTMANAGER]: "/api/v2/status"}
# Stack outputs (__main__.py) by the Urls field they fill.
OUTPUTS: Final[Mapping[str, str]] = {
    "prometheus": "prometheusUrl", "alertmanager": "alertmanagerUrl", "loki": "lokiUrl",
    "tempo": "tempoUrl", "grafana": "grafanaUrl"}


class Result(NamedTuple):
    """One check: its name, whether it passed, and what it saw (or why it could not look)."""

    name: str
    ok: bool
    value: str


@dataclass(frozen=True)
class Urls:
    """Where this machine reaches each service. redis_exporter is not published: None means
    `redis_up` is read through Prometheus."""

    prometheus: str
    alertmanager: str
    loki: str
    tempo: str
    tempo_otlp_http: str
    grafana: str
    redis_exporter: str | None = None


@dataclass(frozen=True)
class Expected:
    """What the stack's settings say a healthy deployment shows."""

    environment: str
    # Scrape job -> its `env` label, as the rendered prometheus.yml has them.
    jobs: Mapping[str, str]
    rule_groups: tuple[str, ...]
    # Severity -> receiver name (configs/alertmanager.py).
    receivers: Mapping[str, str]
    logs_retention_seconds: int
    traces_retention_seconds: int
    # Datasource uid -> plugin type.
    datasources: Mapping[str, str]
    dashboards: tuple[str, ...]
    redis_watched: bool
    # The stack routes a Watchdog to a heartbeat (`alertHeartbeatUrl`): then it must be firing.
    heartbeat: bool = False


@dataclass(frozen=True)
class Context:
    urls: Urls
    expected: Expected
    client: httpx.Client
    grafana_auth: tuple[str, str] | None = field(default=None, repr=False)
    synthetic_wait_seconds: float = SYNTHETIC_WAIT_SECONDS


def expected_for(settings: Settings, *, heartbeat: bool = False) -> Expected:
    """Expectations from the stack's settings, through the builders that render its files."""
    config: dict[str, Any] = prometheus_config(settings, [])
    files: dict[str, dict[str, Any]] = rule_files(settings)
    return Expected(
        environment=settings.environment,
        jobs={job["job_name"]: job["static_configs"][0]["labels"]["env"]
              for job in config["scrape_configs"]},
        rule_groups=tuple(str(group["name"]) for document in files.values()
                          for group in document["groups"]),
        receivers={severity.value: receiver.value
                   for severity, receiver in settings.alerting.receivers.items()},
        logs_retention_seconds=settings.retention.logs.seconds,
        traces_retention_seconds=settings.retention.traces.seconds,
        datasources={source.uid.value: source.type for source in datasources(settings)},
        dashboards=tuple(dashboard.uid for dashboard in dashboards(settings)),
        redis_watched=settings.redis is not None,
        heartbeat=heartbeat,
    )


def published_urls(settings: Settings) -> Urls:
    """The URLs the stack publishes on its Docker host (its `*Bind` settings), as its outputs
    compute them; an unpublished port gives the in-network URL, which fails naming it."""
    return Urls(
        prometheus=port_url(settings, Port.PROMETHEUS),
        alertmanager=port_url(settings, Port.ALERTMANAGER),
        loki=port_url(settings, Port.LOKI),
        tempo=port_url(settings, Port.TEMPO_HTTP),
        tempo_otlp_http=port_url(settings, Port.TEMPO_OTLP_HTTP),
        grafana=port_url(settings, Port.GRAFANA),
    )


@contextlib.contextmanager
def open_context(urls: Urls, expected: Expected, *, grafana_auth: tuple[str, str] | None = None,
                 timeout: float = TIMEOUT_SECONDS,
                 synthetic_wait_seconds: float = SYNTHETIC_WAIT_SECONDS) -> Iterator[Context]:
    """A context with one HTTP client whose every request times out after `timeout` seconds."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        yield Context(urls, expected, client, grafana_auth, synthetic_wait_seconds)


# --- HTTP, and failures as results ---------------------------------------------------------


class CheckError(Exception):
    """What a check saw instead of what it wanted; the message names the URL."""


class _Endpoint:
    """One service's base URL. After the first request it cannot deliver (refused, timed out),
    every later request fails at once with the same message, so a down service costs one
    timeout, not one per check."""

    def __init__(self, ctx: Context, base: str, auth: tuple[str, str] | None = None) -> None:
        self.ctx, self.base, self.auth = ctx, base.rstrip("/"), auth
        self.down: str | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.base}{path}"
        if self.down is not None:
            raise CheckError(f"{url}: not sent, {self.base} did not answer ({self.down})")
        try:
            return self.ctx.client.request(method, url, auth=self.auth, **kwargs)
        except httpx.TransportError as error:
            self.down = f"{type(error).__name__}: {error or 'no answer'}"
            raise CheckError(f"{url}: {self.down}") from error

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def ok(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET that must answer 2xx."""
        response = self.get(path, **kwargs)
        if not response.is_success:
            raise CheckError(f"{response.request.url}: HTTP {response.status_code} "
                             f"{_excerpt(response.text)}")
        return response

    def json(self, path: str, **kwargs: Any) -> Any:
        response = self.ok(path, **kwargs)
        try:
            return response.json()
        except ValueError as error:
            raise CheckError(f"{response.request.url}: not JSON: {_excerpt(response.text)}") \
                from error


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[:limit]}..."


def _check(name: str, probe: Callable[[], tuple[bool, str]]) -> Result:
    """Run one probe; a failed request or an answer of the wrong shape is a FAIL, never a
    traceback."""
    try:
        ok, value = probe()
    except CheckError as error:
        return Result(name, False, str(error))
    except (AttributeError, LookupError, TypeError, ValueError, yaml.YAMLError) as error:
        return Result(name, False, f"unexpected answer: {type(error).__name__}: {error}")
    return Result(name, ok, value)


def _ready(endpoint: _Endpoint, name: str, path: str) -> Result:
    def probe() -> tuple[bool, str]:
        response = endpoint.ok(path)
        return True, f"{response.request.url}: HTTP {response.status_code} " \
                     f"{_excerpt(response.text, 60)}"
    return _check(name, probe)


_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_DURATION_SECONDS: Final[Mapping[str, float]] = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400,
    "w": 7 * 86400, "y": 365 * 86400}


def duration_seconds(text: str) -> float:
    """Seconds in a duration as Loki and Tempo print their config: Prometheus' model.Duration
    (`1w`, `30d`) or Go's time.Duration (`720h0m0s`)."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * _DURATION_SECONDS[unit] for number, unit in parts)


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Samples of one metric in Prometheus' text format (counters by their `_total` name)."""
    return [(dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]


def _promql(endpoint: _Endpoint, expr: str) -> list[dict[str, Any]]:
    body = endpoint.json("/api/v1/query", params={"query": expr})
    if body.get("status") != "success":
        raise CheckError(f"{endpoint.base}/api/v1/query {expr}: {body.get('error', body)}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


# --- Prometheus ----------------------------------------------------------------------------


def check_prometheus(ctx: Context) -> list[Result]:
    """Ready; each scrape job up with its env label; rule groups loaded and evaluating without
    error; Alertmanager discovered; Tempo's span metrics arriving by remote write."""
    prometheus = _Endpoint(ctx, ctx.urls.prometheus)
    expected = ctx.expected
    results = [_ready(prometheus, "prometheus ready", "/-/ready")]
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
        results.append(_check(f"prometheus target {job}", job_up))

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
    results.append(_check("prometheus rules", rules))

    def alertmanagers() -> tuple[bool, str]:
        active = prometheus.json("/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
        urls = [manager["url"] for manager in active]
        return bool(urls), ", ".join(urls) if urls else "no active Alertmanager"
    results.append(_check("prometheus alertmanager discovered", alertmanagers))

    def remote_write() -> tuple[bool, str]:
        found = _promql(prometheus, f'count by (__name__) ({{__name__=~"{SPAN_METRIC}|'
                                    f'{SERVICE_GRAPH_METRIC}", env="{expected.environment}"}})')
        names = sorted(series["metric"]["__name__"] for series in found)
        if not names:
            return False, (f"neither {SPAN_METRIC} nor {SERVICE_GRAPH_METRIC} with "
                           f"env={expected.environment}: no span reached Tempo yet, or its "
                           "remote write fails (--synthetic sends one)")
        return True, ", ".join(f"{series['metric']['__name__']}: {series['value'][1]} series"
                               for series in sorted(found, key=lambda s: s["metric"]["__name__"]))
    results.append(_check("prometheus remote write from tempo", remote_write))
    return results


# --- Alertmanager --------------------------------------------------------------------------


def check_alertmanager(ctx: Context) -> list[Result]:
    """Ready; config loaded; each severity routed to the receiver the settings name, which
    exists; the Watchdog firing where a heartbeat is set."""
    manager = _Endpoint(ctx, ctx.urls.alertmanager)
    expected = ctx.expected
    results = [_ready(manager, "alertmanager ready", "/-/ready")]
    config: dict[str, Any] = {}

    def load_config() -> dict[str, Any]:
        if not config:
            original = manager.json("/api/v2/status")["config"]["original"]
            config.update(yaml.safe_load(original) or {})
        return config

    def loaded() -> tuple[bool, str]:
        names = [receiver["name"] for receiver in load_config().get("receivers", [])]
        return bool(names), f"receivers {', '.join(names)}" if names else "no receivers"
    results.append(_check("alertmanager config", loaded))

    for severity, receiver in expected.receivers.items():
        def routed(severity: str = severity, receiver: str = receiver) -> tuple[bool, str]:
            document = load_config()
            names = {entry["name"] for entry in document.get("receivers", [])}
            chosen = receiver_for(document["route"], {
                "alertname": _ROUTE_PROBE, "severity": severity, "env": expected.environment})
            ok = chosen == receiver and receiver in names
            return ok, f"severity={severity} routes to {chosen}" + (
                "" if ok else f", expected {receiver}" + (
                    "" if receiver in names else " (no such receiver)"))
        results.append(_check(f"alertmanager receiver {severity}", routed))

    if expected.heartbeat:
        def watchdog() -> tuple[bool, str]:
            alerts = manager.json("/api/v2/alerts", params={
                "filter": f'alertname="{WATCHDOG_ALERT}"', "active": "true"})
            states = [alert["status"]["state"] for alert in alerts]
            return "active" in states, f"{WATCHDOG_ALERT}: {', '.join(states) or 'not firing'}"
        results.append(_check("alertmanager watchdog", watchdog))
    return results


# --- redis_exporter ------------------------------------------------------------------------


def check_redis_exporter(ctx: Context) -> list[Result]:
    """`redis_up` 1 where a Redis is watched: on the exporter's /metrics when it is reachable
    (`--redis-exporter-url`), else as Prometheus scraped it."""
    if not ctx.expected.redis_watched:
        return []
    if ctx.urls.redis_exporter is not None:
        exporter = _Endpoint(ctx, ctx.urls.redis_exporter)

        def direct() -> tuple[bool, str]:
            values = [value for _, value in _samples(exporter.ok("/metrics").text, "redis_up")]
            seen = ", ".join(f"{value:g}" for value in values) or "absent"
            return values == [1.0], f"redis_up {seen} on {exporter.base}/metrics"
        return [_check("redis_exporter redis_up", direct)]
    prometheus = _Endpoint(ctx, ctx.urls.prometheus)

    def scraped() -> tuple[bool, str]:
        job = Service.REDIS_EXPORTER.job
        found = _promql(prometheus, f'redis_up{{job="{job}"}}')
        values = [series["value"][1] for series in found]
        seen = ", ".join(values) or "absent"
        return values == ["1"], f"redis_up {seen} (Prometheus query, job={job})"
    return [_check("redis_exporter redis_up", scraped)]


# --- Loki ----------------------------------------------------------------------------------


def check_loki(ctx: Context) -> list[Result]:
    """Ready; the running retention is the stack's; the compactor has applied it."""
    loki = _Endpoint(ctx, ctx.urls.loki)
    want = ctx.expected.logs_retention_seconds
    results = [_ready(loki, "loki ready", "/ready")]

    def retention() -> tuple[bool, str]:
        running = yaml.safe_load(loki.ok("/config").text)["limits_config"]["retention_period"]
        seconds = duration_seconds(str(running))
        return seconds == want, f"limits_config.retention_period {running}" + (
            "" if seconds == want else f", expected {want // 3600}h")
    results.append(_check("loki retention", retention))

    def compactor() -> tuple[bool, str]:
        runs = [value for _, value in _samples(loki.ok("/metrics").text, LOKI_RETENTION_RUN)]
        if not runs or max(runs) <= 0:
            return False, f"{LOKI_RETENTION_RUN} {runs or 'absent'}: retention never applied " \
                          "(the compactor runs it every compaction_interval)"
        age = time.time() - max(runs)
        return True, f"last retention run {age / 60:.0f} min ago"
    results.append(_check("loki compactor", compactor))
    return results


# --- Tempo ---------------------------------------------------------------------------------


def check_tempo(ctx: Context) -> list[Result]:
    """Ready; the running block retention is the stack's; the metrics generator runs its
    processors and its remote write succeeds."""
    tempo = _Endpoint(ctx, ctx.urls.tempo)
    want = ctx.expected.traces_retention_seconds
    results = [_ready(tempo, "tempo ready", "/ready")]

    def retention() -> tuple[bool, str]:
        # The stack sets it as the default override (configs/tempo.py), which wins over the
        # backend worker's own block_retention.
        running = yaml.safe_load(tempo.ok("/status/config").text)
        value = running["overrides"]["defaults"]["compaction"]["block_retention"]
        seconds = duration_seconds(str(value))
        return seconds == want, f"overrides.defaults.compaction.block_retention {value}" + (
            "" if seconds == want else f", expected {want // 3600}h")
    results.append(_check("tempo retention", retention))
    metrics: list[str] = []

    def load_metrics() -> str:
        if not metrics:
            metrics.append(tempo.ok("/metrics").text)
        return metrics[0]

    def generator() -> tuple[bool, str]:
        active = sorted({labels.get("processor", "") for labels, value in
                         _samples(load_metrics(), TEMPO_ACTIVE_PROCESSORS) if value > 0})
        missing = sorted(set(PROCESSORS) - set(active))
        if missing:
            return False, f"{TEMPO_ACTIVE_PROCESSORS}: active {active or 'none'}, missing " \
                          f"{', '.join(missing)} (a processor starts with the first span)"
        return True, f"processors {', '.join(active)}"
    results.append(_check("tempo metrics generator", generator))

    def remote_write() -> tuple[bool, str]:
        text = load_metrics()
        sent = sum(value for _, value in _samples(text, REMOTE_SAMPLES_SENT))
        failed = sum(value for _, value in _samples(text, REMOTE_SAMPLES_FAILED))
        return sent > 0 and failed == 0, f"{sent:.0f} samples sent, {failed:.0f} failed"
    results.append(_check("tempo remote write", remote_write))
    return results


# --- Grafana -------------------------------------------------------------------------------


def check_grafana(ctx: Context) -> list[Result]:
    """Healthy; each datasource answers through Grafana; each dashboard loads by uid and names
    only datasources this stack provisions."""
    grafana = _Endpoint(ctx, ctx.urls.grafana, ctx.grafana_auth)
    known = ctx.expected.datasources

    def health() -> tuple[bool, str]:
        body = grafana.json("/api/health")
        return body.get("database") == "ok", \
            f"version {body.get('version')}, database {body.get('database')}"
    results = [_check("grafana health", health)]

    for uid, kind in known.items():
        def datasource(uid: str = uid, kind: str = kind) -> tuple[bool, str]:
            if kind in _PROXIED_HEALTH:
                path = f"/api/datasources/proxy/uid/{uid}{_PROXIED_HEALTH[kind]}"
                grafana.ok(path)
                return True, f"{kind}: answers through Grafana's proxy ({path})"
            response = grafana.get(f"/api/datasources/uid/{uid}/health")
            try:
                body = response.json()
            except ValueError:
                body = {"message": _excerpt(response.text)}
            ok = response.is_success and body.get("status") == "OK"
            return ok, f"{kind}: HTTP {response.status_code} {body.get('status', '')} " \
                       f"{_excerpt(str(body.get('message', '')))}".rstrip()
        results.append(_check(f"grafana datasource {uid}", datasource))

    for uid in ctx.expected.dashboards:
        def dashboard(uid: str = uid) -> tuple[bool, str]:
            model = grafana.json(f"/api/dashboards/uid/{uid}")["dashboard"]
            unknown = [f"panel {panel.get('title', panel.get('id'))!r} uses {source}"
                       for panel in panels(model)
                       for source in _datasource_uids(panel) if source not in known]
            count = sum(1 for _ in panels(model))
            return not unknown, "; ".join(unknown) if unknown else \
                f"{model.get('title')!r}: {count} panels, every datasource uid known"
        results.append(_check(f"grafana dashboard {uid}", dashboard))
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


# --- --synthetic ---------------------------------------------------------------------------


@contextlib.contextmanager
def _captured(logger_name: str) -> Iterator[list[str]]:
    """The OTLP exporter reports why an export failed only in its log: keep those messages for
    the result instead of letting them reach stderr."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger(logger_name)
    handler, propagate = Keep(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def push_span(otlp_http_url: str, environment: str, timeout: float) -> tuple[str | None, str]:
    """One SERVER span of service SYNTHETIC_SERVICE over OTLP/HTTP; (its trace id in hex, or
    None, and what happened)."""
    provider = TracerProvider(resource=Resource.create(
        {"service.name": SYNTHETIC_SERVICE, "deployment.environment.name": environment}))
    span = provider.get_tracer(SYNTHETIC_SERVICE).start_span("verify", kind=SpanKind.SERVER)
    span.end()
    endpoint = f"{otlp_http_url.rstrip('/')}/v1/traces"
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=timeout)
    with _captured("opentelemetry") as messages:
        outcome = exporter.export([span])  # type: ignore[list-item]  # an ended SDK span
    exporter.shutdown()  # type: ignore[no-untyped-call]  # untyped in the SDK at 1.45.2
    provider.shutdown()
    trace_id = format_trace_id(span.get_span_context().trace_id)
    if outcome is not SpanExportResult.SUCCESS:
        return None, f"{endpoint}: {_excerpt('; '.join(messages), 300) or outcome.name}"
    return trace_id, f"{endpoint}: trace {trace_id}"


def _until(deadline: float, probe: Callable[[], str | None]) -> str | None:
    """`probe()` every POLL_SECONDS until it returns something or the deadline passes."""
    while True:
        found = probe()
        if found is not None or time.monotonic() + POLL_SECONDS > deadline:
            return found
        time.sleep(POLL_SECONDS)


def check_synthetic(ctx: Context) -> list[Result]:
    """Push one span to Tempo and one log line with its trace id to Loki, then find the trace in
    Tempo, the line in Loki and the span's series in Prometheus."""
    loki, tempo = _Endpoint(ctx, ctx.urls.loki), _Endpoint(ctx, ctx.urls.tempo)
    prometheus = _Endpoint(ctx, ctx.urls.prometheus)
    env = ctx.expected.environment
    timeout = ctx.client.timeout.connect or TIMEOUT_SECONDS
    trace_id, pushed = push_span(ctx.urls.tempo_otlp_http, env, timeout)
    results = [Result("synthetic span pushed", trace_id is not None, pushed)]
    # Without a trace id (the span did not go out), the line still carries a fresh one.
    line_id = trace_id or secrets.token_hex(16)
    # The line as the backend writes it, `trace_id=<hex>` (configs/datasources.py).
    line = f"synthetic check from make verify trace_id={line_id}"

    def push_line() -> tuple[bool, str]:
        response = loki.request("POST", "/loki/api/v1/push", json={"streams": [{
            "stream": {"service_name": SYNTHETIC_SERVICE, "env": env},
            "values": [[str(time.time_ns()), line]]}]})
        # Loki answers 204; the API doc names no code, so any 2xx counts as accepted.
        return response.is_success, f"{response.request.url}: HTTP {response.status_code} " \
                                    f"{_excerpt(response.text)}".rstrip()
    results.append(pushed_line := _check("synthetic log line pushed", push_line))
    deadline = time.monotonic() + ctx.synthetic_wait_seconds

    def trace() -> tuple[bool, str]:
        if trace_id is None:
            return False, "no span was pushed"

        def found() -> str | None:
            response = tempo.get(f"/api/v2/traces/{trace_id}")
            if response.status_code != 200:
                return None
            spans = [span for batch in response.json()["trace"].get("resourceSpans", [])
                     for scope in batch.get("scopeSpans", []) for span in scope.get("spans", [])]
            return f"{len(spans)} span(s) from /api/v2/traces/{trace_id}" if spans else None
        seen = _until(deadline, found)
        return seen is not None, seen or f"{tempo.base}/api/v2/traces/{trace_id}: not found " \
                                         f"within {ctx.synthetic_wait_seconds:g}s"
    results.append(_check("synthetic trace in tempo", trace))

    def logged() -> tuple[bool, str]:
        if not pushed_line.ok:
            return False, "no line was pushed"
        query = f'{{service_name="{SYNTHETIC_SERVICE}"}} |= "trace_id={line_id}"'

        def found() -> str | None:
            body = loki.json("/loki/api/v1/query_range", params={
                "query": query, "since": "15m", "limit": "10", "direction": "backward"})
            lines = [value[1] for stream in body["data"]["result"] for value in stream["values"]]
            return f"{len(lines)} line(s) for {query}" if lines else None
        seen = _until(deadline, found)
        return seen is not None, seen or f"{loki.base}/loki/api/v1/query_range {query}: " \
                                         f"nothing within {ctx.synthetic_wait_seconds:g}s"
    results.append(_check("synthetic log line in loki", logged))

    def series() -> tuple[bool, str]:
        if trace_id is None:
            return False, "no span was pushed"
        # Span metrics name the service `service` (Tempo's intrinsic dimension).
        expr = f'{SPAN_METRIC}{{service="{SYNTHETIC_SERVICE}", env="{env}"}}'
        seen = _until(deadline, lambda: f"{len(hits)} series of {expr}"
                      if (hits := _promql(prometheus, expr)) else None)
        return seen is not None, seen or f"{prometheus.base}: no {expr} within " \
                                         f"{ctx.synthetic_wait_seconds:g}s"
    results.append(_check("synthetic span series in prometheus", series))
    return results


def run_checks(ctx: Context, *, synthetic: bool = False) -> list[Result]:
    """Every check, service by service; `synthetic` also pushes and finds a span and a line."""
    results = [*check_prometheus(ctx), *check_alertmanager(ctx), *check_redis_exporter(ctx),
               *check_loki(ctx), *check_tempo(ctx), *check_grafana(ctx)]
    if synthetic:
        results += check_synthetic(ctx)
    return results


# --- the CLI -------------------------------------------------------------------------------


def stack_outputs(stack: str) -> Mapping[str, Any] | str:
    """`pulumi stack output --json --show-secrets`, or why not. The secrets stay in memory."""
    if shutil.which("pulumi") is None:
        return "the pulumi CLI is not on PATH"
    try:
        done = subprocess.run(["pulumi", "stack", "output", "--json", "--show-secrets",
                               "--stack", stack], capture_output=True, text=True, timeout=60,
                              check=False)
    except subprocess.TimeoutExpired:
        return "pulumi stack output took over 60 s"
    if done.returncode != 0:
        return f"pulumi stack output failed: {_excerpt(done.stderr)}"
    try:
        outputs: Mapping[str, Any] = json.loads(done.stdout)
    except ValueError:
        return f"pulumi stack output is not JSON: {_excerpt(done.stdout)}"
    return outputs


def resolve_urls(base: Urls, outputs: Mapping[str, Any],
                 flags: Mapping[str, str | None]) -> Urls:
    """The stack's published bindings, overridden by its outputs, overridden by flags."""
    from_outputs = {name: str(outputs[key]) for name, key in OUTPUTS.items() if outputs.get(key)}
    given = {name: value for name, value in flags.items() if value}
    return replace(base, **{**from_outputs, **given})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=("staging", "production"))
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--synthetic", action="store_true",
                        help="push a span and a log line, then find them")
    parser.add_argument("--heartbeat", action="store_true",
                        help="the stack sets alertHeartbeatUrl: expect the Watchdog firing")
    for name in (*OUTPUTS, "tempo_otlp_http", "redis_exporter"):
        parser.add_argument(f"--{name.replace('_', '-')}-url", dest=name, metavar="URL")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS,
                        help="seconds per request (default %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = file_settings(args.stack)
    outputs = stack_outputs(args.stack)
    notes = []
    if isinstance(outputs, str):
        notes.append(f"URLs from the stack's bindings and flags: {outputs}")
        outputs = {}
    urls = resolve_urls(published_urls(settings), outputs,
                        {name: getattr(args, name)
                         for name in (*OUTPUTS, "tempo_otlp_http", "redis_exporter")})
    user = str(outputs.get("grafanaAdminUser") or settings.grafana.admin_user)
    # Never a flag: a password on the command line lands in shell history and `ps`.
    password = str(outputs.get("grafanaAdminPassword") or os.environ.get(
        "GRAFANA_ADMIN_PASSWORD", ""))
    if not password:
        notes.append("no Grafana password (pulumi stack output or GRAFANA_ADMIN_PASSWORD): "
                     "Grafana's API checks will be refused")
    expected = expected_for(settings, heartbeat=args.heartbeat)
    with open_context(urls, expected, grafana_auth=(user, password) if password else None,
                      timeout=args.timeout) as ctx:
        results = run_checks(ctx, synthetic=args.synthetic)
    failed = sum(not result.ok for result in results)
    if args.json:
        print(json.dumps({"stack": args.stack, "ok": not failed, "notes": notes,
                          "results": [result._asdict() for result in results]}, indent=2))
    else:
        for note in notes:
            print(f"# {note}")
        for result in results:
            print(f"{'PASS' if result.ok else 'FAIL'} {result.name} {result.value}")
        print(f"{args.stack}: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

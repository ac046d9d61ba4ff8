"""`make verify` (ops/verify/) against stub HTTP servers on 127.0.0.1: these are FIXTURES,
not the real services.

Loki, Tempo and Grafana answer as their HTTP API docs at the pinned releases describe (each
fixture cites its doc); Prometheus, Alertmanager and redis_exporter answer in the shape of their
real APIs (live runs against the real binaries come with the container smoke test). A healthy
stack passes every check; each kind of breakage fails the check meant to catch it; with nothing
listening the CLI says so in one line per address and one hint, fast and without a traceback.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from configs.alertmanager import alertmanager_config
from configs.loki import loki_config
from configs.mixins import dashboards, rule_files
from configs.tempo import PROCESSORS, tempo_config
from ops.verify import (
    ENDPOINTS,
    LOKI_RETENTION_RUN,
    OUTPUTS,
    REMOTE_SAMPLES_FAILED,
    REMOTE_SAMPLES_SENT,
    SPAN_METRIC,
    TEMPO_ACTIVE_PROCESSORS,
    TIMEOUT_SECONDS,
    URL_NAMES,
    Context,
    Result,
    Urls,
    cli,
    duration_seconds,
    expected_for,
    open_context,
    published_urls,
    resolve_urls,
    run_checks,
)
from ops.verify.context import excerpt
from review.mock_runtime import stack_settings
from services import Published, Service
from settings import Duration, Settings
from settings.stack_file import ROOT

HOST: Final = "127.0.0.1"
# Largest units first, as Loki's and Tempo's config endpoints may print a duration
# (prometheus/common model.Duration before it printed weeks only when exact): not the form the
# stack wrote, so the checks must compare values, not text.
_PRINTED_UNITS: Final = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def printed(duration: Duration) -> str:
    text, left = "", duration.seconds
    for unit, size in _PRINTED_UNITS:
        if left >= size:
            text, left = f"{text}{left // size}{unit}", left % size
    return text or "0s"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    # Lower-cased names.
    headers: Mapping[str, str]
    body: bytes


# Status, content type, body.
Reply = tuple[int, str, str]
Route = Reply | Callable[[Request], Reply]


@dataclass
class Stub:
    """One fixture service: routes by (method, path); a path ending in `*` matches a prefix."""

    routes: dict[tuple[str, str], Route]
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def reply(self, request: Request) -> Reply:
        self.requests.append(request)
        for (method, path), route in self.routes.items():
            if method == request.method and (
                    path == request.path or (path.endswith("*")
                    and request.path.startswith(path[:-1]))):
                return route(request) if callable(route) else route
        return 404, "text/plain", "404 page not found"


@pytest.fixture
def serve() -> Iterator[Callable[[dict[tuple[str, str], Route]], Stub]]:
    """Start stub servers on loopback; all are shut down after the test."""
    servers: list[ThreadingHTTPServer] = []

    def start(routes: dict[tuple[str, str], Route]) -> Stub:
        stub = Stub(routes)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests assert on the results."""

            def answer(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", 0))
                status, kind, body = stub.reply(Request(
                    self.command, split.path, parse_qs(split.query),
                    {key.lower(): value for key, value in self.headers.items()},
                    self.rfile.read(length)))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = answer  # noqa: N815 - BaseHTTPRequestHandler's method names

        server = ThreadingHTTPServer((HOST, 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        stub.url = f"http://{HOST}:{server.server_address[1]}"
        return stub

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _json(body: object, status: int = 200) -> Reply:
    return status, "application/json", json.dumps(body)


def _text(body: str, status: int = 200) -> Reply:
    return status, "text/plain; version=0.0.4", body


def _yaml(document: object) -> Reply:
    return 200, "text/plain; charset=utf-8", yaml.safe_dump(document, sort_keys=False)


def _metrics(*lines: str) -> Reply:
    """Prometheus' text exposition format, as every service's /metrics serves it."""
    return _text("\n".join(lines) + "\n")


# --- Prometheus, Alertmanager, redis_exporter: shaped like their real APIs -----------------


def _query(values: Mapping[str, list[tuple[dict[str, str], str]]]) -> Callable[[Request], Reply]:
    """/api/v1/query answering each expression by the first key it contains."""
    def answer(request: Request) -> Reply:
        expr = request.query["query"][0]
        found = next((series for key, series in values.items() if key in expr), [])
        return _json({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": labels, "value": [time.time(), value]} for labels, value in found]}})
    return answer


def prometheus_routes(settings: Settings) -> dict[tuple[str, str], Route]:
    expected = expected_for(settings)
    targets = [{
        "discoveredLabels": {"__address__": f"{job}:80", "job": job},
        "labels": {"env": env, "instance": f"{job}:80", "job": job},
        "scrapePool": job, "scrapeUrl": f"http://{job}:80/metrics", "globalUrl": "",
        "lastError": "", "lastScrape": "2026-01-01T00:00:00Z", "lastScrapeDuration": 0.01,
        "health": "up", "scrapeInterval": "15s", "scrapeTimeout": "10s"}
        for job, env in expected.jobs.items()]
    groups = [{"name": group["name"], "file": f"/etc/prometheus/rules/{file}", "interval": 30,
               "limit": 0, "evaluationTime": 0.001, "lastEvaluation": "2026-01-01T00:00:00Z",
               "rules": [{"name": rule.get("alert", rule.get("record")), "query": rule["expr"],
                          "health": "ok", "lastError": "",
                          "type": "alerting" if "alert" in rule else "recording"}
                         for rule in group["rules"]]}
              for file, document in rule_files(settings).items()
              for group in document["groups"]]  # type: ignore[attr-defined]
    env = settings.environment
    return {
        ("GET", "/-/ready"): _text("Prometheus Server is Ready.\n"),
        ("GET", "/api/v1/targets"): _json({"status": "success", "data": {
            "activeTargets": targets, "droppedTargets": [], "droppedTargetCounts": {}}}),
        ("GET", "/api/v1/rules"): _json({"status": "success", "data": {"groups": groups}}),
        ("GET", "/api/v1/alertmanagers"): _json({"status": "success", "data": {
            "activeAlertmanagers": [{"url": "http://alertmanager:9093/api/v2/alerts"}],
            "droppedAlertmanagers": []}}),
        ("GET", "/api/v1/query"): _query({
            "traces_": [({"__name__": SPAN_METRIC}, "12")],
            "redis_up": [({"__name__": "redis_up", "env": env, "job": "redis_exporter"}, "1")],
        }),
    }


def alertmanager_routes(settings: Settings) -> dict[tuple[str, str], Route]:
    original = yaml.safe_dump(alertmanager_config(settings.alerting), sort_keys=False)
    return {
        ("GET", "/-/ready"): _text("OK"),
        ("GET", "/api/v2/status"): _json({
            "cluster": {"status": "disabled", "peers": []},
            "config": {"original": original},
            "uptime": "2026-01-01T00:00:00.000Z",
            "versionInfo": {"version": "0.34.0"}}),
        ("GET", "/api/v2/alerts"): _json([{
            "labels": {"alertname": "Watchdog", "severity": "none", "env": settings.environment},
            "annotations": {}, "fingerprint": "0a1b2c3d4e5f6a7b",
            "startsAt": "2026-01-01T00:00:00.000Z", "endsAt": "2026-01-01T00:05:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z", "generatorURL": "",
            "receivers": [{"name": "heartbeat"}],
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": [],
                       "mutedBy": []}}]),
    }


# --- Loki: docs/sources/reference/loki-http-api.md in grafana/loki at v3.7.6 --------------


def loki_routes(settings: Settings) -> dict[tuple[str, str], Route]:
    config = loki_config(settings.retention.logs)
    config["limits_config"] = {**config["limits_config"],  # type: ignore[dict-item]
                               "retention_period": printed(settings.retention.logs)}
    return {
        # "Readiness probe: `/ready` returns HTTP 200 when the Loki instance is ready".
        ("GET", "/ready"): _text("ready\n"),
        # "Show current configuration: `/config` exposes the current configuration" (YAML).
        ("GET", "/config"): _yaml(config),
        # "Prometheus metrics: `/metrics` returns exposed Prometheus metrics".
        ("GET", "/metrics"): _metrics(
            f"# HELP {LOKI_RETENTION_RUN} Unix timestamp of the last successful retention run",
            f"# TYPE {LOKI_RETENTION_RUN} gauge",
            f"{LOKI_RETENTION_RUN} {time.time() - 600:.3f}"),
    }


def loki_push_and_query() -> dict[tuple[str, str], Route]:
    """Ingest logs, then Query logs within a range of time (its `streams` example)."""
    pushed: list[str] = []

    def push(request: Request) -> Reply:
        body = json.loads(request.body)
        pushed.extend(value[1] for stream in body["streams"] for value in stream["values"])
        return 204, "text/plain", ""

    def query_range(request: Request) -> Reply:
        wanted = request.query["query"][0].split('|= "')[1].rstrip('"')
        lines = [line for line in pushed if wanted in line]
        return _json({"status": "success", "data": {"resultType": "streams", "result": [{
            "stream": {"service_name": "gatewayz-verify"},
            "values": [[str(time.time_ns()), line] for line in lines]}] if lines else [],
            "stats": {}}})

    return {("POST", "/loki/api/v1/push"): push, ("GET", "/loki/api/v1/query_range"): query_range}


# --- Tempo: docs/sources/tempo/api_docs/_index.md in grafana/tempo at v3.0.3 --------------


def tempo_routes(settings: Settings) -> dict[tuple[str, str], Route]:
    # "/status/config: Displays the configuration currently applied to Tempo (in YAML
    # format), including default values"; it leaves out the per-tenant override file, not the
    # `overrides.defaults` block of the config itself.
    config = tempo_config(settings.environment, settings.retention.traces)
    config["overrides"] = {"defaults": {
        "metrics_generator": {"processors": list(PROCESSORS)},
        "compaction": {"block_retention": printed(settings.retention.traces)}}}
    return {
        # "Readiness probe: Returns status code 200 when Tempo is ready to serve traffic."
        ("GET", "/ready"): _text("ready"),
        ("GET", "/status/config"): _yaml(config),
        # "Metrics: Returns the metrics ... in the Prometheus exposition format."
        ("GET", "/metrics"): _metrics(
            f"# TYPE {TEMPO_ACTIVE_PROCESSORS} gauge",
            *(f'{TEMPO_ACTIVE_PROCESSORS}{{processor="{name}",tenant="single-tenant"}} 1'
              for name in PROCESSORS),
            f"# TYPE {REMOTE_SAMPLES_SENT.removesuffix('_total')} counter",
            f'{REMOTE_SAMPLES_SENT}{{remote_name="prometheus-0",url="http://prometheus:9090/'
            'api/v1/write"} 4096',
            f"# TYPE {REMOTE_SAMPLES_FAILED.removesuffix('_total')} counter",
            f'{REMOTE_SAMPLES_FAILED}{{remote_name="prometheus-0",url="http://prometheus:9090/'
            'api/v1/write"} 0'),
    }


def tempo_trace(request: Request) -> Reply:
    """Query V2, `GET /api/v2/traces/<traceid>`: "returns Query response with a OpenTelemetry
    JSON trace"; the doc shows no body, so this is the OTLP JSON trace inside `trace`."""
    trace_id = request.path.rsplit("/", 1)[1]
    return _json({"trace": {"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "gatewayz-verify"}}]},
        "scopeSpans": [{"scope": {"name": "gatewayz-verify"}, "spans": [{
            "traceId": trace_id, "spanId": "563d623c76514f8e", "name": "verify",
            "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": str(time.time_ns()),
            "endTimeUnixNano": str(time.time_ns())}]}]}]}})


# --- Grafana: docs/sources/developers/http_api/ in grafana/grafana at v13.2.0 -------------


def grafana_routes(settings: Settings) -> dict[tuple[str, str], Route]:
    expected = expected_for(settings)
    routes: dict[tuple[str, str], Route] = {
        # other.md, "Health API": {"commit", "database": "ok", "version"}.
        ("GET", "/api/health"): _json({"commit": "087143285", "database": "ok",
                                       "version": "13.2.0"}),
    }
    for uid, kind in expected.datasources.items():
        if kind == "alertmanager":
            # data_source.md, "Data source proxy calls: GET /api/datasources/proxy/uid/:uid/*
            # proxies all calls to the actual data source": Alertmanager's own answer.
            routes["GET", f"/api/datasources/proxy/uid/{uid}/api/v2/status"] = _json(
                {"cluster": {"status": "disabled"}, "config": {"original": ""}})
        else:
            # data_source.md, "Check data source health: GET /api/datasources/uid/:uid/health".
            routes["GET", f"/api/datasources/uid/{uid}/health"] = _json(
                {"message": "Successfully queried the data source.", "status": "OK"})
    for dashboard in dashboards(settings):
        routes["GET", f"/api/dashboards/uid/{dashboard.uid}"] = _dashboard(dashboard.model)
    return routes


def _dashboard(model: Mapping[str, object]) -> Reply:
    """dashboard.md, "Get dashboard by uid": {"dashboard": <model>, "meta": {...}}, the model as
    Pulumi stored it plus the id and version Grafana adds."""
    return _json({"dashboard": {**model, "id": 7, "version": 1}, "meta": {
        "isStarred": False, "url": f"/d/{model['uid']}/x", "folderId": 2,
        "folderUid": "observability-stack", "slug": "x"}})


# --- the stack of fixtures -----------------------------------------------------------------


@dataclass
class Fixtures:
    prometheus: Stub
    alertmanager: Stub
    loki: Stub
    tempo: Stub
    grafana: Stub
    otlp: Stub

    def urls(self) -> Urls:
        return Urls(prometheus=self.prometheus.url, alertmanager=self.alertmanager.url,
                    loki=self.loki.url, tempo=self.tempo.url, tempo_otlp_http=self.otlp.url,
                    grafana=self.grafana.url)


def healthy(serve: Callable[[dict[tuple[str, str], Route]], Stub], settings: Settings
            ) -> Fixtures:
    return Fixtures(
        prometheus=serve(prometheus_routes(settings)),
        alertmanager=serve(alertmanager_routes(settings)),
        loki=serve({**loki_routes(settings), **loki_push_and_query()}),
        tempo=serve({**tempo_routes(settings), ("GET", "/api/v2/traces/*"): tempo_trace}),
        grafana=serve(grafana_routes(settings)),
        # OTLP/HTTP answers a full success with 200 and an empty ExportTraceServiceResponse.
        otlp=serve({("POST", "/v1/traces"): (200, "application/x-protobuf", "")}))


def verify(settings: Settings, urls: Urls, **options: Any) -> dict[str, Result]:
    with open_context(urls, expected_for(settings),
                      grafana_auth=("admin", "fixture-password"), **options) as ctx:
        return {result.name: result for result in run_checks(ctx)}


def failed(results: Mapping[str, Result]) -> dict[str, str]:
    return {name: result.value for name, result in results.items() if not result.ok}


@pytest.fixture(params=("staging", "production"))
def settings(request: pytest.FixtureRequest) -> Settings:
    return stack_settings(str(request.param))


@pytest.fixture
def staging() -> Settings:
    return stack_settings("staging")


# --- a healthy stack -----------------------------------------------------------------------


def test_healthy_stack_passes_every_check(serve: Callable[..., Stub],
                                          settings: Settings) -> None:
    fixtures = healthy(serve, settings)
    results = verify(settings, fixtures.urls())
    assert failed(results) == {}
    expected = expected_for(settings)
    assert {f"prometheus target {job}" for job in expected.jobs} <= results.keys()
    assert {f"grafana dashboard {uid}" for uid in expected.dashboards} <= results.keys()
    assert {f"grafana datasource {uid}" for uid in expected.datasources} <= results.keys()
    assert ("redis_exporter redis_up" in results) is (settings.redis is not None)
    assert results["loki retention"].value == \
        f"limits_config.retention_period {printed(settings.retention.logs)}"
    assert "traces_spanmetrics_calls_total" in results["prometheus remote write from tempo"].value
    # Grafana's API is called with the admin's basic auth.
    assert all(r.headers.get("authorization", "").startswith("Basic ")
               for r in fixtures.grafana.requests)


def test_receivers_follow_the_stack_settings(serve: Callable[..., Stub],
                                             staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    results = verify(staging, fixtures.urls())
    for severity, receiver in staging.alerting.receivers.items():
        assert results[f"alertmanager receiver {severity}"].value == \
            f"severity={severity} routes to {receiver}"


def test_watchdog_is_checked_only_where_a_heartbeat_is_set(serve: Callable[..., Stub],
                                                           staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    assert "alertmanager watchdog" not in verify(staging, fixtures.urls())
    with_heartbeat = stack_settings("staging", {"alertHeartbeat": "true"})
    assert verify(with_heartbeat, fixtures.urls())["alertmanager watchdog"].ok
    fixtures.alertmanager.routes["GET", "/api/v2/alerts"] = _json([])
    watchdog = verify(with_heartbeat, fixtures.urls())["alertmanager watchdog"]
    assert not watchdog.ok
    assert watchdog.value == "Watchdog: not firing"
    query = fixtures.alertmanager.requests[-1].query
    assert query["filter"] == ['alertname="Watchdog"']


# --- each breakage fails the check that should catch it ------------------------------------


def test_wrong_loki_retention_fails_loki_retention(serve: Callable[..., Stub],
                                                   staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    config = yaml.safe_load(fixtures.loki.routes["GET", "/config"][2])  # type: ignore[index]
    wrong = f"{staging.retention.logs.seconds // 3600 + 24}h"
    config["limits_config"]["retention_period"] = wrong
    fixtures.loki.routes["GET", "/config"] = _yaml(config)
    assert failed(verify(staging, fixtures.urls())) == {
        "loki retention": f"limits_config.retention_period {wrong}, "
                          f"expected {staging.retention.logs.seconds // 3600}h"}


def test_wrong_tempo_retention_fails_tempo_retention(serve: Callable[..., Stub],
                                                     staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    config = yaml.safe_load(fixtures.tempo.routes["GET", "/status/config"][2])  # type: ignore[index]
    # As Go's time.Duration prints it: the check reads either form.
    wrong = f"{staging.retention.traces.seconds // 3600 + 24}h0m0s"
    config["overrides"]["defaults"]["compaction"]["block_retention"] = wrong
    fixtures.tempo.routes["GET", "/status/config"] = _yaml(config)
    assert failed(verify(staging, fixtures.urls())) == {
        "tempo retention": f"overrides.defaults.compaction.block_retention {wrong}, "
                           f"expected {staging.retention.traces.seconds // 3600}h"}


def test_failing_datasource_health_fails_that_datasource(serve: Callable[..., Stub],
                                                         staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    # data_source.md shows only the OK body; a failed check keeps its shape with the plugin
    # SDK's error status. Either a non-2xx code or a status other than OK fails the check.
    fixtures.grafana.routes["GET", "/api/datasources/uid/grafana_loki/health"] = _json(
        {"message": "Unable to connect with Loki. Please check the server logs.",
         "status": "ERROR"}, status=400)
    assert failed(verify(staging, fixtures.urls())) == {
        "grafana datasource grafana_loki": "loki: HTTP 400 ERROR Unable to connect with Loki. "
                                           "Please check the server logs."}


def test_dashboard_with_unknown_datasource_uid_fails_that_dashboard(
        serve: Callable[..., Stub], staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    board = next(b for b in dashboards(staging) if b.uid == "gatewayz-loki")
    model = json.loads(json.dumps(board.model))
    model["panels"][0]["datasource"] = {"type": "loki", "uid": "P8E80F9AEF21F6940"}
    fixtures.grafana.routes["GET", "/api/dashboards/uid/gatewayz-loki"] = _dashboard(model)
    problems = failed(verify(staging, fixtures.urls()))
    assert list(problems) == ["grafana dashboard gatewayz-loki"]
    assert f"panel {model['panels'][0]['title']!r} uses P8E80F9AEF21F6940" in \
        problems["grafana dashboard gatewayz-loki"]


def test_missing_dashboard_fails_that_dashboard(serve: Callable[..., Stub],
                                                staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    # dashboard.md, "Get dashboard by uid": 404 Not found.
    fixtures.grafana.routes["GET", "/api/dashboards/uid/gatewayz-tempo"] = _json(
        {"message": "Dashboard not found"}, status=404)
    problems = failed(verify(staging, fixtures.urls()))
    assert list(problems) == ["grafana dashboard gatewayz-tempo"]
    assert "HTTP 404" in problems["grafana dashboard gatewayz-tempo"]


def test_down_target_fails_its_job(serve: Callable[..., Stub], staging: Settings) -> None:
    routes = prometheus_routes(staging)
    body = json.loads(routes["GET", "/api/v1/targets"][2])  # type: ignore[index]
    loki = next(t for t in body["data"]["activeTargets"] if t["labels"]["job"] == "loki")
    loki.update(health="down", lastError='Get "http://loki:80/metrics": dial tcp: connection '
                                         "refused")
    fixtures = healthy(serve, staging)
    fixtures.prometheus.routes["GET", "/api/v1/targets"] = _json(body)
    assert failed(verify(staging, fixtures.urls())) == {
        "prometheus target loki": 'http://loki:80/metrics down: Get "http://loki:80/metrics": '
                                  "dial tcp: connection refused"}


def test_target_without_env_label_fails_its_job(serve: Callable[..., Stub],
                                                staging: Settings) -> None:
    routes = prometheus_routes(staging)
    body = json.loads(routes["GET", "/api/v1/targets"][2])  # type: ignore[index]
    del body["data"]["activeTargets"][0]["labels"]["env"]
    fixtures = healthy(serve, staging)
    fixtures.prometheus.routes["GET", "/api/v1/targets"] = _json(body)
    job = body["data"]["activeTargets"][0]["labels"]["job"]
    assert failed(verify(staging, fixtures.urls())) == {
        f"prometheus target {job}": f"env=<none>, not {staging.environment}"}


def test_rule_with_last_error_fails_rules(serve: Callable[..., Stub], staging: Settings) -> None:
    routes = prometheus_routes(staging)
    body = json.loads(routes["GET", "/api/v1/rules"][2])  # type: ignore[index]
    group = body["data"]["groups"][0]
    group["rules"][0].update(health="err", lastError="found duplicate series for the match group")
    fixtures = healthy(serve, staging)
    fixtures.prometheus.routes["GET", "/api/v1/rules"] = _json(body)
    assert failed(verify(staging, fixtures.urls())) == {
        "prometheus rules": f"{group['name']}/{group['rules'][0]['name']}: found duplicate "
                            "series for the match group"}


def test_redis_up_zero_fails_redis_up_through_prometheus(serve: Callable[..., Stub]) -> None:
    production = stack_settings("production")
    fixtures = healthy(serve, production)
    fixtures.prometheus.routes["GET", "/api/v1/query"] = _query({
        "traces_": [({"__name__": SPAN_METRIC}, "3")],
        "redis_up": [({"__name__": "redis_up", "job": "redis_exporter"}, "0")]})
    assert failed(verify(production, fixtures.urls())) == {
        "redis_exporter redis_up": "redis_up 0 (Prometheus query, job=redis_exporter)"}


def test_redis_up_read_from_the_exporter_when_reachable(serve: Callable[..., Stub]) -> None:
    production = stack_settings("production")
    fixtures = healthy(serve, production)
    exporter = serve({("GET", "/metrics"): _metrics(
        "# HELP redis_up Information about the Redis instance", "# TYPE redis_up gauge",
        "redis_up 0")})
    results = verify(production, replace(fixtures.urls(), redis_exporter=exporter.url))
    assert failed(results) == {
        "redis_exporter redis_up": f"redis_up 0 on {exporter.url}/metrics"}


def test_no_span_metrics_fails_remote_write_from_tempo(serve: Callable[..., Stub],
                                                       staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    fixtures.prometheus.routes["GET", "/api/v1/query"] = _query({})
    problems = failed(verify(staging, fixtures.urls()))
    assert list(problems) == ["prometheus remote write from tempo"]
    query = next(r.query["query"][0] for r in fixtures.prometheus.requests
                 if r.path == "/api/v1/query")
    assert f'env="{staging.environment}"' in query


def test_loki_compactor_that_never_ran_fails(serve: Callable[..., Stub],
                                             staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    fixtures.loki.routes["GET", "/metrics"] = _metrics("# TYPE loki_build_info gauge",
                                                       'loki_build_info{version="3.7.6"} 1')
    problems = failed(verify(staging, fixtures.urls()))
    assert list(problems) == ["loki compactor"]
    assert problems["loki compactor"].startswith(f"{LOKI_RETENTION_RUN} absent")


def test_tempo_remote_write_failures_fail_tempo_remote_write(serve: Callable[..., Stub],
                                                             staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    text = fixtures.tempo.routes["GET", "/metrics"][2]  # type: ignore[index]
    fixtures.tempo.routes["GET", "/metrics"] = _text(
        text.replace('api/v1/write"} 0', 'api/v1/write"} 17'))
    assert failed(verify(staging, fixtures.urls())) == {
        "tempo remote write": "4096 samples sent, 17 failed"}


def test_idle_metrics_generator_fails(serve: Callable[..., Stub], staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    fixtures.tempo.routes["GET", "/metrics"] = _metrics(
        f'{REMOTE_SAMPLES_SENT}{{remote_name="prometheus-0"}} 5')
    assert list(failed(verify(staging, fixtures.urls()))) == ["tempo metrics generator"]


# --- --synthetic ---------------------------------------------------------------------------


def test_synthetic_span_and_line_are_found(serve: Callable[..., Stub],
                                           staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    with open_context(fixtures.urls(), expected_for(staging),
                      grafana_auth=("admin", "fixture-password")) as ctx:
        results = {r.name: r for r in run_checks(ctx, synthetic=True)}
    assert failed(results) == {}
    (span,) = [r for r in fixtures.otlp.requests if r.path == "/v1/traces"]
    assert span.headers["content-type"] == "application/x-protobuf"
    # The trace looked up in Tempo is the one whose id the pushed log line carries.
    (lookup,) = {r.path for r in fixtures.tempo.requests if r.path.startswith("/api/v2/traces/")}
    trace_id = lookup.rsplit("/", 1)[1]
    (push,) = [r for r in fixtures.loki.requests if r.path == "/loki/api/v1/push"]
    assert f"trace_id={trace_id}" in json.loads(push.body)["streams"][0]["values"][0][1]
    assert trace_id in results["synthetic span pushed"].value


def test_synthetic_trace_not_found_fails_within_the_wait(serve: Callable[..., Stub],
                                                         staging: Settings) -> None:
    fixtures = healthy(serve, staging)
    del fixtures.tempo.routes["GET", "/api/v2/traces/*"]
    with open_context(fixtures.urls(), expected_for(staging),
                      synthetic_wait_seconds=0.1) as ctx:
        results = {r.name: r for r in run_checks(ctx, synthetic=True)}
    assert not results["synthetic trace in tempo"].ok
    assert "not found within 0.1s" in results["synthetic trace in tempo"].value
    assert results["synthetic log line in loki"].ok


# --- nothing listening ---------------------------------------------------------------------


@pytest.fixture
def silent() -> Iterator[socket.socket]:
    """A loopback socket that takes connections into its backlog and never answers."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen(64)
        yield sock


def _connections(sock: socket.socket) -> int:
    """How many connections reached the silent socket."""
    sock.setblocking(False)
    count = 0
    while True:
        try:
            sock.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


@pytest.fixture
def closed_ports() -> Iterator[dict[str, int]]:
    """One refused loopback port per address make verify calls, by the flag's service name."""
    names = (*OUTPUTS, "tempo_otlp_http")
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in names]
        for sock in sockets:
            sock.bind((HOST, 0))
        yield {name: int(sock.getsockname()[1]) for name, sock in zip(names, sockets, strict=True)}


def _service_flags(urls: Mapping[str, str]) -> list[str]:
    return [argument for name, url in urls.items()
            for argument in (f"--{name.replace('_', '-')}-url", url)]


@pytest.fixture
def no_pulumi(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's URLs from flags alone, whatever pulumi this machine has."""
    monkeypatch.setattr(cli, "stack_outputs", lambda stack: "the pulumi CLI is not on PATH")


@pytest.mark.usefixtures("no_pulumi")
def test_nothing_listening_is_one_line_per_address_and_one_hint(
        closed_ports: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    urls = {name: f"http://{HOST}:{port}" for name, port in closed_ports.items()}
    started = time.monotonic()
    code = cli.main(["--stack", "production", "--synthetic", *_service_flags(urls)])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert code == 1
    assert time.monotonic() - started < 30
    # No check could look, so none is reported as a FAIL of its own.
    assert not [line for line in lines if line.startswith(("PASS", "FAIL"))], out
    unreachable = [line for line in lines if line.startswith("UNREACHABLE ")]
    assert len(unreachable) == len(urls), out
    for name, url in urls.items():
        (line,) = [line for line in unreachable if line.startswith(f"UNREACHABLE {url} ")]
        assert cli.SERVICE_NAMES[name] in line
        assert "connection refused" in line
    hints = [line for line in lines if line.startswith("hint: ")]
    assert len(hints) == 1, out
    assert "`make up STACK=production`" in hints[0]
    assert "`make tunnel STACK=production TUNNEL_ARGS=--all`" in hints[0]
    assert re.fullmatch(r"production: 0 passed, 0 failed, \d+ not run: 6 addresses did not "
                        r"answer", lines[-1]), lines[-1]


def test_nothing_listening_reports_without_a_traceback(closed_ports: dict[str, int]) -> None:
    urls = {name: f"http://{HOST}:{port}" for name, port in closed_ports.items()}
    done = subprocess.run([sys.executable, "-m", "ops.verify", "--stack", "staging",
                           "--synthetic", *_service_flags(urls)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.count("UNREACHABLE ") == len(urls)


@pytest.mark.usefixtures("no_pulumi")
def test_one_service_down_is_its_line_and_the_others_are_checked(
        serve: Callable[..., Stub], closed_ports: dict[str, int],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    settings = stack_settings("staging")
    fixtures = healthy(serve, settings)
    urls = {**{name: getattr(fixtures.urls(), name) for name in (*OUTPUTS, "tempo_otlp_http")},
            "alertmanager": f"http://{HOST}:{closed_ports['alertmanager']}"}
    monkeypatch.setenv("GRAFANA_ADMIN_PASSWORD", "fixture-password")
    code = cli.main(["--stack", "staging", *_service_flags(urls)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    (unreachable,) = [line for line in lines if line.startswith("UNREACHABLE ")]
    assert urls["alertmanager"] in unreachable
    assert "Alertmanager" in unreachable
    # Prometheus' own checks ran and passed; what needs Alertmanager did not run.
    assert "PASS prometheus ready" in "\n".join(lines)
    assert not [line for line in lines if line.startswith("FAIL")], lines
    (hint,) = [line for line in lines if line.startswith("hint: ")]
    assert "other services answered" in hint


def test_the_hint_for_an_ssh_docker_host_starts_with_the_tunnel() -> None:
    remote = cli.hint("production", "ssh://deploy@obs.example.com", anything_answered=False)
    assert "ssh://deploy@obs.example.com" in remote
    assert remote.index("make tunnel STACK=production TUNNEL_ARGS=--all") < remote.index(
        "make up STACK=production")
    local = cli.hint("staging", "", anything_answered=False)
    assert local.index("make up STACK=staging") < local.index("make tunnel STACK=staging")


def test_a_silent_service_costs_one_timeout_not_one_per_check(silent: socket.socket) -> None:
    settings = stack_settings("staging")
    urls = Urls(*(f"http://{HOST}:{silent.getsockname()[1]}",) * 6)
    results = verify(settings, urls, timeout=0.3)
    assert not any(result.ok for result in results.values())
    assert "no answer within 0.3s (ReadTimeout)" in results["prometheus ready"].value
    assert "not sent" in results["prometheus rules"].value
    assert {result.unreachable for result in results.values()} == {urls.prometheus}
    # Every service at one silent address: one timeout in all, the other checks not sent.
    assert _connections(silent) == 1


def test_every_request_uses_the_short_timeout(staging: Settings) -> None:
    with open_context(published_urls(staging), expected_for(staging)) as ctx:
        assert isinstance(ctx, Context)
        assert ctx.client.timeout == httpx.Timeout(TIMEOUT_SECONDS)
    assert TIMEOUT_SECONDS <= 2


def test_json_output_is_machine_readable(closed_ports: dict[str, int]) -> None:
    urls = {name: f"http://{HOST}:{port}" for name, port in closed_ports.items()}
    done = subprocess.run([sys.executable, "-m", "ops.verify", "--stack", "staging", "--json",
                           *_service_flags(urls)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    report = json.loads(done.stdout)
    assert done.returncode == 1
    assert report["ok"] is False
    assert {"name", "ok", "value", "unreachable"} == set(report["results"][0])
    # --synthetic is off: its OTLP receiver is not called.
    assert [address["url"] for address in report["unreachable"]] == [
        urls[name] for name in OUTPUTS]
    assert all(address["checks"] > 0 for address in report["unreachable"])
    assert "make up STACK=staging" in report["hint"]


def test_a_cut_response_says_it_was_cut() -> None:
    text = excerpt("x" * 250)
    assert text.endswith("... (body shortened, 50 more characters)")
    assert excerpt("short body") == "short body"


# --- pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("1w", 7 * 86400), ("4w2d", 30 * 86400), ("168h", 7 * 86400), ("720h0m0s", 30 * 86400),
    ("1h30m", 5400), ("500ms", 0.5)])
def test_durations_in_both_printed_forms(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "7 days", "1x", "h1"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration_seconds(text)


def test_flags_win_over_outputs_which_win_over_bindings(staging: Settings) -> None:
    base = published_urls(staging)
    assert base.prometheus == "http://127.0.0.1:9090"
    urls = resolve_urls(base, {"prometheusUrl": "http://10.0.0.5:9090",
                               "lokiUrl": "http://10.0.0.5:3100", "grafanaAdminPassword": "x"},
                        {"loki": "http://127.0.0.1:13100", "tempo": None})
    assert (urls.prometheus, urls.loki, urls.tempo) == (
        "http://10.0.0.5:9090", "http://127.0.0.1:13100", base.tempo)


def test_each_published_http_endpoint_is_a_urls_field_and_a_flag() -> None:
    # Publishing an endpoint in services.py without its Urls field fails here; Tempo's OTLP
    # gRPC receiver is published but not HTTP, so make verify takes no URL for it.
    assert (*ENDPOINTS, "redis_exporter") == URL_NAMES
    assert ENDPOINTS == {
        "prometheus": Published.PROMETHEUS, "loki": Published.LOKI, "tempo": Published.TEMPO_HTTP,
        "tempo_otlp_http": Published.TEMPO_OTLP_HTTP, "grafana": Published.GRAFANA,
        "alertmanager": Published.ALERTMANAGER}
    # Each filled from the stack output its Publication names, if it has one.
    assert OUTPUTS == {"prometheus": "prometheusUrl", "loki": "lokiUrl", "tempo": "tempoUrl",
                       "grafana": "grafanaUrl", "alertmanager": "alertmanagerUrl"}
    flags = {option for action in cli._parser()._actions for option in action.option_strings}
    assert {f"--{name.replace('_', '-')}-url" for name in URL_NAMES} <= flags


def test_expectations_come_from_the_rendered_config() -> None:
    # Its own inputs, so the golden values below do not follow the stack file.
    settings = stack_settings("staging", {
        "environment": "qa", "logsRetention": "9d", "tracesRetention": "50h",
        "redisAddress": "", "alertHeartbeat": "false", "alertCriticalReceiver": "slack",
        "alertWarningReceiver": "slack", "alertInfoReceiver": "none"})
    expected = expected_for(settings)
    assert expected.jobs["gatewayz_qa"] == "qa"
    assert "redis_exporter" not in expected.jobs
    assert expected.receivers == {"critical": "slack", "warning": "slack", "info": "none"}
    assert expected.logs_retention_seconds == 9 * 86400
    assert expected.traces_retention_seconds == 50 * 3600
    assert Service.REDIS_EXPORTER not in expected.services
    assert not expected.heartbeat

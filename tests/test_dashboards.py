"""The dashboards, built for a staging-like and a production-like stack: datasources resolve,
PromQL parses with the real promtool, filters on the environment and names only scraped jobs and
known metrics, layouts fit the grid, output is byte-stable, and empty panels explain themselves.
"""

import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from configs.dashboards import FOLDERS, Dashboard
from configs.dashboards.queries import (
    Query,
    panels,
    plain,
    promql_queries,
    variable_values,
    variables,
)
from configs.datasources import TYPES, Uid, ref
from configs.mixins import dashboards
from configs.render import to_json
from services import Service
from settings import Settings, parse_settings
from tests.support.tools import require_tool

# --- metric names this project may query (the backend's /metrics, the pinned releases) ---------

EXPORTED_BY_BACKEND: Final = frozenset({
    "fastapi_requests_total", "fastapi_requests_duration_seconds", "fastapi_requests_in_progress",
    "fastapi_request_size_bytes", "fastapi_response_size_bytes", "fastapi_exceptions_total",
    "model_inference_requests_total", "model_inference_duration_seconds", "tokens_used_total",
    "credits_used_total", "database_queries_total", "database_query_duration_seconds",
    "cache_hits_total", "cache_misses_total", "cache_size_bytes", "backend_ttfb_seconds",
    "streaming_duration_seconds", "time_to_first_chunk_seconds", "rate_limited_requests_total",
    "active_api_keys", "active_connections", "subscription_count", "trial_active",
    "process_cpu_seconds_total", "process_resident_memory_bytes",
})
WANTED: Final = frozenset({
    "provider_availability", "provider_error_rate", "provider_response_time_seconds",
    "gatewayz_provider_health_score", "gatewayz_circuit_breaker_state",
    "gatewayz_model_uptime_24h", "gatewayz_cost_by_provider", "gatewayz_token_efficiency",
    "gatewayz_detected_anomalies",
})
REDIS_EXPORTER: Final = frozenset({
    "redis_up", "redis_connected_clients", "redis_blocked_clients", "redis_memory_used_bytes",
    "redis_memory_max_bytes", "redis_commands_processed_total", "redis_keyspace_hits_total",
    "redis_keyspace_misses_total", "redis_evicted_keys_total", "redis_expired_keys_total",
    "redis_db_keys", "redis_rejected_connections_total", "redis_net_input_bytes_total",
    "redis_net_output_bytes_total", "redis_uptime_in_seconds",
})
# What the Redis dashboard must show (the brief: up, memory against max, clients, commands,
# hit ratio, keys, evictions, expirations, rejected connections).
REDIS_SHOWN: Final = REDIS_EXPORTER - {"redis_net_input_bytes_total",
                                       "redis_net_output_bytes_total", "redis_uptime_in_seconds"}
PRODUCED_BY_STACK: Final = REDIS_EXPORTER | {
    "up", "scrape_duration_seconds",
    "prometheus_http_requests_total", "prometheus_tsdb_head_series",
    "prometheus_tsdb_storage_blocks_bytes",
    # prometheus@v3.14.0 web/web.go and rules/group.go
    "prometheus_http_request_duration_seconds", "prometheus_rule_evaluation_failures_total",
    "loki_distributor_lines_received_total", "loki_ingester_streams_created_total",
    "loki_request_duration_seconds",
    "tempo_distributor_spans_received_total",
    # tempo@v3.0.3 modules/overrides/discarded_spans.go (replaces ..._spans_dropped_total)
    "tempo_discarded_spans_total",
    "traces_spanmetrics_calls_total", "traces_spanmetrics_latency", "traces_spanmetrics_size_total",
    "traces_service_graph_request_total", "traces_service_graph_request_failed_total",
    "traces_service_graph_request_server_seconds",
    "grafana_http_request_duration_seconds",
}
STACK_PREFIXES: Final = ("prometheus_remote_storage_", "loki_compactor_",
                         "tempo_metrics_generator_", "grafana_alerting_")
HISTOGRAMS: Final = frozenset({
    "fastapi_requests_duration_seconds", "fastapi_request_size_bytes",
    "fastapi_response_size_bytes", "model_inference_duration_seconds",
    "database_query_duration_seconds", "backend_ttfb_seconds", "streaming_duration_seconds",
    "time_to_first_chunk_seconds", "provider_response_time_seconds",
    "prometheus_http_request_duration_seconds", "loki_request_duration_seconds",
    "traces_spanmetrics_latency", "traces_service_graph_request_server_seconds",
    "grafana_http_request_duration_seconds",
})

# --- stacks ------------------------------------------------------------------------------------

REDIS: Final = {"redisAddress": "redis://redis.internal:6379"}
STACKS: Final[Mapping[str, tuple[dict[str, str], frozenset[str]]]] = {
    "production": ({"backendMetricsUrl": "https://api.gatewayz.ai/metrics",
                    "redisAuth": "password", "protectData": "true", **REDIS},
                   frozenset({"redisPassword"})),
    "staging": ({"backendMetricsUrl": "https://gatewayz-staging.up.railway.app/metrics",
                 "backendAuth": "bearer", **REDIS,
                 "extraTargets": json.dumps(
                     ["job=gatewayz_worker url=https://worker.example.com/metrics env=staging"])},
                frozenset({"backendBearerToken"})),
}


@pytest.fixture(params=sorted(STACKS))
def settings(request: pytest.FixtureRequest) -> Settings:
    raw, secrets = STACKS[request.param]
    return parse_settings(request.param, raw, secrets)


# --- walking a dashboard ---------------------------------------------------------------------


# Parsed dashboard JSON: its shape is what these tests check.
JsonDict = dict[str, Any]


def datasource_values(node: object) -> Iterator[object]:
    if isinstance(node, dict):
        for key, child in node.items():
            if key == "datasource":
                yield child
            yield from datasource_values(child)
    elif isinstance(node, list):
        for child in node:
            yield from datasource_values(child)


# --- a crude but correct PromQL selector scanner -----------------------------------------------

_IDENT: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER: Final = re.compile(r"[0-9.][0-9a-zA-Z_.]*")
_MATCHER: Final = re.compile(r'\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_GROUPING: Final = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
# `sum by (x) (...)`: an aggregation whose grouping comes before its argument.
_GROUPED: Final = re.compile(r"\s*(by|without)\s*\(")
_KEYWORDS: Final = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})


@dataclass(frozen=True)
class Selector:
    name: str  # empty for `{...}`
    matchers: tuple[tuple[str, str, str], ...] | None  # None: a bare metric name, no braces


def _skip_string(expr: str, start: int) -> int:
    index = start + 1
    while expr[index] != '"':
        index += 2 if expr[index] == "\\" else 1
    return index + 1


def _closing_brace(expr: str, start: int) -> int:
    index = start + 1
    while expr[index] != "}":
        index = _skip_string(expr, index) if expr[index] == '"' else index + 1
    return index


def _matchers(body: str) -> tuple[tuple[str, str, str], ...]:
    parsed = tuple(_MATCHER.findall(body))
    assert "".join(_MATCHER.sub("", body).split()) == "", f"unparsed matchers in {{{body}}}"
    return parsed


def selectors(expr: str) -> list[Selector]:
    found: list[Selector] = []
    index, pending = 0, ""
    while index < len(expr):
        char = expr[index]
        if char == '"':
            index = _skip_string(expr, index)
        elif char == "{":
            end = _closing_brace(expr, index)
            found.append(Selector(pending, _matchers(expr[index + 1:end])))
            index, pending = end + 1, ""
        elif char == "[":
            index = expr.index("]", index) + 1
        elif (number := _NUMBER.match(expr, index)) is not None:
            index = number.end()
        elif (ident := _IDENT.match(expr, index)) is not None:
            name, index = ident.group(), ident.end()
            following = expr[index:].lstrip()[:1]
            if following == "(" and name in _GROUPING:
                index = expr.index(")", index) + 1  # a label list, not metrics
            elif following == "{":
                pending = name
            elif not (following == "(" or _GROUPED.match(expr, index) or name in _KEYWORDS):
                found.append(Selector(name, None))
        else:
            index += 1
    return found


def test_selector_scanner_sees_bare_names_grouping_labels_and_strings() -> None:
    scanned = selectors('sum by (le) (rate(a{env="$env", x=~"{b}"}[5m])) / b offset 5m + {c="1"}')
    assert scanned == [Selector("a", (("env", "=", "$env"), ("x", "=~", "{b}"))),
                       Selector("b", None), Selector("", (("c", "=", "1"),))]


def metric_name(name: str) -> str:
    """A histogram's series (`_bucket`, `_sum`, `_count`) counted as the histogram."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
            return name.removesuffix(suffix)
    return name


def names(queries: list[Query]) -> set[str]:
    return {metric_name(s.name) for query in queries for s in selectors(query.expr) if s.name}


# --- tests ---------------------------------------------------------------------------------


def test_every_datasource_reference_resolves_to_a_provisioned_uid(settings: Settings) -> None:
    for dashboard in dashboards(settings):
        references = list(datasource_values(dashboard.model))
        assert references, dashboard.uid
        for reference in references:
            assert isinstance(reference, dict), f"{dashboard.uid}: datasource {reference!r}"
            assert reference["uid"] in {uid.value for uid in Uid}, reference
            assert reference == ref(Uid(reference["uid"])), reference
            assert reference["type"] == TYPES[Uid(reference["uid"])]
        for panel in panels(dashboard.model):
            targets = panel.get("targets", [])
            assert isinstance(targets, list)
            assert all("datasource" in target for target in targets), panel["title"]
            assert not targets or "datasource" in panel, panel["title"]
        for variable in variables(dashboard.model):
            assert variable["type"] != "query" or "datasource" in variable, variable["name"]


def test_promql_parses_with_promtool(settings: Settings, tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    queries, exprs = [], []
    for dashboard in dashboards(settings):
        values = variable_values(dashboard.model, settings.environment, settings.backend.job)
        for query in promql_queries(dashboard.model):
            queries.append(query)
            exprs.append(plain(query.expr, values))
    rules = [{"record": f"dashboard:expr_{index}", "expr": expr}
             for index, expr in enumerate(exprs)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, check=False)
    output = result.stdout + result.stderr
    failing = sorted({int(n) for n in re.findall(r"dashboard:expr_(\d+)", output)})
    where = "\n".join(f"  {queries[i].dashboard} / {queries[i].panel}: {queries[i].expr}"
                      for i in failing)
    assert result.returncode == 0, f"promtool rejects:\n{where}\n{output}"
    assert f"SUCCESS: {len(rules)} rules found" in output


def test_every_promql_selector_filters_on_the_env_variable(settings: Settings) -> None:
    for dashboard in dashboards(settings):
        for query in promql_queries(dashboard.model, include_env_variable=False):
            found = selectors(query.expr)
            assert found, f"{query.dashboard} / {query.panel}: no selector in {query.expr}"
            for selector in found:
                where = f"{query.dashboard} / {query.panel}: {selector.name or '{...}'}"
                assert selector.matchers is not None, f"{where} has no {{env=\"$env\"}}"
                assert ("env", "=", "$env") in selector.matchers, where


def test_every_job_a_query_names_is_scraped(settings: Settings) -> None:
    scraped = {settings.backend.job, *(target.job for target in settings.extra_targets),
               *(service.job for service in Service)}
    for dashboard in dashboards(settings):
        job_options = {str(option["value"])
                       for variable in variables(dashboard.model) if variable["name"] == "job"
                       for option in variable["options"]}
        assert job_options <= scraped, dashboard.uid
        for query in promql_queries(dashboard.model):
            for selector in selectors(query.expr):
                for label, op, value in selector.matchers or ():
                    if label != "job":
                        continue
                    assert op in ("=", "=~"), f"{query.dashboard} / {query.panel}"
                    jobs = job_options if value == "$job" else set(value.split("|"))
                    assert jobs, f"{query.dashboard} / {query.panel}: $job has no options"
                    assert jobs <= scraped, f"{query.dashboard} / {query.panel}: {value}"


def test_backend_dashboards_offer_every_backend_job(settings: Settings) -> None:
    backend = [settings.backend.job, *(target.job for target in settings.extra_targets)]
    for dashboard in dashboards(settings):
        for variable in variables(dashboard.model):
            if variable["name"] == "job":
                assert [option["value"] for option in variable["options"]] == backend
                assert variable["current"]["value"] == settings.backend.job


def test_rate_windows_use_the_rate_interval(settings: Settings) -> None:
    for dashboard in dashboards(settings):
        for query in promql_queries(dashboard.model):
            for window in re.findall(r"\brate\([^\[]*\[([^\]]+)\]", query.expr):
                assert window == "$__rate_interval", f"{query.dashboard} / {query.panel}"


def test_env_variable_lists_environments_and_preselects_this_stack(settings: Settings) -> None:
    for dashboard in dashboards(settings):
        env = variables(dashboard.model)[0]
        assert env["name"] == "env"
        assert env["datasource"] == ref(Uid.PROMETHEUS)
        assert env["definition"] == "label_values(up, env)"
        assert env["current"] == {"selected": True, "text": settings.environment,
                                  "value": settings.environment}


def test_uids_ids_and_grid(settings: Settings) -> None:
    built = dashboards(settings)
    assert len(built) == 8
    assert len({dashboard.uid for dashboard in built}) == len(built)
    assert {dashboard.folder for dashboard in built} <= {folder.uid for folder in FOLDERS}
    for dashboard in built:
        assert len(dashboard.uid) <= 40
        assert dashboard.model["uid"] == dashboard.uid
        assert dashboard.model["schemaVersion"] == 42  # see SCHEMA_VERSION in panels.py
        every = list(panels(dashboard.model))
        # Stable ids: 1..n in order of appearance, so adding a panel renumbers only later ones.
        assert [panel["id"] for panel in every] == list(range(1, len(every) + 1)), dashboard.uid
        for panel in every:
            grid, where = panel["gridPos"], f"{dashboard.uid} / {panel['title']}"
            assert set(grid) == {"x", "y", "w", "h"}, where
            assert all(isinstance(grid[key], int) for key in grid), where
            assert min(grid["x"], grid["y"]) >= 0, where
            assert min(grid["w"], grid["h"]) >= 1, where
            assert grid["x"] + grid["w"] <= 24, where


def _overlap(a: Mapping[str, int], b: Mapping[str, int]) -> bool:
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def test_panels_do_not_overlap(settings: Settings) -> None:
    for dashboard in dashboards(settings):
        top = dashboard.model["panels"]
        assert isinstance(top, list)
        groups = [top, *(panel["panels"] for panel in top if panel.get("panels"))]
        for group in groups:
            grids = [(panel["title"], panel["gridPos"]) for panel in group]
            for index, (title, grid) in enumerate(grids):
                for other, other_grid in grids[index + 1:]:
                    assert not _overlap(grid, other_grid), f"{dashboard.uid}: {title} / {other}"


def test_rendering_is_byte_stable_and_leaves_ids_to_grafana(settings: Settings) -> None:
    first = [to_json(dashboard.model) for dashboard in dashboards(settings)]
    assert first == [to_json(dashboard.model) for dashboard in dashboards(settings)]
    for text in first:
        model = json.loads(text)
        assert text.endswith("}\n")
        # Grafana assigns the numeric id and bumps version; sending them would make every
        # deployment a diff, or overwrite the wrong dashboard.
        assert "id" not in model
        assert "version" not in model


def test_panels_on_wanted_metrics_say_they_are_not_exported_yet(settings: Settings) -> None:
    seen: set[str] = set()
    for dashboard in dashboards(settings):
        for panel in panels(dashboard.model):
            queries = [Query(dashboard.uid, str(panel["title"]), str(target["expr"]))
                       for target in panel.get("targets", []) if "expr" in target]
            wanted = names(queries) & WANTED
            description = str(panel.get("description", ""))
            says_missing = "does not export" in description
            assert says_missing == bool(wanted), f"{dashboard.uid} / {panel['title']}"
            assert all(f"`{name}`" in description for name in wanted), panel["title"]
            seen |= wanted
    assert seen == WANTED, "application health should show every wanted metric"


def test_queries_use_only_exported_or_stack_metrics(settings: Settings) -> None:
    allowed = EXPORTED_BY_BACKEND | WANTED | PRODUCED_BY_STACK
    for dashboard in dashboards(settings):
        for query in promql_queries(dashboard.model):
            for name in names([query]):
                assert name in allowed or name.startswith(STACK_PREFIXES), (
                    f"{query.dashboard} / {query.panel}: {name} is neither exported nor "
                    "produced by the stack")


def _dashboard(settings: Settings, uid: str) -> Dashboard:
    return next(dashboard for dashboard in dashboards(settings) if dashboard.uid == uid)


def test_a_stack_without_redis_gets_no_redis_dashboard() -> None:
    raw, secrets = STACKS["staging"]
    without = parse_settings("staging", {k: v for k, v in raw.items() if k not in REDIS}, secrets)
    uids = [dashboard.uid for dashboard in dashboards(without)]
    # As it gets no Redis rules: every panel would stay empty without an exporter.
    assert "gatewayz-redis" not in uids
    assert uids == [dashboard.uid for dashboard in dashboards(
        parse_settings("staging", raw, secrets)) if dashboard.uid != "gatewayz-redis"]


def test_redis_dashboard_shows_redis_exporter_on_its_job(settings: Settings) -> None:
    queries = promql_queries(_dashboard(settings, "gatewayz-redis").model,
                             include_env_variable=False)
    job = ("job", "=", Service.REDIS_EXPORTER.job)
    for query in queries:
        for selector in selectors(query.expr):
            assert selector.name in REDIS_EXPORTER, f"{query.panel}: {selector.name}"
            assert job in (selector.matchers or ()), query.panel
    assert names(queries) >= REDIS_SHOWN


def test_backend_metrics_dashboard_uses_only_exported_fastapi_metrics(settings: Settings) -> None:
    queries = promql_queries(_dashboard(settings, "gatewayz-backend-metrics").model,
                             include_env_variable=False)
    used = names(queries)
    assert used, "no metrics"
    assert all(name.startswith("fastapi_") and name in EXPORTED_BY_BACKEND for name in used), used


def test_model_health_shows_token_usage_and_credits_by_model_and_provider(
        settings: Settings) -> None:
    queries = promql_queries(_dashboard(settings, "gatewayz-model-health").model)
    for metric in ("tokens_used_total", "credits_used_total"):
        assert any(metric in query.expr and "by (model, provider)" in query.expr
                   for query in queries), metric


def test_tempo_dashboard_searches_traces_and_draws_the_service_graph(settings: Settings) -> None:
    tempo = _dashboard(settings, "gatewayz-tempo")
    kinds = {(panel["type"], target.get("queryType")) for panel in panels(tempo.model)
             for target in panel.get("targets", [])}
    assert ("table", "traceql") in kinds
    assert ("nodeGraph", "serviceMap") in kinds
    used = names(promql_queries(tempo.model))
    assert {"tempo_distributor_spans_received_total", "tempo_discarded_spans_total",
            "traces_spanmetrics_calls_total", "traces_spanmetrics_latency"} <= used
    assert any(name.startswith("tempo_metrics_generator_") for name in used)

"""Typed builders for Grafana dashboards: the skeleton, panels, rows, targets and variables.

Panels get stable ids (1..n in order of appearance, rows' children included) and grid positions
from a 24-column flow layout, so dashboard modules only say what to show and how wide.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Final

from configs import promql as pq
from configs.datasources import Uid, ref
from settings import Service, Settings

# Grafana 13.2 reads the classic JSON model and migrates it to its latest schemaVersion on load.
# Source: grafana/grafana apps/dashboard/pkg/migration/schemaversion/migrations.go has
# LATEST_VERSION = 42 and its README calls 42 the final version of the v1 dashboard API; a later
# main-branch snapshot adds v43 (formatTime -> convertFieldType transformations only, which these
# dashboards do not use). 42 is safe for both: the backend migrator refuses a dashboard *newer*
# than the version it knows ("schema version not migrated to target version"), never an older one.
SCHEMA_VERSION: Final = 42
GRID_COLUMNS: Final = 24
ENV_VARIABLE: Final = "env"
# Every PromQL selector filters on this matcher, so switching env switches every panel.
ENV_MATCHER: Final = f'env="${ENV_VARIABLE}"'

# Metrics asked of the backend team but not on its /metrics yet (https://api.gatewayz.ai/metrics
# serves the exported ones). A panel that queries one says so in its description, so an empty
# panel explains itself.
WANTED_METRICS: Final[frozenset[str]] = frozenset({
    "provider_availability",
    "provider_error_rate",
    "provider_response_time_seconds",
    "gatewayz_provider_health_score",
    "gatewayz_circuit_breaker_state",
    "gatewayz_model_uptime_24h",
    "gatewayz_cost_by_provider",
    "gatewayz_token_efficiency",
    "gatewayz_detected_anomalies",
})
# Grafana widens it to at least four scrape intervals, so rate() always has two samples.
RATE_WINDOW: Final = "$__rate_interval"
# The backend job the dashboard shows (see `job_variable`).
BACKEND_JOB: Final = 'job="$job"'

Json = dict[str, object]
Thresholds = tuple[tuple[float | None, str], ...]
GREEN: Final[Thresholds] = ((None, "green"),)


@dataclass(frozen=True)
class Target:
    """One query of a panel; `fields` are the datasource-specific keys (expr, query, ...)."""

    datasource: Uid
    fields: Mapping[str, object]

    @property
    def text(self) -> str:
        """The query text, where the wanted-metric check looks for metric names."""
        return str(self.fields.get("expr", self.fields.get("query", "")))


def stack_job(service: Service) -> str:
    """Matcher for the self-scrape job of one of the stack's services."""
    return f'job="{service.job}"'


# configs.promql on the dashboard's chosen environment: every selector carries `env="$env"`.
def series(metric: str, *matchers: str) -> str:
    """A selector on the chosen environment: `metric{env="$env", <matchers>}`."""
    return pq.selector(metric, ENV_MATCHER, *matchers)


def rate(metric: str, *matchers: str, window: str = RATE_WINDOW) -> str:
    return pq.rate(metric, ENV_MATCHER, *matchers, window=window)


def increase(metric: str, *matchers: str, window: str = "$__range") -> str:
    return pq.increase(metric, ENV_MATCHER, *matchers, window=window)


def quantile(q: float, histogram: str, *matchers: str, by: str = "") -> str:
    """The q-quantile of a classic histogram, over all series or per `by` labels."""
    labels = ", ".join(label for label in ("le", by) if label)
    return pq.histogram_quantile(q, labels, histogram, ENV_MATCHER, *matchers,
                                      window=RATE_WINDOW)


ratio: Final = pq.ratio


def promql(expr: str, legend: str = "", *, instant: bool = False, table: bool = False,
           exemplar: bool = False) -> Target:
    return Target(Uid.PROMETHEUS, {
        "expr": expr,
        "legendFormat": legend or "__auto",
        "editorMode": "code",
        "range": not instant,
        "instant": instant,
        "format": "table" if table else "time_series",
        "exemplar": exemplar,
    })


def logql(expr: str, legend: str = "") -> Target:
    return Target(Uid.LOKI, {
        "expr": expr,
        "legendFormat": legend,
        "editorMode": "code",
        "queryType": "range",
    })


def traceql(query: str, limit: int = 20) -> Target:
    return Target(Uid.TEMPO, {
        "queryType": "traceql",
        "query": query,
        "limit": limit,
        "tableType": "traces",
    })


def service_map() -> Target:
    """Tempo's service graph, read from the span metrics Prometheus holds for this env."""
    return Target(Uid.TEMPO, {"queryType": "serviceMap",
                              "serviceMapQuery": "{" + ENV_MATCHER + "}"})


def wanted_metrics(targets: Sequence[Target]) -> list[str]:
    """The not-yet-exported metrics the targets query, histogram series counted by base name."""
    found: set[str] = set()
    for target in targets:
        found.update(pq.metric_names(target.text) & WANTED_METRICS)
    return sorted(found)


def _ref_id(index: int) -> str:
    return chr(ord("A") + index)


@dataclass(frozen=True)
class Panel:
    kind: str
    title: str
    targets: tuple[Target, ...] = ()
    width: int = 12
    height: int = 8
    description: str = ""
    defaults: Mapping[str, object] = field(default_factory=dict)
    options: Mapping[str, object] = field(default_factory=dict)
    transformations: tuple[Mapping[str, object], ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.width <= GRID_COLUMNS or self.height < 1:
            raise ValueError(f"panel {self.title!r}: width 1..{GRID_COLUMNS}, height >= 1")
        if len({target.datasource for target in self.targets}) > 1:
            raise ValueError(f"panel {self.title!r}: all targets must use one datasource")

    def render(self, panel_id: int, grid_pos: Mapping[str, int]) -> Json:
        rendered: Json = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "gridPos": dict(grid_pos),
            "fieldConfig": {"defaults": dict(self.defaults), "overrides": []},
            "options": dict(self.options),
        }
        description = self._description()
        if description:
            rendered["description"] = description
        if self.targets:
            rendered["datasource"] = ref(self.targets[0].datasource)
            rendered["targets"] = [
                {**target.fields, "refId": _ref_id(index),
                 "datasource": ref(target.datasource)}
                for index, target in enumerate(self.targets)
            ]
        if self.transformations:
            rendered["transformations"] = [dict(step) for step in self.transformations]
        return rendered

    def _description(self) -> str:
        wanted = wanted_metrics(self.targets)
        if not wanted:
            return self.description
        names = ", ".join(f"`{name}`" for name in wanted)
        note = (f"The backend does not export {names} yet (asked of the backend team): "
                "this panel stays empty until it does.")
        return f"{self.description} {note}".strip()


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]
    collapsed: bool = False


def row(title: str, *panels: Panel, collapsed: bool = False) -> Row:
    return Row(title, panels, collapsed)


def _field_defaults(unit: str, thresholds: Thresholds, **extra: object) -> Json:
    steps = [{"color": color, "value": value} for value, color in thresholds]
    return {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}, **extra}


_REDUCE_LAST: Final[Mapping[str, object]] = {
    "calcs": ["lastNotNull"], "fields": "", "values": False,
}


def timeseries(title: str, *targets: Target, unit: str = "short", width: int = 12,
               height: int = 8, description: str = "", stacked: bool = False) -> Panel:
    custom = {"fillOpacity": 10, "showPoints": "never",
              "stacking": {"mode": "normal" if stacked else "none", "group": "A"}}
    return Panel("timeseries", title, targets, width, height, description,
                 _field_defaults(unit, GREEN, custom=custom),
                 {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True,
                             "calcs": []},
                  "tooltip": {"mode": "multi", "sort": "desc"}})


def stat(title: str, *targets: Target, unit: str = "short", width: int = 6, height: int = 4,
         description: str = "", thresholds: Thresholds = GREEN,
         mappings: Sequence[Mapping[str, object]] = ()) -> Panel:
    return Panel("stat", title, targets, width, height, description,
                 _field_defaults(unit, thresholds, color={"mode": "thresholds"},
                                 mappings=list(mappings)),
                 {"reduceOptions": dict(_REDUCE_LAST), "colorMode": "value",
                  "graphMode": "area", "textMode": "auto", "justifyMode": "auto",
                  "orientation": "auto"})


def gauge(title: str, *targets: Target, unit: str = "percentunit", maximum: float = 1,
          width: int = 6, height: int = 6, description: str = "",
          thresholds: Thresholds = GREEN) -> Panel:
    return Panel("gauge", title, targets, width, height, description,
                 _field_defaults(unit, thresholds, min=0, max=maximum,
                                 color={"mode": "thresholds"}),
                 {"reduceOptions": dict(_REDUCE_LAST), "showThresholdMarkers": True,
                  "showThresholdLabels": False})


def piechart(title: str, *targets: Target, unit: str = "short", width: int = 8, height: int = 8,
             description: str = "") -> Panel:
    return Panel("piechart", title, targets, width, height, description,
                 _field_defaults(unit, GREEN),
                 {"reduceOptions": dict(_REDUCE_LAST),
                  "pieType": "donut",
                  "legend": {"displayMode": "table", "placement": "right", "showLegend": True,
                             "values": ["percent"]},
                  "tooltip": {"mode": "single", "sort": "none"}})


def table(title: str, *targets: Target, columns: Sequence[str] = (), unit: str = "short",
          width: int = 24, height: int = 8, description: str = "") -> Panel:
    """Instant queries joined on their labels into one row per series, the time column hidden;
    `columns` names the value of each query, in order.
    """
    if len(columns) != len(targets):
        raise ValueError(f"table {title!r}: name the value column of each of its queries")
    # Grafana names the value of a lone query `Value`, of several `Value #<refId>`.
    values = (["Value"] if len(targets) == 1
              else [f"Value #{_ref_id(index)}" for index in range(len(targets))])
    names = dict(zip(values, columns, strict=True))
    return Panel("table", title, targets, width, height, description,
                 _field_defaults(unit, GREEN),
                 {"showHeader": True, "cellHeight": "sm"},
                 ({"id": "merge", "options": {}},
                  {"id": "organize", "options": {"excludeByName": {"Time": True},
                                                 "renameByName": names}}))


def trace_search(title: str, query: str, width: int = 24, height: int = 10,
                 description: str = "") -> Panel:
    return Panel("table", title, (traceql(query),), width, height, description,
                 _field_defaults("short", GREEN), {"showHeader": True, "cellHeight": "sm"})


def node_graph(title: str, width: int = 24, height: int = 12, description: str = "") -> Panel:
    return Panel("nodeGraph", title, (service_map(),), width, height, description, {}, {})


def logs(title: str, target: Target, width: int = 24, height: int = 12,
         description: str = "") -> Panel:
    return Panel("logs", title, (target,), width, height, description, {},
                 {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending",
                  "enableLogDetails": True, "dedupStrategy": "none", "showLabels": False,
                  "showCommonLabels": False, "prettifyLogMessage": False})


def text(title: str, markdown: str, width: int = 24, height: int = 3) -> Panel:
    return Panel("text", title, (), width, height, "", {},
                 {"mode": "markdown", "content": markdown})


# --- variables -------------------------------------------------------------------------------


def _current(value: str) -> Json:
    return {"selected": True, "text": value, "value": value}


_ALL: Final[Json] = {"selected": True, "text": "All", "value": "$__all"}


def env_variable(settings: Settings) -> Json:
    """The environment picker: every `env` Prometheus scrapes, this stack's own preselected."""
    query = f"label_values(up, {ENV_VARIABLE})"
    return {
        "name": ENV_VARIABLE, "label": "Environment", "type": "query",
        "datasource": ref(Uid.PROMETHEUS),
        "query": {"qryType": 1, "query": query,
                  "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "current": _current(settings.environment),
        "options": [], "refresh": 1, "sort": 1, "hide": 0,
        "includeAll": False, "multi": False,
    }


def job_variable(settings: Settings) -> Json:
    """The backend job to show; hidden while the backend is the only one this stack scrapes."""
    jobs = [target.job for target in settings.external_targets]
    return {
        "name": "job", "label": "Backend job", "type": "custom",
        "query": ",".join(jobs),
        "current": _current(settings.backend.job),
        "options": [{"selected": job == settings.backend.job, "text": job, "value": job}
                    for job in jobs],
        "hide": 0 if len(jobs) > 1 else 2,
        "includeAll": False, "multi": False,
    }


def prometheus_label_variable(name: str, label: str, selector: str, title: str) -> Json:
    """Values of `label` on the series `selector` picks; All means any value."""
    query = f"label_values({selector}, {label})"
    return {
        "name": name, "label": title, "type": "query",
        "datasource": ref(Uid.PROMETHEUS),
        "query": {"qryType": 1, "query": query,
                  "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "current": dict(_ALL), "options": [], "refresh": 2, "sort": 1, "hide": 0,
        "includeAll": True, "allValue": ".*", "multi": True,
    }


def loki_label_variable(name: str, label: str, title: str) -> Json:
    """Values of a Loki stream label; All is `.+` because a stream selector must not match ''."""
    return {
        "name": name, "label": title, "type": "query",
        "datasource": ref(Uid.LOKI),
        "query": {"type": 1, "label": label, "stream": "",
                  "refId": "LokiVariableQueryEditor-VariableQuery"},
        "definition": f"label_values({label})",
        "current": dict(_ALL), "options": [], "refresh": 2, "sort": 1, "hide": 0,
        "includeAll": True, "allValue": ".+", "multi": True,
    }


def textbox_variable(name: str, title: str) -> Json:
    return {"name": name, "label": title, "type": "textbox", "query": "",
            "current": {"text": "", "value": ""}, "options": [], "hide": 0}


# --- dashboard -------------------------------------------------------------------------------


class _Flow:
    """Places panels left to right in 24 columns, wrapping when the next one does not fit."""

    def __init__(self, top: int = 0) -> None:
        self.x, self.y, self.line_height = 0, top, 0

    def place(self, width: int, height: int) -> dict[str, int]:
        if self.x + width > GRID_COLUMNS:
            self.new_line()
        position = {"x": self.x, "y": self.y, "w": width, "h": height}
        self.x += width
        self.line_height = max(self.line_height, height)
        return position

    def new_line(self) -> None:
        self.y += self.line_height
        self.x, self.line_height = 0, 0


def _layout(items: Sequence[Panel | Row]) -> Iterator[Json]:
    ids = count(1)
    flow = _Flow()
    for item in items:
        if isinstance(item, Panel):
            yield item.render(next(ids), flow.place(item.width, item.height))
            continue
        flow.new_line()
        rendered: Json = {"id": next(ids), "type": "row", "title": item.title,
                          "collapsed": item.collapsed, "gridPos": flow.place(GRID_COLUMNS, 1)}
        flow.new_line()
        # A collapsed row keeps its panels inside it, placed as they will be once it is expanded;
        # an open row's panels follow it at the top level.
        inner = _Flow(flow.y) if item.collapsed else flow
        children = [panel.render(next(ids), inner.place(panel.width, panel.height))
                    for panel in item.panels]
        rendered["panels"] = children if item.collapsed else []
        yield rendered
        if not item.collapsed:
            yield from children


def dashboard(settings: Settings, *, uid: str, title: str, tags: Sequence[str],
              items: Sequence[Panel | Row], variables: Sequence[Json] = (),
              description: str = "", refresh: str = "1m", time_from: str = "now-6h") -> Json:
    """The dashboard model; no top-level `id` or `version`: Grafana assigns and bumps those."""
    if len(uid) > 40:
        raise ValueError(f"dashboard uid {uid!r} is longer than Grafana's 40 characters")
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["gatewayz", *tags],
        "editable": True,
        "graphTooltip": 1,  # shared crosshair: line panels up in time
        "timezone": "browser",
        "time": {"from": time_from, "to": "now"},
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "annotations": {"list": []},
        "links": [{"title": "GatewayZ dashboards", "type": "dashboards", "tags": ["gatewayz"],
                   "asDropdown": True, "includeVars": True, "keepTime": True}],
        "templating": {"list": [env_variable(settings), *variables]},
        "panels": list(_layout(items)),
    }

"""Typed builders for Grafana dashboards: the skeleton, panels and rows (targets.py says what a
panel asks, variables.py what a dashboard lets one choose).

Panels get stable ids (1..n in order of appearance, rows' children included) and grid positions
from a 24-column flow layout, so dashboard modules only say what to show and how wide.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Final

from configs.dashboards.targets import Target, service_map, traceql, wanted_metrics
from configs.dashboards.variables import env_variable
from configs.datasources import ref
from settings import Settings

# Grafana 13.2 reads the classic JSON model and migrates it to its latest schemaVersion on load.
# Source: grafana/grafana apps/dashboard/pkg/migration/schemaversion/migrations.go has
# LATEST_VERSION = 42 and its README calls 42 the final version of the v1 dashboard API; a later
# main-branch snapshot adds v43 (formatTime -> convertFieldType transformations only, which these
# dashboards do not use). 42 is safe for both: the backend migrator refuses a dashboard *newer*
# than the version it knows ("schema version not migrated to target version"), never an older one.
SCHEMA_VERSION: Final = 42
GRID_COLUMNS: Final = 24
Json = dict[str, object]
Thresholds = tuple[tuple[float | None, str], ...]
GREEN: Final[Thresholds] = ((None, "green"),)


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

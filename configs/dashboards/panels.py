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

from configs.dashboards.options import (
    BigValueColorMode,
    BigValueGraphMode,
    BigValueJustifyMode,
    BigValueTextMode,
    DashboardCursorSync,
    DashboardLinkType,
    DataTransformerID,
    FieldColorModeId,
    LegendDisplayMode,
    LegendPlacement,
    LogsDedupStrategy,
    LogsSortOrder,
    MappingType,
    PieChartLegendValues,
    PieChartType,
    ReducerID,
    SortOrder,
    StackingMode,
    TableCellHeight,
    TextMode,
    ThresholdsMode,
    TooltipDisplayMode,
    VisibilityMode,
    VizOrientation,
)
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
# A 0/1 health series (up, redis_up): red below 1, and shown as Down/Up rather than a number.
UP: Final[Thresholds] = ((None, "red"), (1, "green"))


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


def value_mappings(texts: Mapping[str, tuple[str, str]]) -> tuple[Json, ...]:
    """Show a value as text in a colour: {value: (text, colour)}."""
    return ({"type": MappingType.VALUE_TO_TEXT,
             "options": {value: {"text": shown, "color": color}
                         for value, (shown, color) in texts.items()}},)


UP_MAPPINGS: Final = value_mappings({"0": ("Down", "red"), "1": ("Up", "green")})


def _field_defaults(unit: str, thresholds: Thresholds, **extra: object) -> Json:
    steps = [{"color": color, "value": value} for value, color in thresholds]
    return {"unit": unit, "thresholds": {"mode": ThresholdsMode.ABSOLUTE, "steps": steps},
            **extra}


_BY_THRESHOLDS: Final[Json] = {"mode": FieldColorModeId.THRESHOLDS}


# Legend and tooltip as dataclasses, not dicts: a misspelt field is a TypeError where a misspelt
# key would be sent and ignored.
@dataclass(frozen=True)
class Legend:
    display_mode: LegendDisplayMode
    placement: LegendPlacement
    calcs: tuple[ReducerID, ...] | None = None
    values: tuple[PieChartLegendValues, ...] | None = None

    def json(self) -> Json:
        rendered: Json = {"displayMode": self.display_mode, "placement": self.placement,
                          "showLegend": True}
        if self.calcs is not None:
            rendered["calcs"] = list(self.calcs)
        if self.values is not None:
            rendered["values"] = list(self.values)
        return rendered


@dataclass(frozen=True)
class Tooltip:
    mode: TooltipDisplayMode
    sort: SortOrder

    def json(self) -> Json:
        return {"mode": self.mode, "sort": self.sort}


def _reduce(calc: ReducerID = ReducerID.LAST_NOT_NULL) -> Json:
    """One value per field (not each row's), from every numeric field."""
    return {"calcs": [calc], "fields": "", "values": False}


def timeseries(title: str, *targets: Target, unit: str = "short", width: int = 12,
               height: int = 8, description: str = "", stacked: bool = False) -> Panel:
    stacking = StackingMode.NORMAL if stacked else StackingMode.NONE
    custom = {"fillOpacity": 10, "showPoints": VisibilityMode.NEVER,
              "stacking": {"mode": stacking, "group": "A"}}
    legend = Legend(LegendDisplayMode.LIST, LegendPlacement.BOTTOM, calcs=())
    tooltip = Tooltip(TooltipDisplayMode.MULTI, SortOrder.DESCENDING)
    return Panel("timeseries", title, targets, width, height, description,
                 _field_defaults(unit, GREEN, custom=custom),
                 {"legend": legend.json(), "tooltip": tooltip.json()})


def stat(title: str, *targets: Target, unit: str = "short", width: int = 6, height: int = 4,
         description: str = "", thresholds: Thresholds = GREEN,
         mappings: Sequence[Mapping[str, object]] = ()) -> Panel:
    return Panel("stat", title, targets, width, height, description,
                 _field_defaults(unit, thresholds, color=dict(_BY_THRESHOLDS),
                                 mappings=list(mappings)),
                 {"reduceOptions": _reduce(), "colorMode": BigValueColorMode.VALUE,
                  "graphMode": BigValueGraphMode.AREA, "textMode": BigValueTextMode.AUTO,
                  "justifyMode": BigValueJustifyMode.AUTO, "orientation": VizOrientation.AUTO})


def gauge(title: str, *targets: Target, unit: str = "percentunit", maximum: float = 1,
          width: int = 6, height: int = 6, description: str = "",
          thresholds: Thresholds = GREEN) -> Panel:
    return Panel("gauge", title, targets, width, height, description,
                 _field_defaults(unit, thresholds, min=0, max=maximum,
                                 color=dict(_BY_THRESHOLDS)),
                 {"reduceOptions": _reduce(), "showThresholdMarkers": True,
                  "showThresholdLabels": False})


def piechart(title: str, *targets: Target, unit: str = "short", width: int = 8, height: int = 8,
             description: str = "") -> Panel:
    legend = Legend(LegendDisplayMode.TABLE, LegendPlacement.RIGHT,
                    values=(PieChartLegendValues.PERCENT,))
    tooltip = Tooltip(TooltipDisplayMode.SINGLE, SortOrder.NONE)
    return Panel("piechart", title, targets, width, height, description,
                 _field_defaults(unit, GREEN),
                 {"reduceOptions": _reduce(), "pieType": PieChartType.DONUT,
                  "legend": legend.json(), "tooltip": tooltip.json()})


_TABLE_OPTIONS: Final[Json] = {"showHeader": True, "cellHeight": TableCellHeight.SM}


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
                 dict(_TABLE_OPTIONS),
                 ({"id": DataTransformerID.MERGE, "options": {}},
                  {"id": DataTransformerID.ORGANIZE,
                   "options": {"excludeByName": {"Time": True}, "renameByName": names}}))


def trace_search(title: str, query: str, width: int = 24, height: int = 10,
                 description: str = "") -> Panel:
    return Panel("table", title, (traceql(query),), width, height, description,
                 _field_defaults("short", GREEN), dict(_TABLE_OPTIONS))


def node_graph(title: str, width: int = 24, height: int = 12, description: str = "") -> Panel:
    return Panel("nodeGraph", title, (service_map(),), width, height, description, {}, {})


def logs(title: str, target: Target, width: int = 24, height: int = 12,
         description: str = "") -> Panel:
    return Panel("logs", title, (target,), width, height, description, {},
                 {"showTime": True, "wrapLogMessage": True,
                  "sortOrder": LogsSortOrder.DESCENDING, "enableLogDetails": True,
                  "dedupStrategy": LogsDedupStrategy.NONE, "showLabels": False,
                  "showCommonLabels": False, "prettifyLogMessage": False})


def text(title: str, markdown: str, width: int = 24, height: int = 3) -> Panel:
    return Panel("text", title, (), width, height, "", {},
                 {"mode": TextMode.MARKDOWN, "content": markdown})


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
        "graphTooltip": DashboardCursorSync.CROSSHAIR,  # line panels up in time
        "timezone": "browser",
        "time": {"from": time_from, "to": "now"},
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "annotations": {"list": []},
        "links": [{"title": "GatewayZ dashboards", "type": DashboardLinkType.DASHBOARDS,
                   "tags": ["gatewayz"], "asDropdown": True, "includeVars": True,
                   "keepTime": True}],
        "templating": {"list": [env_variable(settings), *variables]},
        "panels": list(_layout(items)),
    }

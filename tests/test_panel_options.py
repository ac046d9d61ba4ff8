"""Every value the dashboards send Grafana at a typed option (configs/dashboards/options.py) is
a member of its enum, and every typed option is sent somewhere: a string literal slipping back
into a helper with a wrong value, or a misspelt key, fails here instead of being ignored by
Grafana.
"""

import json
from collections.abc import Iterator
from enum import Enum
from typing import Any, Final

import pytest

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
    LokiQueryType,
    MappingType,
    PieChartLegendValues,
    PieChartType,
    PromQueryFormat,
    QueryEditorMode,
    ReducerID,
    SearchTableType,
    SortOrder,
    StackingMode,
    TableCellHeight,
    TempoQueryType,
    TextMode,
    ThresholdsMode,
    TooltipDisplayMode,
    VariableHide,
    VariableRefresh,
    VariableSort,
    VariableType,
    VisibilityMode,
    VizOrientation,
)
from configs.dashboards.queries import panels
from configs.datasources import Uid
from configs.render import to_json
from review.mock_runtime import ProgramRun

# A path into the JSON: keys, "*" for each element of a list.
Path = tuple[str, ...]

DASHBOARD_OPTIONS: Final[tuple[tuple[Path, type[Enum]], ...]] = (
    (("graphTooltip",), DashboardCursorSync),
    (("links", "*", "type"), DashboardLinkType),
    (("templating", "list", "*", "type"), VariableType),
    (("templating", "list", "*", "refresh"), VariableRefresh),
    (("templating", "list", "*", "sort"), VariableSort),
    (("templating", "list", "*", "hide"), VariableHide),
)
# Per panel type, as option keys like `mode` mean different things in different panels.
PANEL_OPTIONS: Final[tuple[tuple[str, Path, type[Enum]], ...]] = (
    ("timeseries", ("options", "legend", "displayMode"), LegendDisplayMode),
    ("timeseries", ("options", "legend", "placement"), LegendPlacement),
    ("timeseries", ("options", "tooltip", "mode"), TooltipDisplayMode),
    ("timeseries", ("options", "tooltip", "sort"), SortOrder),
    ("timeseries", ("fieldConfig", "defaults", "custom", "showPoints"), VisibilityMode),
    ("timeseries", ("fieldConfig", "defaults", "custom", "stacking", "mode"), StackingMode),
    ("piechart", ("options", "pieType"), PieChartType),
    ("piechart", ("options", "legend", "displayMode"), LegendDisplayMode),
    ("piechart", ("options", "legend", "placement"), LegendPlacement),
    ("piechart", ("options", "legend", "values", "*"), PieChartLegendValues),
    ("piechart", ("options", "tooltip", "mode"), TooltipDisplayMode),
    ("piechart", ("options", "tooltip", "sort"), SortOrder),
    ("piechart", ("options", "reduceOptions", "calcs", "*"), ReducerID),
    ("stat", ("options", "reduceOptions", "calcs", "*"), ReducerID),
    ("stat", ("options", "colorMode"), BigValueColorMode),
    ("stat", ("options", "graphMode"), BigValueGraphMode),
    ("stat", ("options", "textMode"), BigValueTextMode),
    ("stat", ("options", "justifyMode"), BigValueJustifyMode),
    ("stat", ("options", "orientation"), VizOrientation),
    ("stat", ("fieldConfig", "defaults", "color", "mode"), FieldColorModeId),
    ("stat", ("fieldConfig", "defaults", "mappings", "*", "type"), MappingType),
    ("gauge", ("options", "reduceOptions", "calcs", "*"), ReducerID),
    ("gauge", ("fieldConfig", "defaults", "color", "mode"), FieldColorModeId),
    ("table", ("options", "cellHeight"), TableCellHeight),
    ("table", ("transformations", "*", "id"), DataTransformerID),
    ("logs", ("options", "sortOrder"), LogsSortOrder),
    ("logs", ("options", "dedupStrategy"), LogsDedupStrategy),
    ("text", ("options", "mode"), TextMode),
    ("*", ("fieldConfig", "defaults", "thresholds", "mode"), ThresholdsMode),
)
# Per datasource, as `queryType` differs between Loki and Tempo.
TARGET_OPTIONS: Final[tuple[tuple[Uid, Path, type[Enum]], ...]] = (
    (Uid.PROMETHEUS, ("editorMode",), QueryEditorMode),
    (Uid.PROMETHEUS, ("format",), PromQueryFormat),
    (Uid.LOKI, ("editorMode",), QueryEditorMode),
    (Uid.LOKI, ("queryType",), LokiQueryType),
    (Uid.TEMPO, ("queryType",), TempoQueryType),
    (Uid.TEMPO, ("tableType",), SearchTableType),
)


def _at(node: Any, path: Path) -> Iterator[Any]:
    """The values at `path` under `node`; none where a key is absent."""
    if not path:
        yield node
    elif path[0] == "*":
        for item in node if isinstance(node, list) else ():
            yield from _at(item, path[1:])
    elif isinstance(node, dict) and path[0] in node:
        yield from _at(node[path[0]], path[1:])


def _sent(content: ProgramRun) -> Iterator[tuple[str, Path, type[Enum], Any]]:
    """(where, path, enum, value) for every typed option in the JSON sent to Grafana."""
    for resource in content.of_type("grafana:oss/dashboard:Dashboard"):
        model = json.loads(resource.plain_inputs()["configJson"])
        uid = model["uid"]
        for path, enum in DASHBOARD_OPTIONS:
            for value in _at(model, path):
                yield uid, path, enum, value
        for panel in panels(model):
            where = f"{uid} / {panel['title']}"
            for kind, path, enum in PANEL_OPTIONS:
                if kind in ("*", panel["type"]):
                    for value in _at(panel, path):
                        yield where, (panel["type"], *path), enum, value
            for target in panel.get("targets", []):
                for source, path, enum in TARGET_OPTIONS:
                    if target["datasource"]["uid"] == source:
                        for value in _at(target, path):
                            yield where, (source.value, *path), enum, value


def test_every_typed_option_value_is_a_member_of_its_enum(content: ProgramRun) -> None:
    wrong = [f"{where}: {'.'.join(path)} = {value!r} is no {enum.__name__}"
             for where, path, enum, value in _sent(content)
             if value not in {member.value for member in enum}]
    assert not wrong, "\n".join(wrong)


def test_every_typed_option_is_sent(content: ProgramRun) -> None:
    """A misspelt key in a helper would leave its typed path unfound."""
    found = {path for _, path, _, _ in _sent(content)}
    expected = {path for path, _ in DASHBOARD_OPTIONS}
    expected |= {(kind, *path) for kind, path, _ in PANEL_OPTIONS if kind != "*"}
    expected |= {(source.value, *path) for source, path, _ in TARGET_OPTIONS}
    assert expected <= found, sorted(expected - found)


@pytest.mark.parametrize("enum", [LegendDisplayMode, PieChartType, VariableHide])
def test_enum_members_serialise_as_their_plain_value(enum: type[Enum]) -> None:
    member = next(iter(enum))
    assert to_json({"v": member}, compact=True) == to_json({"v": member.value}, compact=True)

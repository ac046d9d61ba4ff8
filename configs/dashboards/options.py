"""The closed sets of values Grafana's panel, field, query and variable options take, as enums
named after Grafana's own schema, so a misspelt value is an AttributeError (and a mypy error)
instead of a key Grafana silently ignores or resets to its default.

We keep our own builders (panels.py) over grafana-foundation-sdk's, and type their options here.
Names and values are those of the enums grafana-foundation-sdk 1769699241 (PyPI) generates from
Grafana's schemas: grafana_foundation_sdk/models/common.py (legend, tooltip, stacking, points,
big value, orientation, table cell height, logs), dashboard.py (field color, thresholds,
mappings, cursor sync, links, variables), piechart.py, text.py, prometheus.py, loki.py and
tempo.py (queries). ReducerID and DataTransformerID, which the SDK leaves as plain strings, are
grafana/grafana packages/grafana-data/src/transformations/fieldReducer.ts and
transformations/transformers/ids.ts. Each enum lists upstream's full set, except those two,
which list only the members we use (upstream's run to dozens).
StrEnum and IntEnum members serialise as their plain value through json.dumps
(configs/render.to_json), so the rendered JSON is what string and int literals gave.
"""

from enum import IntEnum, StrEnum

# --- panel options -----------------------------------------------------------------------------


class LegendDisplayMode(StrEnum):
    LIST = "list"
    TABLE = "table"
    HIDDEN = "hidden"


class LegendPlacement(StrEnum):
    BOTTOM = "bottom"
    RIGHT = "right"


class TooltipDisplayMode(StrEnum):
    SINGLE = "single"
    MULTI = "multi"
    NONE = "none"


class SortOrder(StrEnum):
    ASCENDING = "asc"
    DESCENDING = "desc"
    NONE = "none"


class StackingMode(StrEnum):
    NONE = "none"
    NORMAL = "normal"
    PERCENT = "percent"


class VisibilityMode(StrEnum):
    """A graph's `showPoints`."""

    AUTO = "auto"
    NEVER = "never"
    ALWAYS = "always"


class BigValueColorMode(StrEnum):
    VALUE = "value"
    BACKGROUND = "background"
    BACKGROUND_SOLID = "background_solid"
    NONE = "none"


class BigValueGraphMode(StrEnum):
    NONE = "none"
    LINE = "line"
    AREA = "area"


class BigValueTextMode(StrEnum):
    AUTO = "auto"
    VALUE = "value"
    VALUE_AND_NAME = "value_and_name"
    NAME = "name"
    NONE = "none"


class BigValueJustifyMode(StrEnum):
    AUTO = "auto"
    CENTER = "center"


class VizOrientation(StrEnum):
    AUTO = "auto"
    VERTICAL = "vertical"
    HORIZONTAL = "horizontal"


class TableCellHeight(StrEnum):
    SM = "sm"
    MD = "md"
    LG = "lg"
    AUTO = "auto"


class LogsSortOrder(StrEnum):
    DESCENDING = "Descending"
    ASCENDING = "Ascending"


class LogsDedupStrategy(StrEnum):
    NONE = "none"
    EXACT = "exact"
    NUMBERS = "numbers"
    SIGNATURE = "signature"


class PieChartType(StrEnum):
    PIE = "pie"
    DONUT = "donut"


class PieChartLegendValues(StrEnum):
    VALUE = "value"
    PERCENT = "percent"


class TextMode(StrEnum):
    HTML = "html"
    MARKDOWN = "markdown"
    CODE = "code"


class ReducerID(StrEnum):
    """The reduce calculations we use."""

    LAST_NOT_NULL = "lastNotNull"


class DataTransformerID(StrEnum):
    """The transformations we use."""

    MERGE = "merge"
    ORGANIZE = "organize"


# --- field config and dashboard ----------------------------------------------------------------


class FieldColorModeId(StrEnum):
    THRESHOLDS = "thresholds"
    PALETTE_CLASSIC = "palette-classic"
    PALETTE_CLASSIC_BY_NAME = "palette-classic-by-name"
    CONTINUOUS_GR_YL_RD = "continuous-GrYlRd"
    CONTINUOUS_RD_YL_GR = "continuous-RdYlGr"
    CONTINUOUS_BL_YL_RD = "continuous-BlYlRd"
    CONTINUOUS_YL_RD = "continuous-YlRd"
    CONTINUOUS_BL_PU = "continuous-BlPu"
    CONTINUOUS_YL_BL = "continuous-YlBl"
    CONTINUOUS_BLUES = "continuous-blues"
    CONTINUOUS_REDS = "continuous-reds"
    CONTINUOUS_GREENS = "continuous-greens"
    CONTINUOUS_PURPLES = "continuous-purples"
    FIXED = "fixed"
    SHADES = "shades"


class ThresholdsMode(StrEnum):
    ABSOLUTE = "absolute"
    PERCENTAGE = "percentage"


class MappingType(StrEnum):
    VALUE_TO_TEXT = "value"
    RANGE_TO_TEXT = "range"
    REGEX_TO_TEXT = "regex"
    SPECIAL_VALUE = "special"


class DashboardCursorSync(IntEnum):
    """The dashboard's `graphTooltip`."""

    OFF = 0
    CROSSHAIR = 1
    TOOLTIP = 2


class DashboardLinkType(StrEnum):
    LINK = "link"
    DASHBOARDS = "dashboards"


class VariableType(StrEnum):
    QUERY = "query"
    ADHOC = "adhoc"
    GROUPBY = "groupby"
    CONSTANT = "constant"
    DATASOURCE = "datasource"
    INTERVAL = "interval"
    TEXTBOX = "textbox"
    CUSTOM = "custom"
    SYSTEM = "system"
    SNAPSHOT = "snapshot"


class VariableRefresh(IntEnum):
    NEVER = 0
    ON_DASHBOARD_LOAD = 1
    ON_TIME_RANGE_CHANGED = 2


class VariableSort(IntEnum):
    DISABLED = 0
    ALPHABETICAL_ASC = 1
    ALPHABETICAL_DESC = 2
    NUMERICAL_ASC = 3
    NUMERICAL_DESC = 4
    ALPHABETICAL_CASE_INSENSITIVE_ASC = 5
    ALPHABETICAL_CASE_INSENSITIVE_DESC = 6
    NATURAL_ASC = 7
    NATURAL_DESC = 8


class VariableHide(IntEnum):
    DONT_HIDE = 0
    HIDE_LABEL = 1
    HIDE_VARIABLE = 2


# --- queries -----------------------------------------------------------------------------------


class QueryEditorMode(StrEnum):
    CODE = "code"
    BUILDER = "builder"


class PromQueryFormat(StrEnum):
    TIME_SERIES = "time_series"
    TABLE = "table"
    HEATMAP = "heatmap"


class LokiQueryType(StrEnum):
    RANGE = "range"
    INSTANT = "instant"
    STREAM = "stream"


class TempoQueryType(StrEnum):
    TRACEQL = "traceql"
    TRACEQL_SEARCH = "traceqlSearch"
    SERVICE_MAP = "serviceMap"
    UPLOAD = "upload"
    NATIVE_SEARCH = "nativeSearch"
    TRACE_ID = "traceId"
    CLEAR = "clear"


class SearchTableType(StrEnum):
    """Tempo's `tableType`: one row per trace, per span, or raw."""

    TRACES = "traces"
    SPANS = "spans"
    RAW = "raw"

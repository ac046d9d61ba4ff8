"""A picture of each dashboard's layout, since no Grafana runs here to take a screenshot: the
rows and panels of the model the builders send (configs/dashboards/), each at its `gridPos` on
Grafana's 24-column grid, with its title, its type and a sketch of what that type draws.

The SVG is written with the standard library's xml.etree: it is a few rectangles, lines and
texts, which needs no drawing library, and ElementTree escapes text and keeps attributes in the
order given, so the bytes depend on the model alone (no timestamp, numbers in one fixed format,
panels in the model's order). `make docs` writes one file per dashboard into docs/dashboards/
with an index page; a test regenerates them and fails on any difference.

A collapsed row is drawn open, as Grafana lays it out when one expands it (its panels pushed
below it and what follows pushed down), with its panels dashed: the picture shows every panel.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from configs.dashboards import FOLDERS, Dashboard, FolderUid
from configs.dashboards.panels import GRID_COLUMNS

COLUMN: Final = 50  # px per grid column: 24 columns, 1200 px
UNIT: Final = 30  # px per grid unit of height (Grafana's own cell height)
GAP: Final = 4  # half the space between two panels
PAD: Final = 16
HEADER: Final = 84
FONT: Final = "Inter, Helvetica, Arial, sans-serif"
TITLE_SIZE: Final = 13
# A sans-serif glyph is about half its size wide; 0.6 keeps a fitted title inside its panel.
CHAR_WIDTH: Final = 0.6
INK: Final = "#24292f"
MUTED: Final = "#6e7781"
LINE: Final = "#d0d7de"
# The colour each type's sketch is drawn in (Grafana's classic palette); others grey.
COLORS: Final[Mapping[str, str]] = {"timeseries": "#73bf69", "stat": "#5794f2",
                                    "gauge": "#ff9830", "piechart": "#b877d9",
                                    "nodeGraph": "#5794f2"}
# A fixed wave for the line and area sketches: the same picture on every run.
WAVE: Final = (0.55, 0.35, 0.45, 0.2, 0.4, 0.3, 0.6, 0.25, 0.45, 0.15, 0.35, 0.3)
SVG_NS: Final = "http://www.w3.org/2000/svg"


def _num(value: float) -> str:
    """One decimal at most, no trailing zero: `12`, `12.5`."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class Box:
    """A panel or row where the picture draws it, in grid units (collapsed rows opened)."""

    id: int
    kind: str
    title: str
    x: int
    y: int
    w: int
    h: int
    grid: Mapping[str, int]  # the gridPos of the model, as Grafana reads it
    hidden: bool  # inside a row that is collapsed when the dashboard opens
    collapsed: bool = False
    children: int = 0


def layout(model: Mapping[str, Any]) -> tuple[Box, ...]:
    """Every row and panel, in the model's order, at its place with every row open.

    Grafana expands a collapsed row by moving its panels to start right below it (keeping their
    offsets from the first of them) and pushing what follows down by their height
    (public/app/features/dashboard/state/DashboardModel.ts `toggleRow`); the same here.
    """
    boxes: list[Box] = []
    shift = 0
    top: list[Mapping[str, Any]] = list(model.get("panels", []))
    for index, panel in enumerate(top):
        grid = panel["gridPos"]
        y = grid["y"] + shift
        if panel["type"] != "row":
            boxes.append(_box(panel, y, hidden=False))
            continue
        children = list(panel.get("panels", []))
        if panel.get("collapsed"):
            count = len(children)
        else:
            following = [item["type"] for item in top[index + 1:]]
            count = following.index("row") if "row" in following else len(following)
        boxes.append(_box(panel, y, hidden=False, collapsed=bool(panel.get("collapsed")),
                          children=count))
        if panel.get("collapsed") and children:
            offset = children[0]["gridPos"]["y"] - (grid["y"] + grid["h"])
            bottom = y + grid["h"]
            for child in children:
                child_y = child["gridPos"]["y"] - offset - grid["y"] + y
                boxes.append(_box(child, child_y, hidden=True))
                bottom = max(bottom, child_y + child["gridPos"]["h"])
            shift += bottom - y - grid["h"]
    return tuple(boxes)


def _box(panel: Mapping[str, Any], y: int, *, hidden: bool, collapsed: bool = False,
         children: int = 0) -> Box:
    grid = panel["gridPos"]
    return Box(int(panel["id"]), str(panel["type"]), str(panel.get("title", "")), grid["x"], y,
               grid["w"], grid["h"], dict(grid), hidden, collapsed, children)


def _fit(text: str, width: float, size: float) -> str:
    """`text`, cut with an ellipsis where it would overflow `width` px."""
    room = int(width / (size * CHAR_WIDTH))
    return text if len(text) <= room else text[:max(room - 1, 0)].rstrip() + "…"


def _sub(parent: ET.Element, tag: str, **attributes: str | float) -> ET.Element:
    values = {key.rstrip("_").replace("_", "-"): value if isinstance(value, str) else _num(value)
              for key, value in attributes.items()}
    return ET.SubElement(parent, tag, values)


def _text(parent: ET.Element, x: float, y: float, content: str, *, size: float,
          fill: str = INK, weight: str = "normal", anchor: str = "start") -> None:
    element = _sub(parent, "text", x=x, y=y, font_size=size, fill=fill)
    if weight != "normal":
        element.set("font-weight", weight)
    if anchor != "start":
        element.set("text-anchor", anchor)
    element.text = content


def _wave(left: float, top: float, width: float, height: float) -> list[tuple[float, float]]:
    step = width / (len(WAVE) - 1)
    return [(left + index * step, top + level * height) for index, level in enumerate(WAVE)]


def _points(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{_num(x)},{_num(y)}" for x, y in points)


def _sketch(group: ET.Element, kind: str, area: tuple[float, float, float, float]) -> None:
    """What a panel of this type roughly looks like, in the area (left, top, width, height)
    below its title."""
    left, top, width, height = area
    color = COLORS.get(kind, "#8c959f")
    sketch = _sub(group, "g", fill="none", stroke=color, stroke_width=2)
    if kind == "timeseries":
        _sub(sketch, "polyline", points=_points(_wave(left, top, width, height)))
        _sub(sketch, "line", x1=left, y1=top + height, x2=left + width, y2=top + height,
             stroke=LINE, stroke_width=1)
    elif kind == "stat":
        low = top + height / 2
        filled = [(left, top + height), *_wave(left, low, width, height / 2),
                  (left + width, top + height)]
        _sub(sketch, "polygon", points=_points(filled), fill=color, fill_opacity=0.2,
             stroke="none")
        _sub(sketch, "polyline", points=_points(_wave(left, low, width, height / 2)))
    elif kind == "gauge":
        radius = min(width / 2, height) - 4
        cx, cy = left + width / 2, top + height
        _sub(sketch, "path", d=f"M {_num(cx - radius)} {_num(cy)} A {_num(radius)} "
                               f"{_num(radius)} 0 0 1 {_num(cx + radius)} {_num(cy)}",
             stroke=LINE, stroke_width=8)
        _sub(sketch, "path", d=f"M {_num(cx - radius)} {_num(cy)} A {_num(radius)} "
                               f"{_num(radius)} 0 0 1 {_num(cx)} {_num(cy - radius)}",
             stroke_width=8)
    elif kind == "piechart":
        radius = min(width, height) / 2 - 6
        cx, cy = left + width / 2, top + height / 2
        _sub(sketch, "circle", cx=cx, cy=cy, r=radius, stroke=LINE, stroke_width=10)
        _sub(sketch, "path", d=f"M {_num(cx)} {_num(cy - radius)} A {_num(radius)} "
                               f"{_num(radius)} 0 0 1 {_num(cx + radius)} {_num(cy)}",
             stroke_width=10)
    elif kind == "nodeGraph":
        nodes = [(left + width * 0.2, top + height * 0.7), (left + width * 0.5,
                 top + height * 0.25), (left + width * 0.8, top + height * 0.7)]
        radius = max(min(height / 6, 18), 4)
        for (x1, y1), (x2, y2) in zip(nodes, [*nodes[1:], nodes[0]], strict=True):
            _sub(sketch, "line", x1=x1, y1=y1, x2=x2, y2=y2, stroke=LINE)
        for x, y in nodes:
            _sub(sketch, "circle", cx=x, cy=y, r=radius, fill="#ffffff")
    else:  # table, logs, text: lines of text or cells
        spacing = 12 if kind == "table" else 10
        lines = int(height // spacing)
        for index in range(min(lines, 12)):
            y = top + spacing * index + spacing / 2
            length = width if kind == "table" else width * (0.5 + WAVE[index] * 0.8)
            _sub(sketch, "line", x1=left, y1=y, x2=left + length, y2=y,
                 stroke=MUTED if kind == "table" and index == 0 else LINE,
                 stroke_width=2 if kind == "table" and index == 0 else 1)


def _panel(parent: ET.Element, box: Box, origin: float) -> None:
    grid = box.grid
    group = _sub(parent, "g", id=f"panel-{box.id}", data_type=box.kind,
                 data_grid=f"{grid['x']},{grid['y']},{grid['w']},{grid['h']}")
    ET.SubElement(group, "title").text = box.title
    x = PAD + box.x * COLUMN + GAP
    y = origin + box.y * UNIT + GAP
    width, height = box.w * COLUMN - 2 * GAP, box.h * UNIT - 2 * GAP
    if box.kind == "row":
        group.set("data-collapsed", str(box.collapsed).lower())
        _sub(group, "rect", x=x, y=y, width=width, height=height, rx=2, fill="#eaeef2")
        middle = y + height / 2 + 5
        _text(group, x + 8, middle, f"{'▸' if box.collapsed else '▾'} {box.title}", size=14,
              weight="bold")
        state = "collapsed when the dashboard opens, drawn open" if box.collapsed else "row"
        panels = f"{box.children} panel{'' if box.children == 1 else 's'}"
        _text(group, x + width - 8, middle, f"{state} · {panels}", size=11, fill=MUTED,
              anchor="end")
        return
    rect = _sub(group, "rect", x=x, y=y, width=width, height=height, rx=3,
                fill="#f6f8fa" if box.hidden else "#ffffff", stroke=LINE)
    if box.hidden:
        rect.set("stroke", "#8c959f")
        rect.set("stroke-dasharray", "5 3")
    _text(group, x + 8, y + 18, _fit(box.title, width - 16, TITLE_SIZE), size=TITLE_SIZE,
          weight="bold")
    _text(group, x + 8, y + 32, box.kind, size=11, fill=MUTED)
    area_top, area_bottom = y + 42, y + height - 8
    if area_bottom - area_top >= 16 and width >= 40:
        _sketch(group, box.kind, (x + 10, area_top, width - 20, area_bottom - area_top))


def svg(dashboard: Dashboard, stacks: Sequence[str]) -> str:
    """The layout picture of one dashboard, as deployed by `stacks` (said in its header)."""
    boxes = layout(dashboard.model)
    rows = max((box.y + box.h for box in boxes), default=0)
    width = 2 * PAD + GRID_COLUMNS * COLUMN
    height = HEADER + rows * UNIT + PAD
    root = ET.Element("svg", {"xmlns": SVG_NS, "width": str(width), "height": str(height),
                              "viewBox": f"0 0 {width} {height}", "font-family": FONT})
    ET.SubElement(root, "title").text = dashboard.title
    folder = next(folder.title for folder in FOLDERS if folder.uid == dashboard.folder)
    where = f"deployed by {', '.join(stacks)}" if stacks else ""
    description = " · ".join(part for part in (f"folder {folder}", f"uid {dashboard.uid}", where,
                                               f"{GRID_COLUMNS}-column grid") if part)
    ET.SubElement(root, "desc").text = (
        f"Layout of the Grafana dashboard {dashboard.title!r} ({description}), generated by "
        "make docs from configs/dashboards/.")
    _sub(root, "rect", width=width, height=height, fill="#f6f8fa")
    _text(root, PAD, PAD + 20, dashboard.title, size=20, weight="bold")
    _text(root, PAD, PAD + 40, description, size=12, fill=MUTED)
    if any(box.hidden for box in boxes):
        _text(root, PAD, PAD + 56, "▸ rows collapsed when the dashboard opens are drawn open, "
                                   "their panels dashed", size=11, fill=MUTED)
    _sub(root, "line", x1=PAD, y1=HEADER - 8, x2=width - PAD, y2=HEADER - 8, stroke=LINE)
    for box in boxes:
        _panel(root, box, HEADER)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


@dataclass(frozen=True)
class Picture:
    """One file of docs/dashboards/: a dashboard as the stacks named deploy it."""

    name: str
    dashboard: Dashboard
    stacks: tuple[str, ...]
    svg: str


def _merged_order(lists: Sequence[Sequence[str]]) -> list[str]:
    """The uids of every list, each list's order kept (a uid new in a later list goes right
    after the one before it there)."""
    order: list[str] = []
    for uids in lists:
        previous = -1
        for uid in uids:
            if uid in order:
                previous = order.index(uid)
            else:
                previous += 1
                order.insert(previous, uid)
    return order


def pictures(by_stack: Mapping[str, Sequence[Dashboard]]) -> tuple[Picture, ...]:
    """A picture per dashboard, `<uid>.svg`; where stacks lay one dashboard out differently, a
    picture per layout, `<uid>.<stacks>.svg`, each naming the stacks it is of."""
    found: dict[str, dict[str, Dashboard]] = {}
    for stack, dashboards in by_stack.items():
        for dashboard in dashboards:
            found.setdefault(dashboard.uid, {})[stack] = dashboard
    order = _merged_order([[dashboard.uid for dashboard in dashboards]
                           for dashboards in by_stack.values()])
    made = []
    for uid in order:
        layouts: dict[str, list[str]] = {}
        for stack, dashboard in found[uid].items():
            layouts.setdefault(svg(dashboard, ()), []).append(stack)
        for stacks in layouts.values():
            name = f"{uid}.svg" if len(layouts) == 1 else f"{uid}.{'-'.join(stacks)}.svg"
            dashboard = found[uid][stacks[0]]
            made.append(Picture(name, dashboard, tuple(stacks), svg(dashboard, stacks)))
    return tuple(made)


def _panel_count(dashboard: Dashboard) -> tuple[int, int]:
    boxes = layout(dashboard.model)
    return (sum(box.kind != "row" for box in boxes), sum(box.kind == "row" for box in boxes))


def index(made: Sequence[Picture], all_stacks: Sequence[str]) -> str:
    """docs/dashboards/README.md: a table of the pictures, then each picture in turn."""
    lines = [
        "# Dashboards, as laid out",
        "",
        "Generated by `make docs` (`review/dashboard_pictures.py`) from the dashboard builders "
        "in `configs/dashboards/`; a test fails when a picture here differs from what they "
        "build, so a layout change shows in the pull request that makes it. No Grafana runs "
        "here, so these are drawings, not screenshots: each row and panel at its `gridPos` on "
        f"Grafana's {GRID_COLUMNS}-column grid, with its title, its type and a sketch of that "
        "type. Rows collapsed when a dashboard opens are drawn open, their panels dashed.",
        "",
        "| Folder | Dashboard | uid | Stacks | Panels, rows |",
        "|---|---|---|---|---|",
    ]
    folders = [folder.uid for folder in FOLDERS]
    ordered = sorted(made, key=lambda picture: folders.index(FolderUid(picture.dashboard.folder)))
    for picture in ordered:
        dashboard = picture.dashboard
        folder = next(folder.title for folder in FOLDERS if folder.uid == dashboard.folder)
        stacks = ", ".join(picture.stacks)
        if len(picture.stacks) < len(all_stacks):
            stacks += " only"
        panels, rows = _panel_count(dashboard)
        lines.append(f"| {folder} | [{dashboard.title}]({picture.name}) | `{dashboard.uid}` | "
                     f"{stacks} | {panels}, {rows} |")
    for picture in ordered:
        where = ("every stack" if len(picture.stacks) == len(all_stacks)
                 else f"{', '.join(picture.stacks)} only")
        lines += ["", f"## {picture.dashboard.title} ({where})", "",
                  f"![Layout of {picture.dashboard.title}]({picture.name})"]
    return "\n".join(lines) + "\n"


def files(by_stack: Mapping[str, Sequence[Dashboard]]) -> dict[str, str]:
    """Every file of docs/dashboards/ by name: the pictures and README.md."""
    made = pictures(by_stack)
    return {**{picture.name: picture.svg for picture in made},
            "README.md": index(made, list(by_stack))}


def panel_titles(svg_text: str) -> Iterator[tuple[str, str]]:
    """(panel type, title) of every panel group in a picture, for tests and readers."""
    root = ET.fromstring(svg_text)
    for group in root.iter(f"{{{SVG_NS}}}g"):
        title = group.find(f"{{{SVG_NS}}}title")
        if group.get("data-type") and title is not None:
            yield str(group.get("data-type")), str(title.text)



__all__ = ["Box", "Picture", "files", "index", "layout", "panel_titles", "pictures", "svg"]

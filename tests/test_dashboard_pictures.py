"""The dashboards' layout pictures show what the builders lay out: every panel's title and type,
every row header, each at its grid position (a panel moved in a builder moves in the picture),
collapsed rows opened as Grafana opens them, one picture per layout a stack deploys."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Final

import pytest

from configs.dashboards import Dashboard, FolderUid
from configs.dashboards.panels import Panel, Row, dashboard, row, stat, timeseries
from configs.mixins import dashboards
from review.dashboard_pictures import (
    COLUMN,
    GAP,
    HEADER,
    PAD,
    SVG_NS,
    UNIT,
    files,
    layout,
    panel_titles,
    pictures,
    svg,
)
from settings import Settings
from settings.stack_file import file_settings

NS: Final = {"svg": SVG_NS}


def _walk(panels: Any) -> list[Any]:
    found = []
    for panel in panels:
        found.append(panel)
        found += _walk(panel.get("panels", []))
    return found


def _group(picture: str, panel_id: int) -> ET.Element:
    found = ET.fromstring(picture).find(f".//svg:g[@id='panel-{panel_id}']", NS)
    assert found is not None, f"panel {panel_id} is not drawn"
    return found


def _rect(picture: str, panel_id: int) -> tuple[float, float, float, float]:
    rect = _group(picture, panel_id).find("svg:rect", NS)
    assert rect is not None
    return (float(rect.get("x", "")), float(rect.get("y", "")), float(rect.get("width", "")),
            float(rect.get("height", "")))


def _texts(element: ET.Element) -> list[str]:
    return [str(text.text) for text in element.iter(f"{{{SVG_NS}}}text")]


def _small(settings: Settings, *items: Panel | Row) -> Dashboard:
    model = dashboard(settings, uid="test-layout", title="Test layout", tags=(), items=items)
    return Dashboard("test-layout", "Test layout", FolderUid.SERVICE, model)


@pytest.fixture(params=["staging", "production"])
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_panel_and_row_is_drawn_with_its_title_and_type(stack: str) -> None:
    for board in dashboards(file_settings(stack)):
        picture = svg(board, (stack,))
        panels = _walk(board.model["panels"])
        assert sorted(panel_titles(picture)) == sorted((panel["type"], panel["title"])
                                                       for panel in panels)
        for panel in panels:
            shown = _texts(_group(picture, panel["id"]))
            if panel["type"] == "row":
                arrow = "▸" if panel["collapsed"] else "▾"
                assert shown[0] == f"{arrow} {panel['title']}", "row header"
            else:
                title = panel["title"]
                assert shown[0] == title or (shown[0].endswith("…")
                                             and title.startswith(shown[0][:-1]))
                assert shown[1] == panel["type"]


def test_each_panel_sits_at_its_grid_position() -> None:
    board = next(board for board in dashboards(file_settings("production"))
                 if board.uid == "gatewayz-fastapi")  # no collapsed row: model y is drawn y
    picture = svg(board, ())
    for panel in _walk(board.model["panels"]):
        grid = panel["gridPos"]
        assert _rect(picture, panel["id"]) == (
            PAD + grid["x"] * COLUMN + GAP, HEADER + grid["y"] * UNIT + GAP,
            grid["w"] * COLUMN - 2 * GAP, grid["h"] * UNIT - 2 * GAP)
        assert _group(picture, panel["id"]).get("data-grid") == (
            f"{grid['x']},{grid['y']},{grid['w']},{grid['h']}")


def test_a_panel_moved_in_the_builder_moves_in_the_picture() -> None:
    settings = file_settings("staging")
    errors, latency = stat("Errors", width=6), timeseries("Latency", width=12)
    before = svg(_small(settings, errors, latency), ())
    after = svg(_small(settings, latency, errors), ())
    assert dict(panel_titles(before)) == dict(panel_titles(after))

    def x_of(picture: str, title: str) -> float:
        root = ET.fromstring(picture)
        group = next(group for group in root.iter(f"{{{SVG_NS}}}g")
                     if (name := group.find("svg:title", NS)) is not None and name.text == title)
        rect = group.find("svg:rect", NS)
        assert rect is not None
        return float(rect.get("x", ""))

    assert x_of(before, "Errors") == PAD + GAP
    assert x_of(after, "Errors") == PAD + 12 * COLUMN + GAP
    assert x_of(after, "Latency") == PAD + GAP
    wider = svg(_small(settings, stat("Errors", width=18), latency), ())
    assert _rect(wider, 1)[2] == 18 * COLUMN - 2 * GAP
    assert _rect(wider, 2)[1] > _rect(wider, 1)[1], "a panel that no longer fits wraps below"


def test_a_collapsed_row_is_drawn_open_pushing_what_follows_down() -> None:
    settings = file_settings("staging")
    board = _small(settings, row("Hidden", timeseries("Inside", height=8), collapsed=True),
                   row("Next", stat("After")))
    boxes = {box.title: box for box in layout(board.model)}
    # In the model the next row sits right under the collapsed header, over the hidden panel...
    top: Any = board.model["panels"]
    assert [panel["gridPos"]["y"] for panel in top] == [0, 1, 2]
    # ... in the picture the hidden panel opens below its header and the rest moves down.
    assert (boxes["Hidden"].y, boxes["Inside"].y, boxes["Next"].y, boxes["After"].y) == (
        0, 1, 9, 10)
    assert boxes["Inside"].hidden
    assert not boxes["After"].hidden
    picture = svg(board, ())
    rect = _group(picture, 2).find("svg:rect", NS)
    assert rect is not None
    assert rect.get("stroke-dasharray"), "a hidden panel is dashed"
    assert "collapsed when the dashboard opens" in " ".join(_texts(_group(picture, 1)))
    assert "drawn open" in " ".join(_texts(ET.fromstring(picture)))


def test_a_long_title_is_cut_to_its_panel_and_kept_whole_in_its_tooltip() -> None:
    title = "A title far too long for a panel only four columns wide, by design"
    picture = svg(_small(file_settings("staging"), stat(title, width=4)), ())
    shown = _texts(_group(picture, 1))[0]
    assert shown.endswith("…")
    assert title.startswith(shown[:-1])
    assert len(shown) * 13 * 0.6 <= 4 * COLUMN - 2 * GAP - 16
    assert dict((name, kind) for kind, name in panel_titles(picture)) == {title: "stat"}


def test_the_bytes_depend_on_the_model_alone(stack: str) -> None:
    boards = dashboards(file_settings(stack))
    first = [svg(board, (stack,)) for board in boards]
    assert first == [svg(board, (stack,)) for board in dashboards(file_settings(stack))]
    for picture in first:
        ET.fromstring(picture)
        numbers = re.findall(r'="(-?[\d.]+)"', picture)
        assert all(re.fullmatch(r"-?\d+(\.\d)?", number) for number in numbers)
        assert "\n" in picture.strip(), "indented, so that a diff shows the panel that moved"


def test_each_stack_deploys_its_own_dashboards() -> None:
    made = files({stack: dashboards(file_settings(stack)) for stack in ("staging", "production")})
    assert "gatewayz-redis.svg" in made
    index = made["README.md"]
    assert "| production only |" in index
    assert "## GatewayZ Redis (production only)" in index
    assert "deployed by production ·" in made["gatewayz-redis.svg"]
    # Application health has a Redis panel only where a Redis is watched: a picture per stack.
    split = "gatewayz-application-health"
    for board in dashboards(file_settings("production")):
        name = f"{board.uid}.production.svg" if board.uid == split else f"{board.uid}.svg"
        assert f"[{board.title}]({name})" in index
        assert f"![Layout of {board.title}]({name})" in index
    assert "Redis" not in {title for _, title in panel_titles(made[f"{split}.staging.svg"])}
    assert ("stat", "Redis") in set(panel_titles(made[f"{split}.production.svg"]))
    for board in dashboards(file_settings("staging")):
        if board.uid != split:
            assert "deployed by staging, production ·" in made[f"{board.uid}.svg"]


def test_a_dashboard_laid_out_differently_per_stack_gets_a_picture_per_stack() -> None:
    settings = file_settings("staging")
    one = _small(settings, stat("Errors"), stat("Latency"))
    other = _small(settings, stat("Latency"), stat("Errors"))
    made = pictures({"staging": [one], "production": [other], "qa": [one]})
    assert [(picture.name, picture.stacks) for picture in made] == [
        ("test-layout.staging-qa.svg", ("staging", "qa")),
        ("test-layout.production.svg", ("production",))]
    assert "deployed by staging, qa" in made[0].svg
    same = pictures({"staging": [one], "production": [one]})
    assert [(picture.name, picture.stacks) for picture in same] == [
        ("test-layout.svg", ("staging", "production"))]


def test_dashboards_keep_their_builder_order_across_stacks() -> None:
    settings = file_settings("staging")
    boards = {uid: Dashboard(uid, uid, FolderUid.SERVICE,
                             {**_small(settings, stat("x")).model, "uid": uid})
              for uid in "abcd"}
    made = pictures({"staging": [boards["a"], boards["c"], boards["d"]],
                     "production": [boards["a"], boards["b"], boards["c"]]})
    assert [picture.dashboard.uid for picture in made] == ["a", "b", "c", "d"]

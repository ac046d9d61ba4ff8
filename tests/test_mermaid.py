"""Every Mermaid diagram the docs show parses with Mermaid's own parser
(toolchain/node_packages.py), so GitHub draws it instead of an error box: those the generators
draw now (each committed stack's services and alert routing, the README's), and every ```mermaid
block of the repository's Markdown, hand-written ones included."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pytest

from review import diagram, routing_diagram
from review.stacks_page import STACKS
from settings.stack_file import ROOT, file_settings
from tests.support.tools import node_parser_errors
from toolchain import node_packages
from toolchain.cache import BuildError

_BLOCK: Final = re.compile(r"^```mermaid\n(.*?)^```$", re.M | re.S)
# Not the project's own Markdown: installed packages, build output, dot directories.
_NOT_OURS: Final = frozenset({"node_modules", "build"})


def _blocks(text: str, where: str) -> dict[str, str]:
    """Each ```mermaid block of `text`, by `where:<line of its fence>`."""
    return {f"{where}:{text.count(chr(10), 0, match.start()) + 1}": match[1]
            for match in _BLOCK.finditer(text)}


def _markdown_diagrams() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(ROOT.rglob("*.md")):
        parts = path.relative_to(ROOT).parts
        if any(part.startswith(".") or part in _NOT_OURS for part in parts):
            continue
        found |= _blocks(path.read_text(), str(path.relative_to(ROOT)))
    return found


def _generated_diagrams() -> dict[str, str]:
    found: dict[str, str] = {}
    for stack in STACKS:
        settings = file_settings(stack)
        for name, draw in (("diagram", diagram.mermaid), ("routing_diagram",
                                                           routing_diagram.mermaid)):
            (text,) = _blocks(draw(settings), "").values()
            found[f"review/{name}.py, stack {stack}"] = text
    return found


def _parse_errors(diagrams: dict[str, str]) -> dict[str, str]:
    return node_parser_errors(node_packages.mermaid_errors, diagrams)


def test_every_diagram_of_the_docs_parses_with_mermaid() -> None:
    markdown = _markdown_diagrams()
    # The finder found the pages the generators write, not nothing.
    assert {name.partition(":")[0] for name in markdown} >= {"README.md", "docs/stacks.md"}
    errors = _parse_errors({**_generated_diagrams(), **markdown})
    assert not errors, "\n\n".join(f"{name}: Mermaid cannot parse it:\n{message}"
                                   for name, message in errors.items())


def test_mermaid_refuses_a_broken_diagram_with_its_own_message() -> None:
    (good,) = _blocks(diagram.stack_diagram(), "").values()
    # An edge label whose closing quote was lost.
    broken = good.replace('-->|"scrape"|', '-->|"scrape|', 1)
    assert broken != good
    errors = _parse_errors({"good": good, "broken": broken})
    assert list(errors) == ["broken"]
    assert errors["broken"].startswith("Parse error on line"), errors["broken"]


def test_an_uninstalled_parser_says_to_run_make_tools(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("GATEWAYZ_CACHE", str(tmp_path))
    with pytest.raises(BuildError, match=r"mermaid 11\.17\.2 .* is not installed: run `make "
                                         r"tools`"):
        node_packages.mermaid_errors({"any": "flowchart LR\n  a --> b\n"})

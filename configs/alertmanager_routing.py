"""Alertmanager's label matchers and routing tree, for checks that reason about our config.

Only the forms our config writes (`name="value"`, `name=~"regex"`, `!=`, `!~`); anything else
raises, so a new form cannot be judged by the wrong rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

_MATCHER: Final = re.compile(r'^(\w+)(=~|!~|!=|=)"(.*)"$')


def matches(matchers: Iterable[str], labels: Mapping[str, str]) -> bool:
    """Whether `labels` satisfy every matcher; a missing label reads as empty (as Alertmanager)."""
    for matcher in matchers:
        parsed = _MATCHER.match(matcher)
        if parsed is None:
            raise ValueError(f"matcher not understood: {matcher}")
        name, op, value = parsed.groups()
        actual = labels.get(name, "")
        hit = re.fullmatch(value, actual) is not None if "~" in op else actual == value
        if hit == op.startswith("!"):
            return False
    return True


def receiver_for(route: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """The receiver Alertmanager's routing tree picks (first matching child, depth first)."""
    for child in route.get("routes", []):
        if matches(child.get("matchers", []), labels):
            return receiver_for(child, labels)
    return str(route["receiver"])

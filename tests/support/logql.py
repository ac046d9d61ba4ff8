"""A LogQL checker for the forms this project writes, since no Loki runs here (AGPL,
docs/engine.md):
a stream selector whose matchers parse and select something, then line filters with valid
regular expressions and parsers, optionally inside a range aggregation.

Stricter than Loki where it is cheap (every regex compiles, every matcher is `name op "value"`),
and it refuses any form it does not know, so a new form is added here on purpose.
"""

from __future__ import annotations

import re
from typing import Final

_MATCHER: Final = re.compile(r'\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_FILTER: Final = re.compile(r'\s*(\|=|!=|\|~|!~)\s*"((?:[^"\\]|\\.)*)"')
_PARSER: Final = re.compile(r"\s*\|\s*(json|logfmt)\b")
# `sum by (x) (count_over_time(<log query> [5m]))` and the plain range aggregation.
_METRIC: Final = re.compile(
    r"^(?:(?:sum|count|max|min|avg|topk)\s*(?:\(\s*\d+\s*,)?\s*(?:by\s*\([\w, ]*\)\s*)?\()?"
    r"\s*(?:count_over_time|rate|bytes_over_time|bytes_rate)\s*\((?P<log>.*)\[\d+[smhd]\]\s*\)"
    r"\s*\)?$", re.S)


def _regex_problem(pattern: str, where: str) -> list[str]:
    try:
        re.compile(pattern.encode().decode("unicode_escape"))
    except re.error as error:
        return [f"{where}: regex {pattern!r} does not compile: {error}"]
    return []


def _selector_problems(body: str) -> list[str]:
    problems, index, selects = [], 0, False
    while index < len(body):
        matched = _MATCHER.match(body, index)
        if matched is None:
            return [f"stream selector {{{body}}}: cannot read matchers from {body[index:]!r}"]
        name, op, value, _ = matched.groups()
        if op in ("=~", "!~"):
            problems += _regex_problem(value, f"matcher {name}{op}")
        # Loki refuses a selector whose every matcher matches the empty string.
        if (op == "=" and value) or (op == "=~" and not re.fullmatch(value, "")):
            selects = True
        index = matched.end()
    if not selects:
        problems.append(f"stream selector {{{body}}}: needs a matcher that cannot match ''")
    return problems


def logql_problems(expr: str) -> list[str]:
    """What is wrong with `expr`, empty when it reads as LogQL."""
    metric = _METRIC.match(expr.strip())
    query = (metric["log"] if metric else expr).strip()
    if not query.startswith("{") or "}" not in query:
        return [f"{expr}: no stream selector"]
    close = query.index("}")
    problems = _selector_problems(query[1:close])
    rest = query[close + 1:]
    while rest.strip():
        if (line := _FILTER.match(rest)) is not None:
            if line[1] in ("|~", "!~"):
                problems += _regex_problem(line[2], f"line filter {line[1]}")
            rest = rest[line.end():]
        elif (parser := _PARSER.match(rest)) is not None:
            rest = rest[parser.end():]
        else:
            return [*problems, f"{expr}: cannot read the pipeline from {rest.strip()!r}"]
    return problems


__all__ = ["logql_problems"]

"""The one PromQL helper set: selectors, rates, quantiles and ratios as strings, and the scanner
that reads metric names back out of an expression.

Rules, dashboards, `make validate` and the smoke test all build or read PromQL through here, so
a selector is written one way and a query is scanned one way.
"""

import re
from typing import Final


def eq(name: str, value: str) -> str:
    # Label values here are job names and env labels, validated (settings/parse.py) to need no
    # escaping.
    return f'{name}="{value}"'


def selector(metric: str, *matchers: str) -> str:
    """`metric{m1, m2}` from matchers such as `eq("job", "loki")` or `'code!~"2.."'`."""
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def rate(metric: str, *matchers: str, window: str) -> str:
    return f"rate({selector(metric, *matchers)}[{window}])"


def increase(metric: str, *matchers: str, window: str) -> str:
    return f"increase({selector(metric, *matchers)}[{window}])"


def sum_by(by: str, expr: str) -> str:
    return f"sum by ({by}) ({expr})"


def histogram_quantile(q: float, by: str, histogram: str, *matchers: str, window: str) -> str:
    """The q-quantile of a classic histogram per `by` labels (which must include `le`)."""
    buckets = rate(histogram + "_bucket", *matchers, window=window)
    return f"histogram_quantile({q}, {sum_by(by, buckets)})"


def ratio(part: str, whole: str, by: str = "") -> str:
    """sum(part) / sum(whole), per `by` labels when given; both are PromQL expressions."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} ({part}) / sum{grouping} ({whole})"


_WORDS: Final = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "on",
                           "ignoring", "group_left", "group_right", "inf", "nan"})
HISTOGRAM_SUFFIX: Final = re.compile(r"_(bucket|sum|count)$")


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside strings, matchers, ranges and
    label lists that are not functions or keywords; histogram series counted by base name."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][\w:]*", text):
        following = text[match.end():].lstrip()[:1]
        if following != "(" and match[0] not in _WORDS:
            names.add(HISTOGRAM_SUFFIX.sub("", match[0]))
    return names

"""The PromQL inside dashboard models, and Grafana's variables replaced by plain values.

Shared by `make validate` (promtool parses every query), the dashboard tests and the smoke test
(every query runs against a live Prometheus).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from configs.datasources import Uid, ref

_LABEL_VALUES: Final = re.compile(r"^label_values\((?P<selector>.+),\s*\w+\)$")
_VARIABLE: Final = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")
# Grafana's built-in variables, as a dashboard opened on the last hour would have them.
BUILTIN_VARIABLES: Final[Mapping[str, str]] = {
    "__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__auto": "1m"}


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    expr: str


def panels(model: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel in order of appearance, those inside collapsed rows included."""
    def walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            yield item
            yield from walk(item.get("panels", []))
    return walk(model.get("panels", []))


def variables(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = model.get("templating", {}).get("list", [])
    return found


def promql_queries(model: Mapping[str, Any], *, include_env_variable: bool = True) -> list[Query]:
    """PromQL of Prometheus targets, Tempo's service-map selector and query variables."""
    uid = str(model["uid"])
    found: list[Query] = []
    for panel in panels(model):
        for target in panel.get("targets", []):
            if target.get("datasource") == ref(Uid.PROMETHEUS):
                found.append(Query(uid, str(panel["title"]), target["expr"]))
            elif target.get("queryType") == "serviceMap":
                found.append(Query(uid, str(panel["title"]), target["serviceMapQuery"]))
    for variable in variables(model):
        if variable.get("datasource") != ref(Uid.PROMETHEUS):
            continue
        if variable["name"] == "env" and not include_env_variable:
            continue  # it lists every env, so it cannot filter on one
        match = _LABEL_VALUES.match(str(variable["definition"]))
        if match is None:
            raise ValueError(f"{uid}: variable {variable['name']} is not a label_values query")
        found.append(Query(uid, f"variable {variable['name']}", match["selector"]))
    return found


def variable_values(model: Mapping[str, Any], environment: str,
                    backend_job: str) -> dict[str, str]:
    """A dashboard's variables as this stack would fill them: env and job from its settings,
    the rest as the dashboard preselects them (`All` as a match-anything regex)."""
    values = dict(BUILTIN_VARIABLES)
    for variable in variables(model):
        current = str(variable.get("current", {}).get("value", ""))
        values[variable["name"]] = ".*" if current in ("$__all", "") else current
    values.update(env=environment, job=backend_job)
    return values


def plain(expr: str, values: Mapping[str, str]) -> str:
    """`$name`, `${name}` and `${name:format}` replaced. A variable the dashboard does not define
    is left as it is, so promtool or Prometheus reject the query instead of it passing by luck."""
    return _VARIABLE.sub(lambda m: values.get(m[1], m[0]), expr)

"""What a panel asks: queries (PromQL on the chosen environment, LogQL, TraceQL, Tempo's service
map) as typed targets, and which of the backend's not-yet-exported metrics a query needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from configs import promql as pq
from configs.dashboards.options import (
    LokiQueryType,
    PromQueryFormat,
    QueryEditorMode,
    SearchTableType,
    TempoQueryType,
)
from configs.datasources import Uid
from services import Service

ENV_VARIABLE: Final = "env"
# Every PromQL selector filters on this matcher, so switching env switches every panel.
ENV_MATCHER: Final = f'env="${ENV_VARIABLE}"'

# Metrics asked of the backend team but not on its /metrics yet (https://api.gatewayz.ai/metrics
# serves the exported ones). A panel that queries one says so in its description, so an empty
# panel explains itself.
WANTED_METRICS: Final[frozenset[str]] = frozenset({
    "provider_availability",
    "provider_error_rate",
    "provider_response_time_seconds",
    "gatewayz_provider_health_score",
    "gatewayz_circuit_breaker_state",
    "gatewayz_model_uptime_24h",
    "gatewayz_cost_by_provider",
    "gatewayz_token_efficiency",
    "gatewayz_detected_anomalies",
})
# Grafana widens it to at least four scrape intervals, so rate() always has two samples.
RATE_WINDOW: Final = "$__rate_interval"
# The backend job the dashboard shows (see `job_variable`).
BACKEND_JOB: Final = 'job="$job"'


@dataclass(frozen=True)
class Target:
    """One query of a panel; `fields` are the datasource-specific keys (expr, query, ...)."""

    datasource: Uid
    fields: Mapping[str, object]

    @property
    def text(self) -> str:
        """The query text, where the wanted-metric check looks for metric names."""
        return str(self.fields.get("expr", self.fields.get("query", "")))


def stack_job(service: Service) -> str:
    """Matcher for the self-scrape job of one of the stack's services."""
    return f'job="{service.job}"'


# configs.promql on the dashboard's chosen environment: every selector carries `env="$env"`.
def series(metric: str, *matchers: str) -> str:
    """A selector on the chosen environment: `metric{env="$env", <matchers>}`."""
    return pq.selector(metric, ENV_MATCHER, *matchers)


def rate(metric: str, *matchers: str, window: str = RATE_WINDOW) -> str:
    return pq.rate(metric, ENV_MATCHER, *matchers, window=window)


def increase(metric: str, *matchers: str, window: str = "$__range") -> str:
    return pq.increase(metric, ENV_MATCHER, *matchers, window=window)


def quantile(q: float, histogram: str, *matchers: str, by: str = "") -> str:
    """The q-quantile of a classic histogram, over all series or per `by` labels."""
    labels = ", ".join(label for label in ("le", by) if label)
    return pq.histogram_quantile(q, labels, histogram, ENV_MATCHER, *matchers,
                                      window=RATE_WINDOW)


ratio: Final = pq.ratio


def promql(expr: str, legend: str = "", *, instant: bool = False, table: bool = False,
           exemplar: bool = False) -> Target:
    return Target(Uid.PROMETHEUS, {
        "expr": expr,
        "legendFormat": legend or "__auto",
        "editorMode": QueryEditorMode.CODE,
        "range": not instant,
        "instant": instant,
        "format": PromQueryFormat.TABLE if table else PromQueryFormat.TIME_SERIES,
        "exemplar": exemplar,
    })


def logql(expr: str, legend: str = "") -> Target:
    return Target(Uid.LOKI, {
        "expr": expr,
        "legendFormat": legend,
        "editorMode": QueryEditorMode.CODE,
        "queryType": LokiQueryType.RANGE,
    })


def traceql(query: str, limit: int = 20) -> Target:
    return Target(Uid.TEMPO, {
        "queryType": TempoQueryType.TRACEQL,
        "query": query,
        "limit": limit,
        "tableType": SearchTableType.TRACES,
    })


def service_map() -> Target:
    """Tempo's service graph, read from the span metrics Prometheus holds for this env."""
    return Target(Uid.TEMPO, {"queryType": TempoQueryType.SERVICE_MAP,
                              "serviceMapQuery": "{" + ENV_MATCHER + "}"})


def wanted_metrics(targets: Sequence[Target]) -> list[str]:
    """The not-yet-exported metrics the targets query, histogram series counted by base name."""
    found: set[str] = set()
    for target in targets:
        found.update(pq.metric_names(target.text) & WANTED_METRICS)
    return sorted(found)

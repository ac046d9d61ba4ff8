"""The Grafana datasources: fixed uids, and the links between metrics, logs and traces.

Dashboards and links refer to a datasource only through `ref()` and `Uid`, never a literal uid,
so a dashboard cannot point at a datasource this stack does not provision.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from configs.loki import query_url
from services import Service, internal_url
from settings import Platform, Settings


class Uid(StrEnum):
    PROMETHEUS = "grafana_prometheus"
    LOKI = "grafana_loki"
    TEMPO = "grafana_tempo"
    ALERTMANAGER = "grafana_alertmanager"


TYPES: Final[Mapping[Uid, str]] = {
    Uid.PROMETHEUS: "prometheus",
    Uid.LOKI: "loki",
    Uid.TEMPO: "tempo",
    Uid.ALERTMANAGER: "alertmanager",
}

# The backend writes `trace_id=<hex>` into its log lines, the id of the span that logged them.
TRACE_ID_PATTERN: Final = r"trace_id=([0-9a-fA-F]+)"
# Exemplar label that holds the trace id on Tempo's span metrics.
EXEMPLAR_TRACE_LABEL: Final = "traceID"


def ref(uid: Uid) -> dict[str, str]:
    """A dashboard's datasource reference: type and uid, as Grafana's schema has them."""
    return {"type": TYPES[uid], "uid": uid.value}


@dataclass(frozen=True)
class Datasource:
    uid: Uid
    name: str
    url: str
    is_default: bool
    # Settings that name other datasources: applied after all of them exist (see components/).
    json_data: Mapping[str, object]

    @property
    def type(self) -> str:
        return TYPES[self.uid]


def datasources(settings: Settings) -> tuple[Datasource, ...]:
    """Every datasource of the stack, Prometheus the only default."""
    span_window = {"spanStartTimeShift": "-5m", "spanEndTimeShift": "5m"}
    # On Kubernetes the `loki` Service is the write path; queries go to the read path's.
    loki = query_url(settings.platform is Platform.KUBERNETES)
    return (
        Datasource(Uid.PROMETHEUS, "Prometheus", internal_url(Service.PROMETHEUS), True, {
            "httpMethod": "POST",
            "prometheusType": "Prometheus",
            "timeInterval": str(settings.scrape_interval),
            "exemplarTraceIdDestinations": [
                {"name": EXEMPLAR_TRACE_LABEL, "datasourceUid": Uid.TEMPO.value},
            ],
        }),
        Datasource(Uid.LOKI, "Loki", loki, False, {
            # A string in Grafana's Loki options (grafana/grafana, commit 0004722,
            # public/app/plugins/datasource/loki/types.ts: `LokiOptions.maxLines?: string`).
            "maxLines": "1000",
            "derivedFields": [{
                "name": "TraceID",
                "matcherRegex": TRACE_ID_PATTERN,
                "datasourceUid": Uid.TEMPO.value,
                # Sent through the API as is: `$$` escaping is for provisioning files only.
                "url": "${__value.raw}",
            }],
        }),
        Datasource(Uid.TEMPO, "Tempo", internal_url(Service.TEMPO), False, {
            "tracesToLogsV2": {
                "datasourceUid": Uid.LOKI.value,
                **span_window,
                "filterByTraceID": True,
                "filterBySpanID": False,
                "tags": [{"key": "service.name", "value": "service_name"}],
            },
            "tracesToMetrics": {
                "datasourceUid": Uid.PROMETHEUS.value,
                **span_window,
                "tags": [{"key": "service.name", "value": "service"}],
                "queries": [
                    {"name": "Request rate",
                     "query": "sum(rate(traces_spanmetrics_calls_total{$__tags}[5m]))"},
                    {"name": "Error rate",
                     "query": 'sum(rate(traces_spanmetrics_calls_total{$__tags,'
                              'status_code="STATUS_CODE_ERROR"}[5m]))'},
                    {"name": "p95 latency",
                     "query": "histogram_quantile(0.95, sum by (le) "
                              "(rate(traces_spanmetrics_latency_bucket{$__tags}[5m])))"},
                ],
            },
            "serviceMap": {"datasourceUid": Uid.PROMETHEUS.value},
            "nodeGraph": {"enabled": True},
            "search": {"hide": False},
        }),
        Datasource(Uid.ALERTMANAGER, "Alertmanager", internal_url(Service.ALERTMANAGER), False, {
            "implementation": "prometheus",
            "handleGrafanaManagedAlerts": False,
        }),
    )


def linked_uids(json_data: Mapping[str, object]) -> set[str]:
    """Every datasource uid a datasource's settings point at, however deeply nested."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, Mapping):
            for key, child in value.items():
                if key == "datasourceUid" and isinstance(child, str):
                    found.add(child)
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(json_data)
    return found

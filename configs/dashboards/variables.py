"""The dashboards' variables: env and backend job from the stack settings, label values from
Prometheus and Loki, and free-text search boxes.
"""

from __future__ import annotations

from typing import Final

from configs.dashboards.options import VariableHide, VariableRefresh, VariableSort, VariableType
from configs.dashboards.targets import ENV_VARIABLE
from configs.datasources import Uid, ref
from settings import Settings

Json = dict[str, object]


def _current(value: str) -> Json:
    return {"selected": True, "text": value, "value": value}


_ALL: Final[Json] = {"selected": True, "text": "All", "value": "$__all"}
# Label values change with the time range: re-query on each change.
_ON_TIME_RANGE_SORTED: Final[Json] = {
    "refresh": VariableRefresh.ON_TIME_RANGE_CHANGED, "sort": VariableSort.ALPHABETICAL_ASC,
    "hide": VariableHide.DONT_HIDE}


def env_variable(settings: Settings) -> Json:
    """The environment picker: every `env` Prometheus scrapes, this stack's own preselected."""
    query = f"label_values(up, {ENV_VARIABLE})"
    return {
        "name": ENV_VARIABLE, "label": "Environment", "type": VariableType.QUERY,
        "datasource": ref(Uid.PROMETHEUS),
        "query": {"qryType": 1, "query": query,
                  "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "current": _current(settings.environment),
        "options": [], "refresh": VariableRefresh.ON_DASHBOARD_LOAD,
        "sort": VariableSort.ALPHABETICAL_ASC, "hide": VariableHide.DONT_HIDE,
        "includeAll": False, "multi": False,
    }


def job_variable(settings: Settings) -> Json:
    """The backend job to show; hidden while the backend is the only one this stack scrapes."""
    jobs = [target.job for target in settings.external_targets]
    return {
        "name": "job", "label": "Backend job", "type": VariableType.CUSTOM,
        "query": ",".join(jobs),
        "current": _current(settings.backend.job),
        "options": [{"selected": job == settings.backend.job, "text": job, "value": job}
                    for job in jobs],
        "hide": VariableHide.DONT_HIDE if len(jobs) > 1 else VariableHide.HIDE_VARIABLE,
        "includeAll": False, "multi": False,
    }


def prometheus_label_variable(name: str, label: str, selector: str, title: str) -> Json:
    """Values of `label` on the series `selector` picks; All means any value."""
    query = f"label_values({selector}, {label})"
    return {
        "name": name, "label": title, "type": VariableType.QUERY,
        "datasource": ref(Uid.PROMETHEUS),
        "query": {"qryType": 1, "query": query,
                  "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "current": dict(_ALL), "options": [], **_ON_TIME_RANGE_SORTED,
        "includeAll": True, "allValue": ".*", "multi": True,
    }


def loki_label_variable(name: str, label: str, title: str) -> Json:
    """Values of a Loki stream label; All is `.+` because a stream selector must not match ''."""
    return {
        "name": name, "label": title, "type": VariableType.QUERY,
        "datasource": ref(Uid.LOKI),
        "query": {"type": 1, "label": label, "stream": "",
                  "refId": "LokiVariableQueryEditor-VariableQuery"},
        "definition": f"label_values({label})",
        "current": dict(_ALL), "options": [], **_ON_TIME_RANGE_SORTED,
        "includeAll": True, "allValue": ".+", "multi": True,
    }


def textbox_variable(name: str, title: str) -> Json:
    return {"name": name, "label": title, "type": VariableType.TEXTBOX, "query": "",
            "current": {"text": "", "value": ""}, "options": [], "hide": VariableHide.DONT_HIDE}

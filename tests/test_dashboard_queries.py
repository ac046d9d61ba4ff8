"""Grafana variables in dashboard queries, replaced as the validators and smoke test see them."""

from __future__ import annotations

from configs.dashboards.queries import plain, variable_values


def test_plain_replaces_known_variables_and_leaves_unknown_ones_visible() -> None:
    values = {"env": "staging", "__rate_interval": "1m"}
    assert plain('rate(x{env="$env", s=~"${env:regex}"}[$__rate_interval]) $other',
                 values) == 'rate(x{env="staging", s=~"staging"}[1m]) $other'


def test_variables_take_the_stack_values_or_what_the_dashboard_preselects() -> None:
    model = {"templating": {"list": [
        {"name": "env", "current": {"value": "production"}},
        {"name": "service", "current": {"value": "$__all"}},
        {"name": "search", "current": {"value": ""}},
        {"name": "model", "current": {"value": "gpt-4o"}},
    ]}}
    values = variable_values(model, "staging", "gatewayz_staging")
    assert (values["env"], values["job"], values["service"], values["search"], values["model"],
            values["__rate_interval"]) == ("staging", "gatewayz_staging", ".*", ".*", "gpt-4o",
                                           "1m")

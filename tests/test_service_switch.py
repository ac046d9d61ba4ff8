"""A service the stack does not run leaves nothing of it anywhere: no container, scrape job, rule,
dashboard or panel, verify check or diagram node. `Settings.services` decides once what a stack
runs; redis_exporter is the service a stack switches off (no `redisAddress`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from configs.dashboards.queries import panels
from configs.mixins import dashboards, rule_files
from configs.prometheus import prometheus_config
from configs.render import to_yaml
from ops.verify import run_checks
from ops.verify.context import Context, expected_for, published_urls
from review.diagram import mermaid
from review.mock_runtime import stack_settings
from review.render import render
from services import Service
from settings import Settings

# What of redis_exporter could show: its job and container name, its metrics (`redis_*`). The
# word Redis alone is no trace: the backend's runbooks name the Redis the backend uses.
TRACES: Final = ("redis_exporter", "redis-exporter", "redis_")
EXCLUDED_JOBS: Final = re.compile(r'job!~"[^"]*"')
# Production watches a Redis; these switch it off.
OFF: Final = {"redisAddress": None, "redisAuth": None, "redisPassword": None}


def _settings(on: bool) -> Settings:
    return stack_settings("production", None if on else OFF)


def _jobs(settings: Settings) -> list[str]:
    config: Any = prometheus_config(settings, [])
    return [job["job_name"] for job in config["scrape_configs"]]


def _alerts(settings: Settings) -> Iterator[str]:
    """Every alert rule as YAML, each on its own, with its name, expression and annotations;
    without the jobs a selector leaves out (TargetDown's `job!~"..."`, a fixed list that keeps
    staging's rules as they were), which select nothing of a job that is not there."""
    for document in rule_files(settings).values():
        rules: Any = document["groups"]
        yield from (EXCLUDED_JOBS.sub("", to_yaml(rule)) for group in rules
                    for rule in group["rules"] if "alert" in rule)


def _panels(settings: Settings) -> Iterator[str]:
    """Every panel of every dashboard as JSON: title, queries and all."""
    for dashboard in dashboards(settings):
        yield from (json.dumps(panel) for panel in panels(dashboard.model)
                    if panel.get("type") != "row")


def _check_names(settings: Settings) -> list[str]:
    """The verify checks a run makes, against a stack that answers 503 to everything."""
    client = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(503)))
    with client:
        ctx = Context(published_urls(settings), expected_for(settings), client)
        return [result.name for result in run_checks(ctx)]


def _nodes(settings: Settings) -> list[str]:
    """The diagram's node lines (an id and its label), edges left out."""
    return [line for line in mermaid(settings).splitlines() if "-->" not in line]


def _mentions(texts: Iterator[str] | list[str]) -> list[str]:
    return [text for text in texts if any(trace in text for trace in TRACES)]


@pytest.mark.parametrize("on", [True, False], ids=["watched", "switched-off"])
def test_a_service_shows_exactly_where_the_stack_runs_it(on: bool) -> None:
    settings = _settings(on)
    assert (Service.REDIS_EXPORTER in settings.services) is on
    found = {
        "job": _mentions(_jobs(settings)),
        "alert": _mentions(_alerts(settings)),
        "panel": _mentions(_panels(settings)),
        "check": _mentions(_check_names(settings)),
        "diagram node": _mentions(_nodes(settings)),
    }
    if on:
        assert all(found.values()), {kind: bool(seen) for kind, seen in found.items()}
    else:
        assert found == {kind: [] for kind in found}


def test_a_switched_off_service_has_no_container(tmp_path: Path) -> None:
    on = render("production", tmp_path / "on").containers()
    off = render("production", tmp_path / "off", OFF).containers()
    assert set(on) - set(off) == {Service.REDIS_EXPORTER.value}
    assert not (tmp_path / "off" / "files" / Service.REDIS_EXPORTER.value).exists()

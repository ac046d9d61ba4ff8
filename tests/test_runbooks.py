"""Every alert of both stacks has a runbook, reachable from its `runbook_url`, whose queries parse
(PromQL with the real promtool, LogQL with Grafana's LogQL grammar and tests/support/logql.py),
whose panels and `make verify` lines exist, and which Slack shows; docs/alerts.md is what `make
docs` writes. The smoke tier runs the PromQL on a live Prometheus (docs/smoke.md).
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from configs import mixins
from configs.dashboards.queries import panels
from configs.mixins import dashboards, rule_files, runbooks
from configs.render import to_yaml
from configs.rules import watchdog
from configs.rules.helpers import RUNBOOK, LogQL, Panel, PromQL, Runbook, Verify
from ops.verify import run_checks
from ops.verify.context import Urls, expected_for, open_context
from review import alerts_doc
from settings import Settings, SettingsError, parse_settings
from settings.stack_file import file_settings
from tests.support.logql import logql_problems
from tests.support.tools import node_parser_errors, require_tool
from toolchain import node_packages

STACKS: Final = alerts_doc.STACKS
# GitHub's heading anchors (as GitLab's and Gitea's): lower case, punctuation dropped, spaces
# to hyphens.
_HEADING: Final = re.compile(r"^#{1,6} (.+)$", re.M)


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.fixture(params=STACKS)
def settings(request: pytest.FixtureRequest) -> Settings:
    """The stack as its stack file describes it: the alerts it really renders."""
    return file_settings(str(request.param))


def _rendered_alerts(settings: Settings) -> list[dict[str, Any]]:
    return [rule for document in rule_files(settings).values()
            for group in yaml.safe_load(to_yaml(document))["groups"]
            for rule in group["rules"] if "alert" in rule]


def _checks(settings: Settings, kind: type) -> list[tuple[str, Any]]:
    return [(book.alert, check) for book in runbooks(settings) for check in book.runbook.checks
            if isinstance(check, kind)]


# --- every alert has one, and its link lands on it -------------------------------------------

def test_each_stack_renders_the_alerts_the_docs_count() -> None:
    counts = {stack: len(_rendered_alerts(file_settings(stack))) for stack in STACKS}
    assert counts == {"staging": 31, "production": 36, "cluster": 40}


def test_every_rendered_alert_links_an_anchor_of_docs_alerts(settings: Settings) -> None:
    text = alerts_doc.PATH.read_text()
    anchors = {_slug(heading) for heading in _HEADING.findall(text)}
    base = settings.alerting.runbook_base
    for rule in _rendered_alerts(settings):
        url = rule["annotations"]["runbook_url"]
        page, _, fragment = url.partition("#")
        assert page == base, url
        assert fragment in anchors, f"{rule['alert']}: no heading for #{fragment}"
        # The section under that anchor is this alert's, with every part of a runbook.
        section = text.split(f"\n### {rule['alert']}\n", 1)[1].split("\n### ", 1)[0]
        for part in ("What it means", "What users of GatewayZ see", "Likely causes",
                     "First checks", "What to do", "When it resolves by itself"):
            assert f"**{part}.**" in section, (rule["alert"], part)


def test_the_runbook_base_is_a_stack_setting() -> None:
    raw = {"backendMetricsUrl": "https://api.gatewayz.ai/metrics", "protectData": "true",
           "alertRunbookBaseUrl": "https://git.example/gatewayz/blob/main/docs/alerts.md"}
    settings = parse_settings("production", raw, frozenset())
    assert {rule["annotations"]["runbook_url"] for rule in _rendered_alerts(settings)
            if rule["alert"] == "BackendDown"} == {
        "https://git.example/gatewayz/blob/main/docs/alerts.md#backenddown"}


@pytest.mark.parametrize("base", ["https://wiki.example/runbooks#top", "runbooks here.md",
                                  "ftp://example/alerts.md", "alerts.txt"])
def test_a_runbook_base_that_cannot_take_an_anchor_is_refused(base: str) -> None:
    raw = {"backendMetricsUrl": "https://api.gatewayz.ai/metrics", "alertRunbookBaseUrl": base}
    with pytest.raises(SettingsError, match="alertRunbookBaseUrl"):
        parse_settings("production", raw, frozenset())


def test_an_alert_without_a_runbook_is_refused(settings: Settings,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    built = watchdog.document

    def without(stack: Settings) -> dict[str, object]:
        document: Any = built(stack)
        del document["groups"][0]["rules"][0][RUNBOOK]
        return dict(document)

    monkeypatch.setattr(mixins, "MIXINS", tuple(
        dataclasses.replace(mixin, rules=tuple(
            dataclasses.replace(file, build=without) if file.build is built else file
            for file in mixin.rules))
        for mixin in mixins.MIXINS))
    with pytest.raises(ValueError, match="Watchdog has no runbook"):
        rule_files(settings)


@pytest.mark.parametrize("field", ["meaning", "impact", "causes", "checks", "actions",
                                   "resolves"])
def test_a_runbook_missing_a_part_is_refused(settings: Settings, field: str) -> None:
    book = runbooks(settings)[0].runbook
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(book, **{field: type(getattr(book, field))()})


def test_a_runbook_without_a_query_is_refused(settings: Settings) -> None:
    book = runbooks(settings)[0].runbook
    panels_only = tuple(check for check in book.checks if isinstance(check, Panel))
    with pytest.raises(ValueError, match="query"):
        Runbook(book.meaning, book.impact, book.causes, panels_only, book.actions,
                book.resolves)


def test_one_runbook_per_alert_name(settings: Settings) -> None:
    # The severities of one alert share its section, so they must share its text.
    seen: dict[str, Runbook] = {}
    for book in runbooks(settings):
        assert seen.setdefault(book.alert, book.runbook) == book.runbook, book.alert


# --- what a runbook names exists ---------------------------------------------------------------

def _promtool_rejects(exprs: list[str], tmp_path: Path) -> list[int]:
    """Indexes of the expressions promtool cannot parse (each checked as a recording rule)."""
    rules = [{"record": f"runbook:query_{index}", "expr": expr}
             for index, expr in enumerate(exprs)]
    path = tmp_path / "runbooks.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "runbooks", "rules": rules}]}))
    result = subprocess.run([require_tool("promtool"), "check", "rules", str(path)],
                            capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    failing = sorted({int(n) for n in re.findall(r"runbook:query_(\d+)", output)})
    assert (result.returncode == 0) == (not failing), output
    return failing


def test_every_promql_of_a_runbook_parses_with_promtool(settings: Settings,
                                                        tmp_path: Path) -> None:
    queries = _checks(settings, PromQL)
    assert queries
    failing = _promtool_rejects([check.expr for _, check in queries], tmp_path)
    assert not failing, "\n".join(f"{queries[i][0]}: {queries[i][1].expr}" for i in failing)


def test_promtool_rejects_a_query_that_does_not_parse(tmp_path: Path) -> None:
    assert _promtool_rejects(['up{job="prometheus"}', "sum by (job (up)"], tmp_path) == [1]


def test_every_logql_of_a_runbook_reads_as_logql(settings: Settings) -> None:
    queries = _checks(settings, LogQL)
    assert queries
    for alert, check in queries:
        assert not logql_problems(check.expr), (alert, check.expr, logql_problems(check.expr))


def test_every_logql_of_a_runbook_parses_with_grafanas_grammar(settings: Settings) -> None:
    queries = {f"{alert}: {check.expr}": check.expr for alert, check in _checks(settings, LogQL)}
    assert queries
    errors = node_parser_errors(node_packages.logql_errors, queries)
    assert not errors, "\n".join(f"{name}\n  {error}" for name, error in errors.items())


def test_grafanas_logql_grammar_refuses_a_query_that_does_not_parse() -> None:
    errors = node_parser_errors(node_packages.logql_errors, {
        "good": '{service_name="x"} |= "a"', "unclosed": '{service_name="x" |= "a"'})
    assert errors == {"unclosed": 'syntax error at character 19: {service_name="x" <here>|= "a"'}


@pytest.mark.parametrize("expr", ['{service_name=~".*"}', '{service_name="x" |= "a"',
                                  '{service_name="x"} |~ "(unclosed"', 'service_name="x"',
                                  '{service_name="x"} | unknown'])
def test_the_logql_check_refuses_what_loki_would(expr: str) -> None:
    assert logql_problems(expr)


def test_every_panel_a_runbook_names_exists(settings: Settings) -> None:
    titles = {board.title: {str(panel["title"]) for panel in panels(board.model)}
              for board in dashboards(settings)}
    named = _checks(settings, Panel)
    assert named
    for alert, check in named:
        assert check.dashboard in titles, f"{alert}: no dashboard {check.dashboard!r}"
        assert check.panel in titles[check.dashboard], (
            f"{alert}: {check.dashboard!r} has no panel {check.panel!r}")


def test_every_verify_line_a_runbook_names_is_printed(settings: Settings) -> None:
    # Against nothing that answers, `make verify` still prints every check it has.
    urls = Urls(*(("http://127.0.0.1:9",) * 6))
    with open_context(urls, expected_for(settings), timeout=0.2) as ctx:
        printed = {result.name for result in run_checks(ctx)}
    for alert, check in _checks(settings, Verify):
        for name in check.checks:
            pattern = re.escape(name).replace(re.escape("<job>"), r"\w+")
            assert any(re.fullmatch(pattern, line) for line in printed), (alert, name)


# --- the generated page ---------------------------------------------------------------------

def test_docs_alerts_is_what_make_docs_writes() -> None:
    assert alerts_doc.PATH.read_text() == alerts_doc.render(), "run `make docs`"

"""docs/alerts.md: every alert the stacks render, with the runbook written beside its rule
(configs/rules/), one section per alert name under a heading that is the name, so each rule's
`runbook_url` (`<alertRunbookBaseUrl>#<name in lower case>`) lands on it.

Written for both stacks from their stack files: where a stack's text differs (its env, its
backend job, a threshold) each stack's version is shown, labelled; where it is the same, once.
`make docs` (review/config_docs.py) writes it; a test fails when the file drifts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from configs.mixins import FILES, AlertRunbook, dashboards, runbooks
from configs.rules.helpers import Check, LogQL, PromQL, Runbook, Shell, Verify, anchor
from services import Published
from settings import Settings
from settings.stack_file import ROOT, file_settings

PATH: Final = ROOT / "docs" / "alerts.md"
STACKS: Final = ("staging", "production")
# Stacks on the Kubernetes platform, which add the alerts only they render (the replicas'); the
# others they share with the Docker stacks above, whose sections say what those do.
KUBERNETES_STACKS: Final = ("cluster",)
# Sections by rule file, in the order of the rule files (configs.mixins.FILES).
SECTIONS: Final[Mapping[str, str]] = {file.name: file.section for file in FILES if file.section}
FENCE: Final = "```"


def _published(settings: Settings, port: Published) -> str:
    if settings.bindings[port] is None:
        return "not published (`make tunnel`)"
    return settings.url(port)


def _merged(texts: Mapping[str, str], indent: str = "") -> str:
    """One text where every stack has the same, else each stack's, labelled."""
    if len(set(texts.values())) == 1:
        return next(iter(texts.values()))
    return "\n\n".join(f"{indent}*{stack}:*\n\n{text}" for stack, text in texts.items())


def _code(language: str, text: str, indent: str) -> str:
    lines = [FENCE + language, *text.splitlines(), FENCE]
    return "\n".join(f"{indent}{line}" for line in lines)


def _check_body(check: Check, settings: Settings, indent: str) -> str:
    if isinstance(check, PromQL):
        return _code("promql", check.expr, indent)
    if isinstance(check, LogQL):
        return _code("logql", check.expr, indent)
    if isinstance(check, Shell):
        return _code("bash", check.command, indent)
    if isinstance(check, Verify):
        lines = ", ".join(f"`{name}`" for name in check.checks)
        return (_code("bash", f"make verify STACK={settings.stack}", indent)
                + f"\n\n{indent}and read its lines {lines}.")
    uid = next(board.uid for board in dashboards(settings) if board.title == check.dashboard)
    return (f"{indent}Grafana: **{check.dashboard}** (`/d/{uid}`), panel "
            f"**{check.panel}**.")


def _checks(books: Mapping[str, Runbook], settings: Mapping[str, Settings]) -> str:
    counts = {len(book.checks) for book in books.values()}
    if len(counts) != 1:
        return _merged({stack: _checks({stack: book}, settings)
                        for stack, book in books.items()})
    items = []
    indent = "   "
    for index in range(counts.pop()):
        whys = {stack: book.checks[index].why for stack, book in books.items()}
        bodies = {stack: _check_body(book.checks[index], settings[stack], indent)
                  for stack, book in books.items()}
        items.append(f"{index + 1}. {_merged(whys)}\n\n{_merged(bodies, indent)}")
    return "\n\n".join(items)


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


_PARTS: Final[tuple[tuple[str, Callable[[Runbook], str]], ...]] = (
    ("What it means", lambda book: book.meaning),
    ("What users of GatewayZ see", lambda book: book.impact),
    ("Likely causes", lambda book: _bullets(book.causes)),
)
_AFTER: Final[tuple[tuple[str, Callable[[Runbook], str]], ...]] = (
    ("What to do", lambda book: _bullets(book.actions)),
    ("When it resolves by itself", lambda book: book.resolves),
)


def _rule_line(rules: Mapping[str, list[AlertRunbook]]) -> str:
    def line(found: list[AlertRunbook]) -> str:
        parts = [f"`{rule.severity}`: `{rule.expr}`"
                 + (f" for {rule.duration}" if rule.duration else " (no `for`)")
                 for rule in found]
        return "\n".join(f"- {part}" for part in parts)
    return _merged({stack: line(found) for stack, found in rules.items()})


def _section(name: str, rules: Mapping[str, list[AlertRunbook]],
             settings: Mapping[str, Settings]) -> str:
    books = {stack: found[0].runbook for stack, found in rules.items()}
    first = next(iter(rules.values()))[0]
    stacks = ", ".join(rules)
    out = [f"### {name}", "",
           f"Rendered in: {stacks}. Rule file `{first.file}`, group `{first.group}`. Fires on:",
           "", _rule_line(rules), ""]
    for title, part in _PARTS:
        out += [f"**{title}.**", "", _merged({s: part(b) for s, b in books.items()}), ""]
    out += ["**First checks.**", "", _checks(books, settings), ""]
    for title, part in _AFTER:
        out += [f"**{title}.**", "", _merged({s: part(b) for s, b in books.items()}), ""]
    return "\n".join(out)


def render(settings: Mapping[str, Settings] | None = None,
           kubernetes: Mapping[str, Settings] | None = None) -> str:
    """The whole of docs/alerts.md for the stacks' settings (default: their stack files), and
    the alerts only the Kubernetes stacks (`kubernetes`) render."""
    stacks = settings or {stack: file_settings(stack) for stack in STACKS}
    on_kubernetes = (kubernetes if kubernetes is not None
                     else {stack: file_settings(stack) for stack in KUBERNETES_STACKS})
    by_name: dict[str, dict[str, list[AlertRunbook]]] = {}
    for stack, stack_settings in stacks.items():
        for rule in runbooks(stack_settings):
            by_name.setdefault(rule.alert, {}).setdefault(stack, []).append(rule)
    shared = set(by_name)
    for stack, stack_settings in on_kubernetes.items():
        for rule in runbooks(stack_settings):
            if rule.alert not in shared:
                by_name.setdefault(rule.alert, {}).setdefault(stack, []).append(rule)
    every = {**stacks, **on_kubernetes}
    files = {name: next(iter(found.values()))[0].file for name, found in by_name.items()}
    ordered = sorted(by_name, key=lambda name: list(SECTIONS).index(files[name]))
    counts = ", ".join(f"{sum(len(r) for r in runbooks_of.values())} in {stack}"
                       for stack, runbooks_of in (
                           (stack, {n: f[stack] for n, f in by_name.items() if stack in f})
                           for stack in stacks))
    only = ", ".join(f"{sum(len(f[stack]) for f in by_name.values() if stack in f)} more in "
                     f"{stack}" for stack in on_kubernetes)
    where = "\n".join(
        f"- {stack}: Prometheus {_published(s, Published.PROMETHEUS)}, Grafana "
        f"{_published(s, Published.GRAFANA)}, Alertmanager "
        f"{_published(s, Published.ALERTMANAGER)}; "
        f"alert links point at `{s.alerting.runbook_base}`."
        for stack, s in stacks.items())
    where += "".join(
        f"\n- {stack} (Kubernetes, namespace `{s.kubernetes.namespace}`): its own alerts "
        "below; shell commands run with `kubectl` where the stack's kubeconfig reaches the "
        f"cluster; alert links point at `{s.alerting.runbook_base}`."
        for stack, s in on_kubernetes.items())
    out = [
        "# Alerts and their runbooks", "",
        "<!-- Generated by `make docs` (review/alerts_doc.py) from the runbooks beside each "
        "rule in configs/rules/; edit them there. -->", "",
        f"Every alert rule the stacks render ({counts}{'; ' + only if only else ''}) links "
        "here from its `runbook_url` "
        "annotation, which Slack shows under each alert. Each section says what the alert "
        "means, what GatewayZ's users see while it fires, its likely causes, the first "
        "checks (queries to paste, `make verify`, the dashboard panel to open), what to do, "
        "and when it resolves by itself.", "",
        "Queries are written for each stack's own Prometheus (its `env` and backend job); "
        "PromQL goes into Prometheus' query page or Grafana's Explore on the Prometheus "
        "datasource, LogQL into Explore on Loki. Shell commands run where `docker` reaches "
        "the stack's engine (the host, or with `DOCKER_HOST` as for `pulumi up`). Where the "
        "stack runs on a remote Docker host, `make tunnel STACK=<stack> TUNNEL_ARGS=--all` "
        "first makes the addresses below work:", "",
        where, "",
        "| Alert | Severity | Stacks |", "|---|---|---|",
    ]
    for name in ordered:
        found = by_name[name]
        severities = sorted({rule.severity for rules in found.values() for rule in rules})
        out.append(f"| [{name}](#{anchor(name)}) | {', '.join(severities)} | "
                   f"{', '.join(found)} |")
    out.append("")
    section = None
    for name in ordered:
        if files[name] != section:
            section = files[name]
            out += [f"## {SECTIONS[section]}", ""]
        out.append(_section(name, by_name[name], every))
    return "\n".join(out).rstrip("\n") + "\n"


__all__ = ["KUBERNETES_STACKS", "PATH", "STACKS", "render"]

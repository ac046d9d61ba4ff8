"""Where a stack's alerts go: a Mermaid flowchart drawn from what Alertmanager is given
(configs/alertmanager.py) and the rules Prometheus evaluates (configs/rules/), so it cannot
drift from either.

Each route of the tree is a node holding the alerts that reach it (each rule's own labels
matched against the routes in order, as Alertmanager walks them: the first that matches, and
the next ones while a route says `continue`; a test holds the result to
`configs.alertmanager_routing.receiver_for`), with an edge to its receiver labelled by how that
route groups and repeats where it differs from the root; the root's own receiver catches an
alert that no route matches. Inhibitions are drawn between
the rules they pair: a source rule mutes a target rule when each side's matchers hold on the
rule's labels and no label of `equal` is fixed to different values on the two. The markdown
below the chart lists the alerts per route, the one thing too long for a node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from configs.alertmanager import HEARTBEAT_URL_FILE, SECRET_FILES, alertmanager_config
from configs.alertmanager_routing import matches
from configs.mixins import rule_files
from configs.rules.watchdog import WATCHDOG
from review.diagram import DESTINATIONS
from settings import Receiver, Settings

# The secret each integration's URL file holds (settings/keys.py), so a receiver says what to set.
SECRET_KEYS: Final[Mapping[str, str]] = {
    SECRET_FILES[Receiver.SLACK]: "alertSlackWebhookUrl",
    SECRET_FILES[Receiver.WEBHOOK]: "alertWebhookUrl",
    HEARTBEAT_URL_FILE: "alertHeartbeatUrl",
}
TIMINGS: Final = ("group_wait", "group_interval", "repeat_interval")
TIMING_WORDS: Final[Mapping[str, str]] = {"group_wait": "first sent after",
                                          "group_interval": "updates at most every",
                                          "repeat_interval": "repeated every"}
_MATCHER: Final = re.compile(r'^(\w+)(=~|!~|!=|=)"(.*)"$')


@dataclass(frozen=True)
class Alert:
    """An alerting rule as routing sees it: its name and the labels the rule itself fixes."""

    name: str
    labels: Mapping[str, str]
    duration: str | None

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    @property
    def routing_labels(self) -> dict[str, str]:
        return {**self.labels, "alertname": self.name}


@dataclass(frozen=True)
class Route:
    """One child of the root route (or the root itself, `index` -1), with what reaches it."""

    index: int
    matchers: tuple[str, ...]
    receiver: str
    timing: Mapping[str, str]
    group_by: tuple[str, ...]
    stops: bool
    alerts: tuple[Alert, ...]

    @property
    def node(self) -> str:
        return "unrouted" if self.index < 0 else f"route{self.index + 1}"


def alerts(settings: Settings) -> tuple[Alert, ...]:
    """Every alerting rule the stack renders, in file and group order."""
    found = []
    for document in rule_files(settings).values():
        groups: Any = document["groups"]
        for rule in (rule for group in groups for rule in group["rules"] if "alert" in rule):
            found.append(Alert(rule["alert"], dict(rule.get("labels", {})), rule.get("for")))
    return tuple(found)


def routes(config: Mapping[str, Any], rules: Sequence[Alert]) -> tuple[Route, ...]:
    """The root's children in order, then the root, each with the alerts that reach it: the
    first matching child, and the ones after it while each says `continue`; the root keeps
    those that match no child."""
    root = config["route"]
    children = root.get("routes", [])
    taken: dict[int, list[Alert]] = {index: [] for index in range(-1, len(children))}
    for alert in rules:
        reached = False
        for index, child in enumerate(children):
            if matches(child.get("matchers", []), alert.routing_labels):
                taken[index].append(alert)
                reached = True
                if not child.get("continue", False):
                    break
        if not reached:
            taken[-1].append(alert)

    def route(index: int, node: Mapping[str, Any]) -> Route:
        timing = {key: str(node.get(key, root.get(key, ""))) for key in TIMINGS}
        return Route(index, tuple(node.get("matchers", [])), str(node["receiver"]), timing,
                     tuple(node.get("group_by", root.get("group_by", []))),
                     not node.get("continue", False), tuple(taken[index]))

    return (*(route(index, child) for index, child in enumerate(children)), route(-1, root))


def _fixed(alert: Alert, label: str) -> str | None:
    return alert.routing_labels.get(label)


def inhibitions(config: Mapping[str, Any],
                rules: Sequence[Alert]) -> Iterator[tuple[Alert, Alert, tuple[str, ...]]]:
    """(source, target, equal labels) for every pair of rules an inhibit rule can join: a firing
    source mutes the target while the `equal` labels agree, which only a label both rules fix
    to different values rules out (the others come from the series)."""
    for rule in config.get("inhibit_rules", []):
        equal = tuple(rule.get("equal", ()))
        for source in rules:
            if not matches(rule.get("source_matchers", []), source.routing_labels):
                continue
            for target in rules:
                if target is source or not matches(rule.get("target_matchers", []),
                                                   target.routing_labels):
                    continue
                fixed = [(_fixed(source, label), _fixed(target, label)) for label in equal]
                if all(a is None or b is None or a == b for a, b in fixed):
                    yield source, target, equal


def _quote(text: str) -> str:
    """Text Mermaid shows as written inside a quoted label."""
    return text.replace('"', "#quot;").replace("|", "#124;")


def _matcher_text(matcher: str) -> str:
    parsed = _MATCHER.match(matcher)
    if parsed is None:
        return matcher
    name, op, value = parsed.groups()
    value = " or ".join(value.split("|")) if "~" in op else value
    return f"{name} {op} {value}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _route_label(route: Route) -> str:
    if route.index < 0:
        return "no route matches<br/>(an alert without a known severity)"
    if [alert.name for alert in route.alerts] == [WATCHDOG]:
        severity = route.alerts[0].severity
        return f"route {route.index + 1}: {WATCHDOG}<br/>always firing, severity {severity}"
    head = "<br/>".join(_matcher_text(matcher) for matcher in route.matchers)
    return f"route {route.index + 1}: {head}<br/>{_plural(len(route.alerts), 'alert')}"


def _receiver_label(receiver: Mapping[str, Any]) -> tuple[str, str]:
    """The receiver's node: a flag for one that notifies, a box for one that drops."""
    name = receiver["name"]
    where = DESTINATIONS.get(name) if not receiver.get("slack_configs") else None
    lines = [f"<b>{name}</b>" + (f": {where}" if where else "")]
    integrations = 0
    for slack in receiver.get("slack_configs", []):
        integrations += 1
        secret = SECRET_KEYS.get(slack.get("api_url_file", ""), "api_url")
        lines.append(f"Slack {slack.get('channel', '')}<br/>({secret})")
        lines.append("sends resolved" if slack.get("send_resolved") else "never sends resolved")
    for hook in receiver.get("webhook_configs", []):
        integrations += 1
        secret = SECRET_KEYS.get(hook.get("url_file", ""), "url")
        lines.append(f"POST to {secret}")
        lines.append("sends resolved" if hook.get("send_resolved") else "never sends resolved")
    if not integrations:
        lines.append("no integration: dropped")
        return f'["{_quote("<br/>".join(lines))}"]', "dropped"
    return f'>"{_quote("<br/>".join(lines))}"]', "notifies"


def _timing_text(timing: Mapping[str, str]) -> str:
    return "<br/>".join(f"{TIMING_WORDS[key]} {timing[key]}" for key in TIMINGS)


def _edge_label(route: Route, root: Route) -> str:
    parts = [] if route.stops else ["continue: later routes too"]
    if route.group_by != root.group_by:
        parts.append(f"grouped by {', '.join(route.group_by)}")
    if route.timing != root.timing:
        changed = {key: value for key, value in route.timing.items()
                   if value != root.timing[key]}
        parts += [f"{TIMING_WORDS[key]} {changed[key]}"
                  for key in reversed(TIMINGS) if key in changed]
    return "<br/>".join(parts)


def _node_id(text: str) -> str:
    """A Mermaid node id: letters, digits and underscores only."""
    return re.sub(r"\W", "_", text)


def _alert_node(alert: Alert) -> str:
    return _node_id(f"a_{alert.name}_{alert.severity}")


def mermaid(settings: Settings) -> str:
    config: Any = alertmanager_config(settings.alerting)
    rules = alerts(settings)
    tree = routes(config, rules)
    root = tree[-1]
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    lines = ["```mermaid", "flowchart LR"]
    lines.append(f'  subgraph rules["{_plural(len(rules), "alert")} of {settings.environment}, '
                 'by the first route that matches"]')
    lines += [f'    {route.node}["{_quote(_route_label(route))}"]' for route in tree]
    lines.append("  end")
    grouping = (f"one notification per {', '.join(root.group_by)}<br/>"
                f"{_timing_text(root.timing)}")
    lines.append('  subgraph alertmanager["Alertmanager receivers"]')
    lines.append(f'    grouping["{_quote(grouping)}"]')
    used = sorted({route.receiver for route in tree})
    for name in used:
        shape, _ = _receiver_label(receivers[name])
        lines.append(f"    {_node_id(f'rcv_{name}')}{shape}")
    lines.append("  end")
    for route in tree:
        label = _edge_label(route, root)
        arrow = "-.->" if route.index < 0 else "-->"
        lines.append(f'  {route.node} {arrow}' + (f'|"{_quote(label)}"|' if label else "")
                     + f" {_node_id(f'rcv_{route.receiver}')}")
    pairs = list(inhibitions(config, rules))
    if pairs:
        lines.append('  subgraph inhibit["Inhibitions: while the source fires, the target '
                     'is muted"]')
        nodes: dict[str, str] = {}
        for source, target, _ in pairs:
            for alert in (source, target):
                nodes.setdefault(_alert_node(alert), f"{alert.name}<br/>{alert.severity}")
        lines += [f'    {node}["{_quote(text)}"]' for node, text in nodes.items()]
        lines.append("  end")
        for source, target, equal in pairs:
            same = [label for label in equal if label != "alertname"
                    or source.name != target.name]
            lines.append(f'  {_alert_node(source)} -.->|"mutes: same {_quote(", ".join(same))}"|'
                         f" {_alert_node(target)}")
    lines.append("```")
    return "\n".join(lines)


def _names(rules: Iterable[Alert]) -> str:
    return ", ".join(f"`{alert.name}`" for alert in rules) or "none"


def summary(settings: Settings) -> str:
    """The chart's fine print: each route's alerts and receiver, and the inhibit rules as
    written, for the names a node has no room for."""
    config: Any = alertmanager_config(settings.alerting)
    rules = alerts(settings)
    lines = ["| Route (first match wins) | Receiver | Alerts |", "|---|---|---|"]
    for route in routes(config, rules):
        where = ("root (no route matched)" if route.index < 0 else
                 " and ".join(f"`{matcher}`" for matcher in route.matchers))
        _, verb = _receiver_label(next(receiver for receiver in config["receivers"]
                                       if receiver["name"] == route.receiver))
        cells = (where, f"`{route.receiver}` ({verb})", _names(route.alerts))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines.append("")
    for rule in config.get("inhibit_rules", []):
        source = ", ".join(f"`{matcher}`" for matcher in rule.get("source_matchers", []))
        target = ", ".join(f"`{matcher}`" for matcher in rule.get("target_matchers", []))
        equal = ", ".join(f"`{label}`" for label in rule.get("equal", []))
        lines.append(f"Inhibit rule: an alert with {source} mutes those with {target} that "
                     f"share {equal}.")
    return "\n".join(lines)


__all__ = ["Alert", "Route", "alerts", "inhibitions", "mermaid", "routes", "summary"]

"""The cluster's NetworkPolicies allow exactly the flows the README's Kubernetes diagram draws.
Nothing here enforces a policy (no CNI runs), so the flows are derived from the policies the
program registers: A reaches B where A's egress lets it out to B's pods and B's ingress lets A's
pods in; an outside address (`*`) where a rule names any address. Each diagram edge must be such a
flow, and each such flow an edge: a missing or an extra one fails, naming it. The cluster's DNS
(every pod's egress to kube-system) is the one flow no diagram draws."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Final

import pytest

from components.kubernetes.workload import ANYWHERE, DNS_NAMESPACE
from review.diagram import KUBERNETES_BEGIN, KUBERNETES_END, mermaid
from review.mock_runtime import ProgramRun, run_program, stack_config
from services import NAME_LABEL, Service
from settings.stack_file import ROOT, file_settings

CLUSTER: Final = "cluster"
OUTSIDE: Final = "*"
_EDGE: Final = re.compile(r'^\s*(\w+) -->\|"[^"]*"\| (\w+)$')
Flow = tuple[str, str]


def _node(service: str) -> str:
    return service.replace("-", "_")


def diagram_flows(diagram: str) -> set[Flow]:
    """(from, to) of each edge, the stack's services by node id, anything else OUTSIDE."""
    services = {_node(service.value) for service in Service}
    flows = set()
    for line in diagram.splitlines():
        match = _EDGE.match(line)
        if match:
            source, target = (node if node in services else OUTSIDE for node in match.groups())
            flows.add((source, target))
    return flows


def _peers(rule: dict[str, Any], key: str) -> set[str]:
    found = set()
    for peer in rule.get(key, []):
        if "ipBlock" in peer:
            assert peer["ipBlock"] == {"cidr": ANYWHERE}, peer
            found.add(OUTSIDE)
        elif "namespaceSelector" in peer and not peer["namespaceSelector"]:
            # Every pod of every namespace, beside any address: what runs outside the stack
            # (an ingress controller) may be a pod of the cluster.
            found.add(OUTSIDE)
        elif "namespaceSelector" in peer:
            # The DNS rule every service's policy carries: the one other way out of the
            # namespace.
            assert peer["namespaceSelector"]["matchLabels"] == {
                "kubernetes.io/metadata.name": DNS_NAMESPACE}, peer
            assert {port["port"] for port in rule["ports"]} == {53}, rule
        else:
            found.add(_node(peer["podSelector"]["matchLabels"][NAME_LABEL]))
    return found


def policy_flows(program: ProgramRun) -> set[Flow]:
    ingress: dict[str, set[str]] = defaultdict(set)
    egress: dict[str, set[str]] = defaultdict(set)
    for policy in program.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        spec = policy.plain_inputs()["spec"]
        selected = spec["podSelector"].get("matchLabels", {})
        if not selected:
            # The namespace's default deny: no rule of its own.
            assert "ingress" not in spec, policy.name
            assert "egress" not in spec, policy.name
            continue
        service = _node(selected[NAME_LABEL])
        for rule in spec.get("ingress", []):
            ingress[service] |= _peers(rule, "from")
        for rule in spec.get("egress", []):
            egress[service] |= _peers(rule, "to")
    flows = {(source, target) for source, targets in egress.items() for target in targets
             if target == OUTSIDE or source in ingress.get(target, set())}
    flows |= {(OUTSIDE, target) for target, sources in ingress.items() if OUTSIDE in sources}
    return flows


@pytest.fixture(scope="module")
def program() -> ProgramRun:
    config, secret_keys = stack_config(CLUSTER)
    return run_program(CLUSTER, config, secret_keys)


def readme_diagram() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(re.escape(KUBERNETES_BEGIN) + r"\n(.*?)\n" + re.escape(KUBERNETES_END),
                      readme, re.S)
    assert match is not None, "README has no Kubernetes diagram markers"
    return match[1]


def test_the_readme_draws_the_cluster_stack_as_the_builders_do() -> None:
    assert readme_diagram() == mermaid(file_settings(CLUSTER)), "run `make docs`"


def test_the_policies_allow_exactly_the_flows_the_diagram_draws(program: ProgramRun) -> None:
    drawn = diagram_flows(readme_diagram())
    allowed = policy_flows(program)
    assert sorted(drawn - allowed) == [], "drawn but no policy allows it"
    assert sorted(allowed - drawn) == [], "a policy allows it but the diagram draws none"


def test_a_flow_missing_from_either_side_is_caught(program: ProgramRun) -> None:
    drawn = diagram_flows(readme_diagram())
    allowed = policy_flows(program)
    # Tempo's remote write is the one edge from Tempo to Prometheus.
    edge = '  tempo -->|"remote write (span metrics)"| prometheus'
    assert edge in readme_diagram()
    assert ("tempo", "prometheus") in drawn & allowed
    assert diagram_flows(readme_diagram().replace(edge, "")) != allowed
    assert diagram_flows(readme_diagram() + '\n  grafana -->|"x"| redis_exporter') != allowed

"""Alerts that grow with the Kubernetes platform: a member of one of Loki's or Tempo's hash rings
unhealthy, a pod that left without leaving the ring (or stopped heartbeating), which the rings
hold on to until it is forgotten. The Docker platform's single binaries keep their rings in
memory, alone, and have none of this to watch.

Metric: dskit's `ring_members{name, state}` (vendor/github.com/grafana/dskit/ring/ring.go in both
releases), registered with the service's prefix: `loki_ring_members` (grafana/loki v3.7.6
pkg/loki/modules.go, `MetricsNamespace` `loki`; docs/sources/setup/upgrade/_index.md renames
`cortex_ring_members`), `tempo_ring_members` (grafana/tempo v3.0.3 cmd/tempo/app/modules.go,
`WrapRegistererWithPrefix("tempo_", ...)`). Every member reports its own view of the ring, hence
`max`; the expression and the 15 minutes follow the Tempo mixin's TempoDistributorUnhealthy
(grafana/tempo v3.0.3 operations/tempo-mixin/alerts.libsonnet).
"""

from configs.promql import eq, selector
from configs.rules.helpers import ENV, PromQL, Runbook, Shell, Value, alert, group, label, rule_file
from services import Service
from settings import Settings, Severity

RING = label("name")
UNHEALTHY = "Unhealthy"
FOR_MINUTES = 15


def _unhealthy(service: Service) -> str:
    metric = selector(f"{service}_ring_members", eq("job", service.job), eq("state", UNHEALTHY))
    return f"max by (env, job, name) ({metric}) > 0"


def _ring_alert(settings: Settings, service: Service, *, what: str,
                impact: str) -> dict[str, object]:
    title = service.value.title()
    name = f"{title}RingMemberUnhealthy"
    namespace = settings.kubernetes.namespace
    pods = f"app.kubernetes.io/name={service}"
    return alert(
        name, _unhealthy(service), severity=Severity.WARNING, for_minutes=FOR_MINUTES,
        summary=f"{title} ring {RING} has {Value.NUMBER} unhealthy members in {ENV}",
        description=f"{Value.NUMBER} members of {title}'s {RING} ring in {ENV} have not "
                    f"heartbeated for {FOR_MINUTES} minutes: {what}.",
        runbook=Runbook(
            meaning=f"A member of one of {title}'s hash rings (the alert's `name`) has stopped "
                    "heartbeating: its pod is gone or stuck, and the ring still holds its "
                    "tokens, so requests hashed to it fail or go elsewhere.",
            impact=impact,
            causes=("A pod was killed (node lost, out of memory) without leaving the ring.",
                    "A pod is up but cannot reach the others on memberlist (a NetworkPolicy, "
                    "or the memberlist Service lists none).",
                    "A rollout replaced pods faster than the ring forgot the old ones."),
            checks=(
                PromQL("Members per ring and state, as each pod sees them:",
                       f"max by (name, state) ({service}_ring_members"
                       f"{{job=\"{service.job}\"}})"),
                Shell("Its pods, their restarts and the reason of the last one:",
                      f"kubectl -n {namespace} get pods -l {pods} -o wide"),
                Shell("Their own log, the lines that matter:",
                      f"kubectl -n {namespace} logs -l {pods} --since=30m --prefix "
                      "| grep -iE 'level=(error|warn)' | tail -n 30"),
            ),
            actions=("If a pod is gone for good, forget it on the ring's page of any pod "
                     f"(`kubectl -n {namespace} port-forward` to its HTTP port, `/ring`, "
                     "Forget) so its tokens move to the live members.",
                     "If pods restart for memory, raise "
                     f"`{service.value}MemoryMb` and `make up`.",
                     "If pods run but cannot gossip, check the NetworkPolicy and the "
                     "memberlist Service's endpoints."),
            resolves="When every member heartbeats again, or the unhealthy one is "
                     "forgotten, it resolves at the next evaluation."))


def loki_document(settings: Settings) -> dict[str, object]:
    return rule_file(group("loki-rings", [_ring_alert(
        settings, Service.LOKI,
        what="pushes or queries hashed to them fail or lose a replica",
        impact="With one write pod unhealthy of three, pushes still reach a quorum; with more, "
               "the backend's log pushes fail and recent logs may be missing from queries. "
               "GatewayZ's users see nothing.")]))


def tempo_document(settings: Settings) -> dict[str, object]:
    return rule_file(group("tempo-rings", [_ring_alert(
        settings, Service.TEMPO,
        what="spans or queries hashed to them fail",
        impact="Spans sent to the unhealthy member are refused, so traces go missing and span "
               "metrics dip; trace search may miss recent traces. GatewayZ's users see "
               "nothing.")]))

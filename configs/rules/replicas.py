"""Alerts only a stack on Kubernetes renders, where Prometheus and Alertmanager run as replicas:
one Prometheus of the HA pair down while its twin still scrapes and alerts, and an Alertmanager
that gossips with fewer peers than the stack runs. Each fires from the replicas that still work,
so it is the warning a lost replica gives before the pair or the cluster is gone.

Sources, read at the tags we pin: prometheus/prometheus v3.14.0
documentation/prometheus-mixin/alerts.libsonnet (PrometheusHAGroupDown pages when more than half
of an HA group is down and "implies that a generic warning alert is in place for individual
instances being down": this is that alert); prometheus/alertmanager v0.34.0
doc/alertmanager-mixin/alerts.libsonnet (AlertmanagerMembersInconsistent; the gauge
`alertmanager_cluster_members` from cluster/delegate.go).
"""

from __future__ import annotations

from configs.alertmanager import CLUSTER_PORT
from configs.dashboards import prometheus as prometheus_dashboard
from configs.promql import eq, selector
from configs.rules.helpers import (
    ENV,
    Panel,
    PromQL,
    Runbook,
    Shell,
    Value,
    alert,
    group,
    label,
    rule_file,
)
from services import NAME_LABEL, Service
from settings import Platform, Settings, Severity

INSTANCE = label("instance")


def watches_prometheus_replicas(settings: Settings) -> bool:
    """Whether PrometheusReplicaDown is rendered: with a twin to notice a replica gone."""
    return settings.platform is Platform.KUBERNETES and settings.kubernetes.prometheus_replicas > 1


def watches_alertmanager_peers(settings: Settings) -> bool:
    """Whether AlertmanagerClusterMemberMissing is rendered: one replica gossips with none."""
    return (settings.platform is Platform.KUBERNETES
            and settings.kubernetes.alertmanager_replicas > 1)


def _pods(settings: Settings, service: Service) -> Shell:
    return Shell("Its pods, their restarts, and the node each runs on:",
                 f"kubectl -n {settings.kubernetes.namespace} get pods -o wide "
                 f"-l {NAME_LABEL}={service}")


def _events(settings: Settings, service: Service) -> Shell:
    return Shell("Why a pod is not running (scheduling, its claim, a failed probe, OOMKilled):",
                 f"kubectl -n {settings.kubernetes.namespace} describe pods "
                 f"-l {NAME_LABEL}={service} | grep -A12 -E '^(Events|    Last State):'")


def _replica_down(settings: Settings) -> dict[str, object]:
    job = Service.PROMETHEUS.job
    up = selector("up", eq("job", job))
    return alert(
        "PrometheusReplicaDown",
        f"{up} == 0 and on (env, job) (count by (env, job) ({up} == 1) > 0)",
        severity=Severity.WARNING, for_minutes=5,
        summary=f"Prometheus replica {INSTANCE} down in {ENV} (up {Value.NUMBER}); its twin "
                "still alerts",
        description=f"Prometheus {INSTANCE} in {ENV} has failed its twin's scrapes for 5 "
                    f"minutes (up = {Value.NUMBER}): the HA pair runs on one replica.",
        runbook=Runbook(
            meaning="One Prometheus of the HA pair has not answered the other's scrapes for 5 "
                    "minutes. The other still scrapes every target, evaluates every rule and "
                    "sends every alert, so nothing is missed yet, but nothing stands in for it "
                    "either.",
            impact="None while the twin runs. Grafana's queries that land on the down "
                   "replica fail or come back empty until the Service stops sending them "
                   "there; when it returns, its graphs have a gap for the time it was gone "
                   "(the twin's do not). GatewayZ's users see nothing.",
            causes=("The pod was killed for memory (its limit is "
                    f"{settings.memory_mb[Service.PROMETHEUS]} MiB) and is restarting, or "
                    "replaying a long write-ahead log.",
                    "The pod cannot be scheduled: its volume claim is bound to a node that "
                    "is gone, or no node has the memory it requests.",
                    "Its volume is full (size retention counts the TSDB, not the claim), so "
                    "it cannot write and stops.",
                    "A NetworkPolicy change that cuts the replicas off from each other "
                    "(both then report the other down)."),
            checks=(
                PromQL("Each replica's scrape as each one sees it:", f"{up}"),
                _pods(settings, Service.PROMETHEUS),
                _events(settings, Service.PROMETHEUS),
                Panel("Since when:", prometheus_dashboard.TITLE, "Targets up by job"),
            ),
            actions=("If it was killed for memory, raise `prometheusMemoryMb` and `pulumi up`: "
                     "the StatefulSet rolls one replica at a time.",
                     "If its claim's node is gone, delete the pod's claim (`data-<pod>`) and "
                     "the pod: it starts empty on another node and its twin still holds the "
                     "history.",
                     "If both replicas report the other down, check the namespace's "
                     "NetworkPolicies (`kubectl get networkpolicy`): each must let in the "
                     "other on its HTTP port."),
            resolves="Five minutes after its twin scrapes it again it resolves by itself."))


def _member_missing(settings: Settings) -> dict[str, object]:
    job = Service.ALERTMANAGER.job
    replicas = settings.kubernetes.alertmanager_replicas
    members = selector("alertmanager_cluster_members", eq("job", job))
    return alert(
        "AlertmanagerClusterMemberMissing",
        f"max by (env, job, instance) (max_over_time({members}[5m])) < {replicas}",
        severity=Severity.WARNING, for_minutes=15,
        summary=f"Alertmanager {INSTANCE} sees {Value.NUMBER} of {replicas} cluster members "
                f"in {ENV}",
        description=f"Alertmanager {INSTANCE} in {ENV} has gossiped with {Value.NUMBER} "
                    f"members, itself included, for 15 minutes; the stack runs {replicas}.",
        runbook=Runbook(
            meaning=f"An Alertmanager replica counts fewer cluster members than the {replicas} "
                    "replicas the stack runs: a peer is down, or the replicas cannot reach "
                    f"each other on the gossip port ({CLUSTER_PORT}, TCP and UDP).",
            impact="Alerts still reach someone: every Prometheus sends each alert to every "
                   "replica. But replicas that do not gossip each notify: pages and Slack "
                   "messages may arrive twice, and a silence made on one replica does not "
                   "reach the others. GatewayZ's users see nothing.",
            causes=("A replica's pod is down or restarting (TargetDown says which).",
                    "Gossip blocked: a NetworkPolicy change, or UDP dropped between nodes."),
            checks=(
                PromQL("Members each replica sees, and whether each one is scraped:",
                       f"{members} or {selector('up', eq('job', job))}"),
                _pods(settings, Service.ALERTMANAGER),
                Shell("What a replica says of its peers (joins, failed pushes):",
                      f"kubectl -n {settings.kubernetes.namespace} logs alertmanager-0 "
                      "--since=30m | grep -iE 'cluster|memberlist|peer' | tail -n 30"),
            ),
            actions=("If a pod is down, its events (`kubectl describe pod`) say why; the "
                     "StatefulSet recreates it, and it rejoins by itself.",
                     "If every pod runs, check that the Alertmanager NetworkPolicy lets the "
                     f"peers in and out on {CLUSTER_PORT} TCP and UDP.",
                     "A replica that will not rejoin is recreated with `kubectl delete pod`; "
                     "silences come back from its claim and its peers."),
            resolves="Fifteen minutes after every replica sees all its peers it resolves by "
                     "itself."))


def document(settings: Settings) -> dict[str, object]:
    rules = [*([_replica_down(settings)] if watches_prometheus_replicas(settings) else []),
             *([_member_missing(settings)] if watches_alertmanager_peers(settings) else [])]
    # Single replicas of both: a file with no group, as Prometheus reads an empty one.
    return rule_file(group("replicas", rules)) if rules else rule_file()

"""Loki (simple-scalable) and Tempo on Kubernetes under mocks, beside production's Docker run:
what a user relies on holds on both platforms (retention as set, no secret in plain sight), and
what only the cluster has holds too (logs and traces in the buckets the settings name, each
Loki target as wide as its setting, the rings joined through the Service that lists every
Loki pod, span metrics in every Prometheus replica, Pod Security `restricted`, claims of the
size set, traffic only where it must go)."""

from __future__ import annotations

import posixpath
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
import yaml

from configs.datasources import Uid, datasources
from configs.object_storage import CREDENTIALS_ENV
from review.keyref import load_key_reference, unknown_keys
from review.mock_runtime import (
    FAKE_SECRET_PREFIX,
    FAKE_SECRETS,
    ProgramRun,
    run_program,
    stack_config,
)
from services import SERVICES, Listener, Service, config_path, pod_address
from settings import PROJECT, Platform, Settings, Size
from settings.keys import storage_key
from settings.stack_file import ROOT, file_settings, read_config
from tests.support.stack import containers, yaml_file
from tests.test_program import plain_strings

CLUSTER: Final = "cluster"
DOCKER_TWIN: Final = "production"
NAME_LABEL: Final = "app.kubernetes.io/name"
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
STATEFUL_SET: Final = "kubernetes:apps/v1:StatefulSet"
DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
SERVICE: Final = "kubernetes:core/v1:Service"
CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
SECRET: Final = "kubernetes:core/v1:Secret"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
REFERENCES: Final = ROOT / "references"
KEYS: Final = {Service.LOKI: "loki-v3.7.6-keys.txt", Service.TEMPO: "tempo-v3.0.3-keys.txt"}


def run(stack: str = CLUSTER, **overrides: str) -> ProgramRun:
    config, secret_keys = stack_config(stack, overrides=overrides)
    return run_program(stack, config, secret_keys)


def settings_of(stack: str = CLUSTER, **overrides: str) -> Settings:
    """The settings the program reads for `run(stack, **overrides)`."""
    config = read_config(stack)
    config.update({f"{PROJECT}:{key}": value for key, value in overrides.items()})
    return file_settings(stack, config)


@pytest.fixture(scope="module")
def runs() -> tuple[ProgramRun, ProgramRun]:
    return run(DOCKER_TWIN), run()


def workloads(program: ProgramRun, service: Service) -> list[dict[str, Any]]:
    """The service's StatefulSets and Deployments, as the engine gets them."""
    found = [r.plain_inputs() for r in program.of_type(STATEFUL_SET) + program.of_type(DEPLOYMENT)
             if r.plain_inputs()["metadata"]["labels"][NAME_LABEL] == service]
    assert found
    return found


def pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: dict[str, Any]) -> dict[str, Any]:
    (found,) = pod(workload)["containers"]
    assert isinstance(found, dict)
    return found


def by_target(program: ProgramRun) -> dict[str, dict[str, Any]]:
    """Loki's workloads by the target each runs (`-target=`), checked against its label."""
    found = {}
    for workload in workloads(program, Service.LOKI):
        (target,) = [arg.removeprefix("-target=") for arg in only_container(workload)["args"]
                     if arg.startswith("-target=")]
        assert workload["spec"]["template"]["metadata"]["labels"][COMPONENT_LABEL] == target
        found[target] = workload
    return found


def named(program: ProgramRun, type_: str, name: str) -> dict[str, Any]:
    (found,) = [r.plain_inputs() for r in program.of_type(type_)
                if r.plain_inputs()["metadata"]["name"] == name]
    assert isinstance(found, dict)
    return found


def mounted_config(program: ProgramRun, service: Service) -> dict[str, Any]:
    """The config file the service's pods mount, from the ConfigMap their volume projects."""
    workload = workloads(program, service)[0]
    (volume,) = [v for v in pod(workload)["volumes"] if "projected" in v]
    (source,) = [s["configMap"] for s in volume["projected"]["sources"] if "configMap" in s]
    (item,) = source["items"]
    mount = {m["name"]: m for m in only_container(workload)["volumeMounts"]}[volume["name"]]
    assert posixpath.join(mount["mountPath"], item["path"]) == config_path(service)
    config_map = named(program, CONFIG_MAP, source["name"])
    document = yaml.safe_load(config_map["data"][item["key"]])
    assert isinstance(document, dict)
    return document


def selects(service: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in service["spec"]["selector"].items())


# --- secrets --------------------------------------------------------------------------------

def test_no_secret_value_sits_in_a_plain_input_or_config_map(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    for program in runs:
        leaks = [(resource.name, path) for resource in program.resources
                 for path, text in plain_strings(resource.inputs) if FAKE_SECRET_PREFIX in text]
        assert leaks == []
    _, kubernetes = runs
    for config_map in kubernetes.of_type(CONFIG_MAP):
        assert FAKE_SECRET_PREFIX not in str(config_map.plain_inputs())


@pytest.mark.parametrize("service", [Service.LOKI, Service.TEMPO])
def test_the_key_pair_reaches_the_pods_as_a_file_of_their_user_alone(
        runs: tuple[ProgramRun, ProgramRun], service: Service) -> None:
    _, kubernetes = runs
    facts = SERVICES[service]
    for workload in workloads(kubernetes, service):
        container = only_container(workload)
        (volume,) = [v for v in pod(workload)["volumes"] if "projected" in v]
        (source,) = [s["secret"] for s in volume["projected"]["sources"] if "secret" in s]
        (item,) = source["items"]
        assert item["mode"] == 0o400
        mount = {m["name"]: m for m in container["volumeMounts"]}[volume["name"]]
        assert mount["readOnly"] is True
        # The one variable: the file's path, which the S3 client reads the pair from.
        assert container["env"] == [{"name": CREDENTIALS_ENV,
                                     "value": posixpath.join(mount["mountPath"], item["path"])}]
        assert pod(workload)["securityContext"]["fsGroup"] == facts.group_id
        assert pod(workload)["securityContext"]["runAsUser"] == facts.user_id
        stored = named(kubernetes, SECRET, source["name"])["stringData"][item["key"]]
        pair = (FAKE_SECRETS["objectStorageAccessKeyId"],
                FAKE_SECRETS["objectStorageSecretAccessKey"])
        assert stored.splitlines() == ["[default]", f"aws_access_key_id = {pair[0]}",
                                       f"aws_secret_access_key = {pair[1]}"]
        config = mounted_config(kubernetes, service)
        assert not any(key in str(config) for key in ("access_key", "secret"))


# --- the same behaviour on both platforms ----------------------------------------------------

@pytest.mark.parametrize("retention", ["24h", "30d", "4w"])
def test_retention_is_applied_the_same_on_both_platforms(retention: str) -> None:
    overrides = {"logsRetention": retention, "tracesRetention": "168h"}
    docker, kubernetes = run(DOCKER_TWIN, **overrides), run(**overrides)
    expected = str(settings_of(**overrides).retention.logs)
    on_docker = yaml_file(containers(docker)["loki"], config_path(Service.LOKI))
    on_cluster = mounted_config(kubernetes, Service.LOKI)
    for config in (on_docker, on_cluster):
        assert config["limits_config"]["retention_period"] == expected
        assert config["compactor"]["retention_enabled"] is True
        assert config["compactor"]["delete_request_store"] == \
            config["schema_config"]["configs"][0]["object_store"]
    # The compactor runs where the claims are: the backend (the only target that compacts).
    assert on_cluster["compactor"]["working_directory"].startswith(
        on_cluster["common"]["path_prefix"])
    assert on_docker["schema_config"]["configs"][0] | {"object_store": "s3"} == \
        on_cluster["schema_config"]["configs"][0]
    tempo = [yaml_file(containers(docker)["tempo"], config_path(Service.TEMPO)),
             mounted_config(kubernetes, Service.TEMPO)]
    assert {t["overrides"]["defaults"]["compaction"]["block_retention"] for t in tempo} == \
        {"168h"}


@pytest.mark.parametrize("service", [Service.LOKI, Service.TEMPO])
def test_configs_use_only_keys_the_pinned_release_knows(
        runs: tuple[ProgramRun, ProgramRun], service: Service) -> None:
    _, kubernetes = runs
    reference = load_key_reference(REFERENCES / KEYS[service])
    assert unknown_keys(mounted_config(kubernetes, service), reference) == []


@pytest.mark.parametrize(("memory", "cpu"), [(1024, 1000), (3072, 1500)])
def test_every_target_gets_the_services_memory_and_cpu(memory: int, cpu: int) -> None:
    kubernetes = run(lokiMemoryMb=str(memory), lokiCpuMillis=str(cpu),
                     tempoMemoryMb=str(memory), tempoCpuMillis=str(cpu))
    amounts = {"cpu": f"{cpu}m", "memory": f"{memory}Mi"}
    for service in (Service.LOKI, Service.TEMPO):
        for workload in workloads(kubernetes, service):
            assert only_container(workload)["resources"] == {"limits": amounts,
                                                             "requests": amounts}


# --- object storage ---------------------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "host", "insecure"), [
    ("https://s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com", False),
    ("http://minio.storage.svc:9000", "minio.storage.svc:9000", True),
])
def test_logs_and_traces_go_to_the_buckets_and_endpoint_set(endpoint: str, host: str,
                                                            insecure: bool) -> None:
    overrides = {"objectStorageEndpoint": endpoint, "objectStorageRegion": "us-east-2",
                 "lokiBucket": "logs-of-the-cluster", "tempoBucket": "traces-of-the-cluster"}
    kubernetes = run(**overrides)
    s3 = mounted_config(kubernetes, Service.LOKI)["common"]["storage"]["s3"]
    assert (s3["bucketnames"], s3["endpoint"], s3["region"], s3["insecure"]) == (
        "logs-of-the-cluster", host, "us-east-2", insecure)
    trace = mounted_config(kubernetes, Service.TEMPO)["storage"]["trace"]
    assert trace["backend"] == "s3"
    assert (trace["s3"]["bucket"], trace["s3"]["endpoint"], trace["s3"]["region"],
            trace["s3"]["insecure"]) == ("traces-of-the-cluster", host, "us-east-2", insecure)
    # Out to the endpoint's port only, from every Loki and Tempo pod.
    port = urlsplit(endpoint).port or (80 if insecure else 443)
    for policy in kubernetes.of_type(NETWORK_POLICY):
        spec = policy.plain_inputs()["spec"]
        if spec["podSelector"].get("matchLabels", {}).get(NAME_LABEL) in ("loki", "tempo"):
            anywhere = [rule for rule in spec["egress"]
                        if any("ipBlock" in peer for peer in rule["to"])]
            assert [[p["port"] for p in rule["ports"]] for rule in anywhere] == [[port]]


# --- Loki's targets and rings ------------------------------------------------------------------

@pytest.mark.parametrize(("write", "read", "backend"), [(1, 1, 1), (3, 2, 3), (5, 4, 2)])
def test_each_loki_target_runs_as_many_pods_as_set(write: int, read: int, backend: int) -> None:
    kubernetes = run(lokiWriteReplicas=str(write), lokiReadReplicas=str(read),
                     lokiBackendReplicas=str(backend))
    targets = by_target(kubernetes)
    assert {target: w["spec"]["replicas"] for target, w in targets.items()} == {
        "write": write, "read": read, "backend": backend}
    # The write and backend keep data on claims; the read path keeps none.
    assert "volumeClaimTemplates" in targets["write"]["spec"]
    assert "volumeClaimTemplates" in targets["backend"]["spec"]
    assert "volumeClaimTemplates" not in targets["read"]["spec"]
    # Three copies of each stream at most, never more than there are write pods to hold them.
    assert mounted_config(kubernetes, Service.LOKI)["common"]["replication_factor"] == \
        min(3, write)


def test_every_loki_pod_joins_the_rings_through_the_service_listing_them_all(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    config = mounted_config(kubernetes, Service.LOKI)
    assert config["common"]["ring"]["kvstore"]["store"] == "memberlist"
    (member,) = config["memberlist"]["join_members"]
    host, _, port = member.partition(":")
    service = named(kubernetes, SERVICE, host)
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert [p["port"] for p in service["spec"]["ports"]] == [int(port)]
    assert int(port) == config["memberlist"]["bind_port"]
    for target, workload in by_target(kubernetes).items():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        # Prometheus keeps Loki's pods by the name label; each says its target beside it.
        assert labels[NAME_LABEL] == "loki"
        assert labels[COMPONENT_LABEL] == target
        assert selects(service, labels)
        ports = {p["containerPort"] for p in only_container(workload)["ports"]}
        assert int(port) in ports


def test_pushes_reach_the_write_path_and_grafana_queries_the_read_path(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    targets = by_target(kubernetes)
    http = SERVICES[Service.LOKI].http_port
    # `loki`, the Docker alias: the URL the backend pushes to on Docker works here too.
    push = named(kubernetes, SERVICE, "loki")
    assert selects(push, targets["write"]["spec"]["template"]["metadata"]["labels"])
    assert not selects(push, targets["read"]["spec"]["template"]["metadata"]["labels"])
    assert http in {p["port"] for p in push["spec"]["ports"]}
    (loki,) = [d for d in datasources(settings_of()) if d.uid is Uid.LOKI]
    url = urlsplit(loki.url)
    query = named(kubernetes, SERVICE, str(url.hostname))
    assert selects(query, targets["read"]["spec"]["template"]["metadata"]["labels"])
    assert url.port in {p["port"] for p in query["spec"]["ports"]}


def test_the_read_path_finds_the_compactor_and_index_gateways_on_the_backend(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    backend = by_target(kubernetes)["backend"]
    labels = backend["spec"]["template"]["metadata"]["labels"]
    config = mounted_config(kubernetes, Service.LOKI)
    host, _, port = config["common"]["compactor_grpc_address"].partition(":")
    compactor = named(kubernetes, SERVICE, host)
    assert selects(compactor, labels)
    assert int(port) in {p["port"] for p in compactor["spec"]["ports"]}
    gateways = config["storage_config"]["tsdb_shipper"]["index_gateway_client"]["server_address"]
    host, _, port = gateways.removeprefix("dns+").partition(":")
    # `dns+`: every backend pod's address, so the headless Service that governs them.
    headless = named(kubernetes, SERVICE, host)
    assert headless["spec"]["clusterIP"] == "None"
    assert backend["spec"]["serviceName"] == host
    assert int(port) in {p["port"] for p in headless["spec"]["ports"]}


def test_docker_grafana_still_queries_the_single_binary() -> None:
    settings = settings_of(DOCKER_TWIN)
    assert settings.platform is Platform.DOCKER
    (loki,) = [d for d in datasources(settings) if d.uid is Uid.LOKI]
    assert loki.url == f"http://loki:{SERVICES[Service.LOKI].http_port}"


# --- Tempo ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_tempo_writes_span_metrics_to_every_prometheus_replica(replicas: int) -> None:
    config = mounted_config(run(prometheusReplicas=str(replicas)), Service.TEMPO)
    writes = config["metrics_generator"]["storage"]["remote_write"]
    assert [w["url"] for w in writes] == [
        f"http://{pod_address(Service.PROMETHEUS, ordinal)}/api/v1/write"
        for ordinal in range(replicas)]
    assert all(w["send_exemplars"] for w in writes)


def test_tempo_runs_one_monolithic_pod_with_its_wal_on_a_claim(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    (workload,) = workloads(kubernetes, Service.TEMPO)
    assert workload["spec"]["replicas"] == 1
    assert not any(arg.startswith("-target=") for arg in only_container(workload)["args"])
    config = mounted_config(kubernetes, Service.TEMPO)
    (claim,) = workload["spec"]["volumeClaimTemplates"]
    mount = {m["name"]: m for m in only_container(workload)["volumeMounts"]}[
        claim["metadata"]["name"]]
    assert config["storage"]["trace"]["wal"]["path"].startswith(mount["mountPath"])
    # Clients find it by the Docker alias, on every port it listens on.
    service = named(kubernetes, SERVICE, "tempo")
    assert {p["port"] for p in service["spec"]["ports"]} == set(
        SERVICES[Service.TEMPO].listens.values())


# --- pods and claims -----------------------------------------------------------------------------

@pytest.mark.parametrize("service", [Service.LOKI, Service.TEMPO])
def test_pods_meet_pod_security_restricted(runs: tuple[ProgramRun, ProgramRun],
                                           service: Service) -> None:
    _, kubernetes = runs
    for workload in workloads(kubernetes, service):
        security = only_container(workload)["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert pod(workload)["securityContext"]["runAsNonRoot"] is True
        assert pod(workload)["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod(workload)["automountServiceAccountToken"] is False
        # Every directory it writes is a volume: the root filesystem is read-only.
        mounts = {m["mountPath"] for m in only_container(workload)["volumeMounts"]}
        assert {*SERVICES[service].scratch_dirs} <= mounts


@pytest.mark.parametrize("size", ["20GB", "3TB"])
def test_claims_are_sized_by_the_settings(size: str) -> None:
    overrides = {storage_key(Service.LOKI): size, storage_key(Service.TEMPO): size}
    kubernetes = run(**overrides)
    parsed = Size.parse(size)
    assert parsed is not None
    expected = str(parsed.bytes)
    for service in (Service.LOKI, Service.TEMPO):
        for workload in workloads(kubernetes, service):
            for claim in workload["spec"].get("volumeClaimTemplates", []):
                assert claim["spec"]["resources"]["requests"]["storage"] == expected


# --- traffic ------------------------------------------------------------------------------------

def _rules(policy: dict[str, Any], direction: str) -> set[tuple[str, int | None]]:
    """(peer, port) of each rule one way: the peer a service's name, `*` any address, `dns`."""
    peers_key = "from" if direction == "ingress" else "to"
    return {("*" if "ipBlock" in peer else "dns" if "namespaceSelector" in peer
             else peer["podSelector"]["matchLabels"][NAME_LABEL], port.get("port"))
            for rule in policy["spec"].get(direction, []) for peer in rule[peers_key]
            for port in rule.get("ports") or [{}]}


def _policy(program: ProgramRun, labels: dict[str, str]) -> dict[str, Any]:
    (found,) = [p.plain_inputs() for p in program.of_type(NETWORK_POLICY)
                if p.plain_inputs()["spec"]["podSelector"].get("matchLabels") == labels]
    assert isinstance(found, dict)
    return found


def test_loki_lets_in_and_out_only_what_each_target_needs(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    facts = SERVICES[Service.LOKI]
    http, grpc = facts.http_port, facts.listens[Listener.GRPC]
    gossip = mounted_config(kubernetes, Service.LOKI)["memberlist"]["bind_port"]
    peers = {("loki", grpc), ("loki", gossip)}
    expected = {
        # The backend pushes from outside the cluster.
        "write": {("*", http), ("prometheus", http), *peers},
        "read": {("grafana", http), ("prometheus", http), *peers},
        "backend": {("prometheus", http), *peers},
    }
    for target, workload in by_target(kubernetes).items():
        policy = _policy(kubernetes, workload["spec"]["selector"]["matchLabels"])
        assert _rules(policy, "ingress") == expected[target], target
        assert _rules(policy, "egress") == {("dns", 53), ("*", 443), *peers}, target


def test_tempo_lets_in_otlp_from_anywhere_and_its_api_to_grafana_and_prometheus(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    listens = SERVICES[Service.TEMPO].listens
    (workload,) = workloads(kubernetes, Service.TEMPO)
    policy = _policy(kubernetes, workload["spec"]["selector"]["matchLabels"])
    assert _rules(policy, "ingress") == {
        ("*", listens[Listener.OTLP_GRPC]), ("*", listens[Listener.OTLP_HTTP]),
        ("grafana", listens[Listener.HTTP]), ("prometheus", listens[Listener.HTTP])}
    assert _rules(policy, "egress") == {
        ("dns", 53), ("*", 443), ("prometheus", SERVICES[Service.PROMETHEUS].http_port)}


def test_each_loki_target_has_a_disruption_budget_and_tempos_one_pod_none(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    budgets = [r.plain_inputs()["spec"] for r in
               kubernetes.of_type("kubernetes:policy/v1:PodDisruptionBudget")]
    for workload in workloads(kubernetes, Service.LOKI):
        assert {"maxUnavailable": 1, "selector": workload["spec"]["selector"]} in budgets
    # One pod: a budget would allow every eviction, or block every drain.
    for workload in workloads(kubernetes, Service.TEMPO):
        assert workload["spec"]["replicas"] == 1
        assert all(budget["selector"] != workload["spec"]["selector"] for budget in budgets)

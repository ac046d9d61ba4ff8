"""The Kubernetes layer's Alertmanager under mocks, beside the Docker layer's: the invariants a
user relies on hold on both platforms (secrets never plain, the same file, the same limits and
health check), and what only Kubernetes has holds too (replicas meshed with every peer, Pod
Security `restricted`, a default-deny namespace that lets in Prometheus and the peers alone,
objects the same at every run)."""

from __future__ import annotations

import posixpath
from typing import Any, Final

import pytest
import yaml

from configs.alertmanager import CLUSTER_PORT, HEARTBEAT_URL_FILE, SECRET_FILES
from review.mock_runtime import (
    FAKE_SECRET_PREFIX,
    ProgramRun,
    Registration,
    run_program,
    stack_config,
)
from services import SERVICES, Service, config_path
from tests.support.stack import containers, files
from tests.test_program import plain_strings

# The example stack on Kubernetes (Pulumi.cluster.yaml), and the Docker stack whose targets
# and receivers it carries.
CLUSTER: Final = "cluster"
DOCKER_TWIN: Final = "production"
NAME: Final = str(Service.ALERTMANAGER)
FACTS: Final = SERVICES[Service.ALERTMANAGER]
STATEFUL_SET: Final = "kubernetes:apps/v1:StatefulSet"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def kubernetes_run(**overrides: Any) -> ProgramRun:
    config, secret_keys = stack_config(CLUSTER, overrides=overrides)
    return run_program(CLUSTER, config, secret_keys)


def docker_run(stack: str, **overrides: Any) -> ProgramRun:
    config, secret_keys = stack_config(stack, overrides=overrides)
    return run_program(stack, config, secret_keys)


def named(run: ProgramRun, type_: str, name: str = NAME) -> Registration:
    """The object of `type_` the program names `name`."""
    (found,) = [r for r in run.of_type(type_) if r.plain_inputs()["metadata"]["name"] == name]
    return found


def one(run: ProgramRun, type_: str) -> dict[str, Any]:
    return named(run, type_).plain_inputs()


def pod(run: ProgramRun) -> dict[str, Any]:
    spec: dict[str, Any] = one(run, STATEFUL_SET)["spec"]["template"]["spec"]
    return spec


def container(run: ProgramRun) -> dict[str, Any]:
    (only,) = pod(run)["containers"]
    assert isinstance(only, dict)
    return only


@pytest.fixture(scope="module")
def runs() -> tuple[ProgramRun, ProgramRun]:
    """The program on production's Docker stack and on the cluster stack that carries its
    settings to Kubernetes."""
    return docker_run(DOCKER_TWIN), kubernetes_run()


def test_no_secret_value_sits_in_a_plain_input_on_either_platform(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    for run in runs:
        leaks = [(resource.name, path) for resource in run.resources
                 for path, text in plain_strings(resource.inputs) if FAKE_SECRET_PREFIX in text]
        assert leaks == []


def test_receiver_urls_reach_alertmanager_as_read_only_files_of_its_user(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, kubernetes = runs
    uploaded = {upload["file"]: upload for upload in
                containers(docker)[str(Service.ALERTMANAGER)].plain_inputs()["uploads"]
                if FAKE_SECRET_PREFIX in upload["content"]}
    assert uploaded, "the stack routes a severity to a receiver with a URL"
    assert {upload["permissions"] for upload in uploaded.values()} == {"0400"}

    secret = named(kubernetes, "kubernetes:core/v1:Secret", f"{NAME}-receivers")
    stored = secret.plain_inputs()["stringData"]
    assert all(FAKE_SECRET_PREFIX in value for value in stored.values())
    (volume,) = [v for v in pod(kubernetes)["volumes"] if "projected" in v]
    mount = {m["name"]: m for m in container(kubernetes)["volumeMounts"]}[volume["name"]]
    assert mount["readOnly"] is True
    mounted = {posixpath.join(mount["mountPath"], item["path"]): item
               for source in volume["projected"]["sources"] if "secret" in source
               for item in source["secret"]["items"]}
    # The same files the Docker layer uploads, where alertmanager.yml reads them, owner-only.
    assert set(mounted) == set(uploaded)
    assert {item["mode"] for item in mounted.values()} == {0o400}
    assert {mounted[path]["key"] for path in mounted} == set(stored)
    assert pod(kubernetes)["securityContext"]["fsGroup"] == FACTS.group_id
    assert pod(kubernetes)["securityContext"]["runAsUser"] == FACTS.user_id
    # Never in the environment: the only variable is the pod's own IP.
    assert [env["name"] for env in container(kubernetes)["env"]] == ["POD_IP"]


def test_both_platforms_run_the_same_alertmanager_yml(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, kubernetes = runs
    path = config_path(Service.ALERTMANAGER)
    on_docker = files(containers(docker)[str(Service.ALERTMANAGER)])[path]
    config_map = named(kubernetes, "kubernetes:core/v1:ConfigMap", f"{NAME}-config")
    assert config_map.plain_inputs()["data"] == {posixpath.basename(path): on_docker}
    assert container(kubernetes)["args"][0] == f"--config.file={path}"
    referenced = {value for receiver in yaml.safe_load(on_docker)["receivers"]
                  for integration in receiver.get("slack_configs", [])
                  + receiver.get("webhook_configs", [])
                  for value in (integration.get("api_url_file"), integration.get("url_file"))
                  if value}
    assert referenced <= {*SECRET_FILES.values(), HEARTBEAT_URL_FILE}


@pytest.mark.parametrize(("memory", "cpu"), [(128, 250), (384, 1500)])
def test_memory_and_cpu_settings_limit_alertmanager_on_both_platforms(memory: int,
                                                                      cpu: int) -> None:
    overrides = {"alertmanagerMemoryMb": str(memory), "alertmanagerCpuMillis": str(cpu)}
    docker = containers(docker_run(DOCKER_TWIN, **overrides))[str(Service.ALERTMANAGER)]
    assert docker.plain_inputs()["memory"] == memory
    assert float(docker.plain_inputs()["cpus"]) * 1000 == cpu
    resources = container(kubernetes_run(**overrides))["resources"]
    # Requests equal to limits: the scheduler reserves what the pod may use.
    assert resources == {"limits": {"cpu": f"{cpu}m", "memory": f"{memory}Mi"},
                         "requests": {"cpu": f"{cpu}m", "memory": f"{memory}Mi"}}


def test_probes_ask_the_endpoint_the_docker_healthcheck_asks(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, kubernetes = runs
    test = containers(docker)[str(Service.ALERTMANAGER)].plain_inputs()["healthcheck"]["tests"]
    checked = test[-1]
    for kind in ("livenessProbe", "readinessProbe"):
        get = container(kubernetes)[kind]["httpGet"]
        assert checked == f"http://localhost:{int(get['port'])}{get['path']}"


@pytest.mark.parametrize("replicas", [2, 3, 5])
def test_every_replica_lists_every_peer_by_its_stable_name(replicas: int) -> None:
    run = kubernetes_run(alertmanagerReplicas=str(replicas))
    stateful_set = one(run, STATEFUL_SET)["spec"]
    assert stateful_set["replicas"] == replicas
    headless = named(run, "kubernetes:core/v1:Service")
    service = headless.plain_inputs()
    assert service["spec"]["clusterIP"] == "None"
    assert stateful_set["serviceName"] == service["metadata"]["name"]
    pods = {f"{one(run, STATEFUL_SET)['metadata']['name']}-{ordinal}"
            for ordinal in range(replicas)}
    peers = {arg.removeprefix("--cluster.peer=") for arg in container(run)["args"]
             if arg.startswith("--cluster.peer=")}
    assert peers == {f"{name}.{service['metadata']['name']}:{CLUSTER_PORT}" for name in pods}
    assert {(p["port"], p["protocol"]) for p in service["spec"]["ports"]} >= {
        (CLUSTER_PORT, "TCP"), (CLUSTER_PORT, "UDP")}


def test_one_replica_keeps_gossip_off_as_on_docker() -> None:
    args = container(kubernetes_run(alertmanagerReplicas="1"))["args"]
    docker = containers(docker_run(DOCKER_TWIN))[str(Service.ALERTMANAGER)].plain_inputs()
    assert args == docker["command"]


def test_pods_meet_pod_security_restricted(runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    (namespace,) = kubernetes.of_type("kubernetes:core/v1:Namespace")
    assert namespace.plain_inputs()["metadata"]["labels"][
        "pod-security.kubernetes.io/enforce"] == "restricted"
    security = container(kubernetes)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod(kubernetes)["securityContext"]["runAsNonRoot"] is True
    assert pod(kubernetes)["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod(kubernetes)["topologySpreadConstraints"][0]["topologyKey"] == \
        "kubernetes.io/hostname"
    budget = one(kubernetes, "kubernetes:policy/v1:PodDisruptionBudget")["spec"]
    assert budget == {"maxUnavailable": 1,
                      "selector": one(kubernetes, STATEFUL_SET)["spec"]["selector"]}


def _rules(policy: dict[str, Any], direction: str) -> set[tuple[str, int | None, str | None]]:
    """(peer, port, protocol) of each rule one way (`ingress`/`from` or `egress`/`to`): the
    peer a service's name, `*` any address, `dns` the cluster's DNS."""
    peers_key = "from" if direction == "ingress" else "to"
    found = set()
    for rule in policy["spec"].get(direction, []):
        for peer in rule[peers_key]:
            name = ("*" if "ipBlock" in peer else "dns" if "namespaceSelector" in peer
                    else peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
            for port in rule.get("ports") or [{}]:
                found.add((name, port.get("port"), port.get("protocol")))
    return found


def test_the_namespace_denies_all_but_what_alertmanager_sends_and_receives(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    policies = [p.plain_inputs() for p in kubernetes.of_type(NETWORK_POLICY)]
    (deny,) = [p for p in policies if not p["spec"]["podSelector"]]
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    (own,) = [p for p in policies
              if p["spec"]["podSelector"].get("matchLabels", {}).get(
                  "app.kubernetes.io/name") == NAME]
    gossip = {(NAME, CLUSTER_PORT, "TCP"), (NAME, CLUSTER_PORT, "UDP")}
    assert _rules(own, "ingress") == {("prometheus", FACTS.http_port, "TCP"),
                                      ("grafana", FACTS.http_port, "TCP"), *gossip}
    # The receivers' URLs are secrets: any address, any port.
    assert _rules(own, "egress") == {("dns", 53, "UDP"), ("dns", 53, "TCP"), ("*", None, None),
                                     *gossip}


def test_objects_are_the_same_at_every_run_with_stable_names() -> None:
    first, second = kubernetes_run(), kubernetes_run()
    # Registered in whatever order their inputs resolve; the same objects either way.
    assert {(r.type, r.name): r.inputs for r in first.resources} == \
        {(r.type, r.name): r.inputs for r in second.resources}
    # Every object is named by the program, never auto-named with a random suffix.
    for resource in first.resources:
        if resource.custom and resource.type.startswith("kubernetes:"):
            assert resource.plain_inputs()["metadata"]["name"], resource.name


def test_the_namespace_is_the_setting() -> None:
    run = kubernetes_run(kubernetesNamespace="obs-staging")
    namespaced = [r for r in run.resources if r.custom and r.type.startswith("kubernetes:")
                  and r.type != "kubernetes:core/v1:Namespace"]
    assert namespaced
    assert {r.plain_inputs()["metadata"]["namespace"] for r in namespaced} == {"obs-staging"}

"""The Kubernetes layer's Grafana under mocks, beside the Docker layer's: the same GF_* settings
and secret files on both platforms (never a secret in a plain input), an Ingress exactly where a
host is set and Grafana's URL following it, a NetworkPolicy that lets in Prometheus' scrape (and
the ingress controller) and out the datasources' queries; the stack's outputs as in-cluster URLs,
and the content project run against them."""

from __future__ import annotations

import posixpath
from typing import Any, Final
from urllib.parse import urlsplit

import pytest

from configs.datasources import TYPES
from configs.grafana import SECRETS_DIR
from review.mock_runtime import FAKE_SECRET_PREFIX, ProgramRun, run_content, stack_settings
from services import SERVICES, Service
from tests.kubernetes.test_alertmanager_objects import (
    CLUSTER,
    DOCKER_TWIN,
    NETWORK_POLICY,
    STATEFUL_SET,
    docker_run,
    kubernetes_run,
    named,
)
from tests.support.stack import containers
from tests.test_program import plain_strings
from tests.test_settings import settings_error

NAME: Final = str(Service.GRAFANA)
FACTS: Final = SERVICES[Service.GRAFANA]
INGRESS: Final = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE: Final = "kubernetes:core/v1:Service"
# The cluster stack's Ingress host (Pulumi.cluster.yaml).
HOST: Final = stack_settings(CLUSTER).kubernetes.grafana_ingress_host


def pod(run: ProgramRun) -> dict[str, Any]:
    spec: dict[str, Any] = named(run, STATEFUL_SET, NAME).plain_inputs()["spec"]["template"][
        "spec"]
    return spec


def container(run: ProgramRun) -> dict[str, Any]:
    (only,) = pod(run)["containers"]
    assert isinstance(only, dict)
    return only


def env(run: ProgramRun) -> dict[str, str]:
    return {var["name"]: var["value"] for var in container(run)["env"]}


def docker_env(run: ProgramRun) -> dict[str, str]:
    envs = containers(run)[NAME].plain_inputs()["envs"]
    return dict(item.split("=", 1) for item in envs)


def own_policy(run: ProgramRun) -> dict[str, Any]:
    (policy,) = [p.plain_inputs() for p in run.of_type(NETWORK_POLICY)
                 if p.plain_inputs()["spec"]["podSelector"].get("matchLabels", {}).get(
                     "app.kubernetes.io/name") == NAME]
    return policy


def rules(policy: dict[str, Any], direction: str) -> set[tuple[str, int | None]]:
    """(peer, port) of each rule one way: a service's name, `*` any address, `pods` any pod of
    any namespace, `dns` the cluster's DNS (kube-system)."""
    peers_key = "from" if direction == "ingress" else "to"
    found = set()
    for rule in policy["spec"].get(direction, []):
        for peer in rule[peers_key]:
            if "ipBlock" in peer:
                name = "*"
            elif "namespaceSelector" in peer:
                name = "dns" if peer["namespaceSelector"].get("matchLabels") else "pods"
            else:
                name = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for port in rule.get("ports") or [{}]:
                assert port.get("protocol") in (None, "TCP", "UDP")
                found.add((name, port.get("port")))
    return found


@pytest.fixture(scope="module")
def runs() -> tuple[ProgramRun, ProgramRun]:
    return docker_run(DOCKER_TWIN), kubernetes_run()


def test_no_secret_value_sits_in_a_plain_input_on_either_platform(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    for run in runs:
        leaks = [(resource.name, path) for resource in run.resources
                 for path, text in plain_strings(resource.inputs) if FAKE_SECRET_PREFIX in text]
        assert leaks == []
    _, kubernetes = runs
    # Nothing of a secret in Grafana's environment either, even kept secret.
    assert not any(FAKE_SECRET_PREFIX in str(var) for var in container(kubernetes)["env"])


def test_both_platforms_give_grafana_the_same_settings() -> None:
    # The Docker twin told the URL the cluster stack derives from its Ingress host: every
    # other GF_* follows from the same settings, the secret files' paths among them.
    kubernetes = kubernetes_run()
    url = env(kubernetes)["GF_SERVER_ROOT_URL"]
    assert url == f"https://{HOST}"
    assert env(kubernetes) == docker_env(docker_run(DOCKER_TWIN, grafanaUrl=url))


def test_the_secrets_are_files_of_grafanas_user_where_the_docker_layer_uploads_them(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, kubernetes = runs
    uploaded = {upload["file"]: upload for upload in
                containers(docker)[NAME].plain_inputs()["uploads"]
                if FAKE_SECRET_PREFIX in upload["content"]}
    assert len(uploaded) == 3
    stored = named(kubernetes, "kubernetes:core/v1:Secret", f"{NAME}-secrets").plain_inputs()[
        "stringData"]
    assert all(FAKE_SECRET_PREFIX in value for value in stored.values())
    (volume,) = [v for v in pod(kubernetes)["volumes"] if "secret" in v]
    mount = {m["name"]: m for m in container(kubernetes)["volumeMounts"]}[volume["name"]]
    assert mount["readOnly"] is True
    mounted = {posixpath.join(mount["mountPath"], item["path"]): item
               for item in volume["secret"]["items"]}
    assert set(mounted) == set(uploaded)
    assert {item["key"] for item in mounted.values()} == set(stored)
    assert {item["mode"] for item in mounted.values()} == {0o400}
    # Grafana reads each from the file its GF_*__FILE names.
    named_files = {value for key, value in env(kubernetes).items() if key.endswith("__FILE")}
    assert named_files == set(mounted)
    security = pod(kubernetes)["securityContext"]
    assert (security["runAsUser"], security["fsGroup"]) == (FACTS.user_id, FACTS.group_id)
    assert mount["mountPath"] == SECRETS_DIR


def test_one_pod_keeps_grafana_db_on_its_claim_and_passes_pod_security_restricted(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    spec = named(kubernetes, STATEFUL_SET, NAME).plain_inputs()["spec"]
    assert spec["replicas"] == 1
    (claim,) = spec["volumeClaimTemplates"]
    size = stack_settings(CLUSTER).kubernetes.storage[Service.GRAFANA]
    assert claim["spec"]["resources"]["requests"]["storage"] == str(size.bytes)
    mounts = {m["mountPath"]: m["name"] for m in container(kubernetes)["volumeMounts"]}
    assert mounts[FACTS.data_dir] == claim["metadata"]["name"]
    # Every scratch dir in memory: the root filesystem is read-only.
    for path in FACTS.scratch_dirs:
        (scratch,) = [v for v in pod(kubernetes)["volumes"] if v["name"] == mounts[path]]
        assert scratch["emptyDir"]["medium"] == "Memory"
    security = container(kubernetes)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod(kubernetes)["securityContext"]["runAsNonRoot"] is True
    # One pod: no budget, which would either allow every eviction or block every drain.
    assert not [b for b in kubernetes.of_type("kubernetes:policy/v1:PodDisruptionBudget")
                if b.plain_inputs()["metadata"]["name"] == NAME]


def test_probes_ask_grafanas_health_endpoint_as_the_docker_healthcheck_does(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, kubernetes = runs
    checked = containers(docker)[NAME].plain_inputs()["healthcheck"]["tests"][-1]
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container(kubernetes)[kind]["httpGet"]
        assert checked == f"http://localhost:{int(get['port'])}{get['path']}"
    # Restarted only once it has started: a first start's migrations take their time.
    startup = container(kubernetes)["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 300


@pytest.mark.parametrize(("memory", "cpu"), [(512, 500), (1024, 2000)])
def test_memory_and_cpu_settings_limit_grafana(memory: int, cpu: int) -> None:
    run = kubernetes_run(grafanaMemoryMb=str(memory), grafanaCpuMillis=str(cpu))
    amounts = {"cpu": f"{cpu}m", "memory": f"{memory}Mi"}
    assert container(run)["resources"] == {"limits": amounts, "requests": amounts}


def test_the_ingress_serves_the_host_through_grafanas_service() -> None:
    run = kubernetes_run(kubernetesIngressClass="nginx")
    (ingress,) = [r.plain_inputs() for r in run.of_type(INGRESS)]
    service = named(run, SERVICE, NAME).plain_inputs()
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == named(run, STATEFUL_SET, NAME).plain_inputs()[
        "spec"]["selector"]["matchLabels"]
    (port,) = service["spec"]["ports"]
    assert port["port"] == FACTS.http_port
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": [HOST]}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == HOST
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    assert path["backend"]["service"] == {"name": service["metadata"]["name"],
                                          "port": {"number": port["port"]}}
    # Unset, the cluster's default IngressClass.
    (default,) = [r.plain_inputs() for r in kubernetes_run().of_type(INGRESS)]
    assert "ingressClassName" not in default["spec"]


def test_without_a_host_no_ingress_and_grafana_is_its_services_url() -> None:
    settings = stack_settings(CLUSTER, {"grafanaIngressHost": None})
    run = kubernetes_run(grafanaIngressHost=None)
    assert run.of_type(INGRESS) == []
    in_cluster = f"http://{NAME}.{settings.kubernetes.namespace}.svc:{FACTS.http_port}"
    assert env(run)["GF_SERVER_ROOT_URL"] == in_cluster
    assert env(run)["GF_SECURITY_COOKIE_SECURE"] == "false"
    assert run.outputs["grafanaUrl"] == (in_cluster, False)
    # A URL the operator reaches it by (a proxy) is Grafana's, where no Ingress decides.
    proxied = kubernetes_run(grafanaIngressHost=None, grafanaUrl="https://obs.example.com")
    assert env(proxied)["GF_SERVER_ROOT_URL"] == "https://obs.example.com"
    assert proxied.outputs["grafanaUrl"] == ("https://obs.example.com", False)


def test_a_grafana_url_other_than_the_ingress_is_refused() -> None:
    error = settings_error(CLUSTER, grafanaUrl="https://elsewhere.example.com")
    assert any("gatewayz-observability:grafanaUrl" in p and f"unset or https://{HOST}" in p
               for p in error.problems), error.problems
    # Repeating it is fine.
    assert kubernetes_run(grafanaUrl=f"https://{HOST}/").outputs["grafanaUrl"][0] == \
        f"https://{HOST}"


def test_the_policy_lets_in_the_scrape_and_the_ingress_and_out_the_datasources() -> None:
    port = FACTS.http_port
    queried = {(str(service), SERVICES[service].http_port)
               for service in (Service.PROMETHEUS, Service.LOKI, Service.TEMPO,
                               Service.ALERTMANAGER)}
    for run, ingress in ((kubernetes_run(), True),
                         (kubernetes_run(grafanaIngressHost=None), False)):
        policy = own_policy(run)
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        # The ingress controller runs in a namespace of its own: any pod, any address.
        from_ingress = {("*", port), ("pods", port)} if ingress else set()
        assert rules(policy, "ingress") == {("prometheus", port), *from_ingress}
        assert rules(policy, "egress") == {("dns", 53), *queried}


def test_outputs_on_kubernetes_are_in_cluster_urls_and_grafanas_the_ingress() -> None:
    run = kubernetes_run(kubernetesNamespace="obs-prod")
    expected = {publication.output: f"http://{facts.service}.obs-prod.svc:"
                                    f"{facts.listens[publication.listener]}"
                for facts in SERVICES.values()
                for publication in facts.published.values() if publication.output}
    expected["grafanaUrl"] = f"https://{HOST}"
    assert {name: run.outputs[name] for name in expected} == \
        {name: (url, False) for name, url in expected.items()}
    assert run.outputs["kubernetesNamespace"] == ("obs-prod", False)
    assert run.outputs["grafanaAdminPassword"][1] is True


def test_the_content_project_runs_against_the_cluster_stack(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    content = run_content(kubernetes)
    (provider,) = content.of_type("pulumi:providers:grafana")
    assert provider.plain_inputs()["url"] == kubernetes.outputs["grafanaUrl"][0]
    sources = {r.plain_inputs()["uid"]: r.plain_inputs()
               for r in content.of_type("grafana:oss/dataSource:DataSource")}
    assert {uid: source["type"] for uid, source in sources.items()} == \
        {uid.value: kind for uid, kind in TYPES.items()}
    # Each datasource's URL is a Service of the namespace (no dot: resolved within it), on a
    # port the Grafana pod may reach.
    allowed = {port for peer, port in rules(own_policy(kubernetes), "egress") if peer != "dns"}
    for source in sources.values():
        url = urlsplit(source["url"])
        assert url.hostname is not None
        assert "." not in url.hostname
        assert url.port in allowed, source["url"]

"""The program on the cluster stack (Pulumi.cluster.yaml, `platform: kubernetes`) through the real
CLI and the provider `make tools` builds, against the tests' control plane: `pulumi up` has every
object admitted by the API server (its schema, its validation, Pod Security `restricted` enforced
on the namespace), `pulumi preview --expect-no-changes` passes right after, and `pulumi destroy`
is refused by the protected namespace (production's `protectData`), then, unprotected, removes
every object but the namespace, retained with its claims.

No kubelet or scheduler runs here, so no pod ever runs or turns Ready: the program runs from
`cluster_project`, whose stack transform marks the kinds whose await needs nodes or an ingress
controller (the StatefulSet, the Services, Grafana's Ingress among them) with the provider's
`pulumi.com/skipAwait` annotation (tests/support/cluster.py says which and why), so the program a
cluster runs still waits for Ready pods; what the API server alone shows is checked: the objects
as stored, and the pods the StatefulSet and ReplicaSet controllers create admitted under Pod
Security `restricted`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.support.cluster import cluster_project, stack_on
from tests.support.kubernetes import DELETION_SECONDS, ControlPlane
from tests.support.waiting import wait_until
from toolchain.engine_run import SECRET_VALUES, Cli

SOURCE: Final = "cluster"
STACK: Final = "kubernetes-up"
NAMESPACE: Final = f"gatewayz-{STACK}"
REPLICAS: Final = 2
# Each Loki target's pods, fewer than the default three to keep the control plane's work small.
LOKI_REPLICAS: Final = 2


@pytest.fixture
def cli(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Cli]:
    project = cluster_project(tmp_path, SOURCE, as_stack=STACK)
    with stack_on(control_plane, tmp_path, project, STACK, source=SOURCE) as run:
        run.config_set("alertmanagerReplicas", str(REPLICAS))
        run.config_set("prometheusReplicas", str(REPLICAS))
        for target in ("Write", "Read", "Backend"):
            run.config_set(f"loki{target}Replicas", str(LOKI_REPLICAS))
        run.config_set("kubernetesNamespace", NAMESPACE)
        for key, value in SECRET_VALUES.items():
            run.config_set(key, value, secret=True)
        yield run


def test_up_is_admitted_preview_sees_no_change_and_destroy_removes_the_namespace(
        cli: Cli, control_plane: ControlPlane) -> None:
    base = f"/api/v1/namespaces/{NAMESPACE}"
    apps = f"/apis/apps/v1/namespaces/{NAMESPACE}"
    with control_plane.client() as api:
        assert api.get(base).status_code == 404

        cli.run("up", "--yes", "--skip-preview")
        namespace = api.get(base).raise_for_status().json()
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == \
            "restricted"
        for name in ("alertmanager", "prometheus"):
            stored = api.get(f"{apps}/statefulsets/{name}").raise_for_status().json()
            assert stored["spec"]["replicas"] == REPLICAS, name
        secret = api.get(f"{base}/secrets/alertmanager-receivers").raise_for_status().json()
        assert set(secret["data"]) == {"slack_api_url", "webhook_url", "heartbeat_url"}
        policies = api.get(f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/"
                           "networkpolicies").raise_for_status().json()["items"]
        assert {policy["metadata"]["name"] for policy in policies} == {
            "default-deny", "alertmanager-network", "prometheus-network",
            "redis-exporter-network", "loki-write-network", "loki-read-network",
            "loki-backend-network", "tempo-network", "grafana-network"}
        grafana = api.get(f"{base}/secrets/grafana-secrets").raise_for_status().json()
        assert set(grafana["data"]) == {"admin_password", "secret_key", "metrics_password"}
        loki_secret = api.get(f"{base}/secrets/loki-object-storage").raise_for_status().json()
        assert set(loki_secret["data"]) == {"object-storage-credentials"}
        credentials = api.get(f"{base}/secrets/prometheus-credentials").raise_for_status().json()
        assert set(credentials["data"]) == {"grafana_metrics.password"}
        # Discovery's Role binds in the namespace; the API server accepted its rules as given.
        role = api.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/roles/"
                       "prometheus-discovery").raise_for_status().json()
        assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {
            "get", "list", "watch"}
        ingress = api.get(f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses/"
                          "grafana").raise_for_status().json()
        assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"][
            "name"] == "grafana"
        assert api.get(f"/apis/policy/v1/namespaces/{NAMESPACE}/poddisruptionbudgets/"
                       "alertmanager").status_code == 200

        # The controllers create the pods; the API server admits them only if they meet Pod
        # Security `restricted` (a refused pod never appears, an event says why).
        def pods() -> set[str]:
            items = api.get(f"{base}/pods").raise_for_status().json()["items"]
            return {pod["metadata"]["name"] for pod in items}

        # StatefulSet pods by their stable names; a Deployment's by its prefix and count.
        expected = {f"{name}-{ordinal}" for name in ("alertmanager", "prometheus")
                    for ordinal in range(REPLICAS)} | {
            f"loki-{target}-{ordinal}" for target in ("write", "backend")
            for ordinal in range(LOKI_REPLICAS)} | {"tempo-0", "grafana-0"}
        deployments = {"loki-read-": LOKI_REPLICAS, "redis-exporter-": 1}

        def admitted(found: set[str]) -> bool:
            rest = found - expected
            counts = {prefix: len({name for name in rest if name.startswith(prefix)})
                      for prefix in deployments}
            return found >= expected and counts == deployments \
                and len(rest) == sum(deployments.values())

        wait_until("every controller's pods admitted by Pod Security", DELETION_SECONDS, pods,
                   admitted)

        cli.run("preview", "--expect-no-changes")

        # protectData (production's label) protects the namespace, which holds the claims.
        refused = cli.run("destroy", "--yes", "--skip-preview", check=False)
        assert refused.returncode != 0, refused.stdout[-4000:]
        assert "protect" in refused.stdout + refused.stderr, refused.stdout[-4000:]
        assert api.get(base).status_code == 200
        # Unprotected, destroy removes every object but the namespace, retained on delete as
        # the Docker layer's volumes are: its claims outlive the stack.
        cli.run("state", "unprotect", "--all", "--yes")
        cli.run("destroy", "--yes", "--skip-preview")
        assert api.get(base).status_code == 200
        left = api.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/statefulsets").raise_for_status()
        assert left.json()["items"] == []
        api.delete(base).raise_for_status()
        wait_until(f"namespace {NAMESPACE} deleted", DELETION_SECONDS,
                   lambda: api.get(base).status_code == 404)

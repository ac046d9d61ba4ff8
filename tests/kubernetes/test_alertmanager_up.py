"""The program on the cluster stack (Pulumi.cluster.yaml, `platform: kubernetes`) through the real
CLI and the provider `make tools` builds, against the tests' control plane: `pulumi up` has every
object admitted by the API server (its schema, its validation, Pod Security `restricted` enforced
on the namespace), `pulumi preview --expect-no-changes` passes right after, and `pulumi destroy`
is refused by the protected namespace (production's `protectData`), then, unprotected, removes
every object but the namespace, retained with its claims.

No kubelet or scheduler runs here, so no pod ever runs or turns Ready, and three awaits would
wait out their 10 minutes: the StatefulSets' (`.status.readyReplicas` equal to `spec.replicas`),
the Deployment's (its `Available` condition `True`) and the Services' (no "not ready"
endpoints; each has a selector, so none is an "empty headless" Service), as pulumi-kubernetes
4.25.0 documents on each resource (apps/v1 StatefulSet, apps/v1 Deployment, core/v1 Service).
The test's program, not the layer, marks those kinds with the provider's `pulumi.com/skipAwait:
"true"` annotation (pulumi/pulumi-kubernetes#417, the workaround of #1974) through a stack
transform, so the program a cluster runs still waits for Ready pods; what the API server alone
shows is checked: the objects as stored, and the pods the controllers create admitted under Pod
Security `restricted`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.kubernetes.conftest import stack_on
from tests.kubernetes.test_control_plane import DELETION_SECONDS
from tests.support.kubernetes import ControlPlane
from tests.support.waiting import wait_until
from toolchain.engine_run import SECRET_VALUES, Cli, copy_project

SOURCE: Final = "cluster"
STACK: Final = "kubernetes-up"
NAMESPACE: Final = f"gatewayz-{STACK}"
REPLICAS: Final = 2
SKIP_AWAIT: Final = "pulumi.com/skipAwait"
# What the program marks: the kinds whose await needs pods that run.
NEEDS_PODS: Final = ("kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment",
                     "kubernetes:core/v1:Service")
PROGRAM: Final = f'''"""The program; what awaits running pods marked skipAwait (no kubelet here)."""

import pulumi

AWAITED = {NEEDS_PODS!r}


def skip_await(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_ not in AWAITED:
        return None
    props = dict(args.props)
    metadata = dict(props.get("metadata") or {{}})
    metadata["annotations"] = {{**(metadata.get("annotations") or {{}}), "{SKIP_AWAIT}": "true"}}
    props["metadata"] = metadata
    return pulumi.ResourceTransformResult(props, args.opts)


pulumi.runtime.register_resource_transform(skip_await)

'''


@pytest.fixture
def cli(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Cli]:
    project = copy_project(tmp_path, SOURCE, as_stack=STACK)
    main = project / "__main__.py"
    main.write_text(PROGRAM + main.read_text())
    with stack_on(control_plane, tmp_path, project, STACK, source=SOURCE) as run:
        run.config_set("alertmanagerReplicas", str(REPLICAS))
        run.config_set("prometheusReplicas", str(REPLICAS))
        run.config_set("kubernetesNamespace", NAMESPACE)
        for key, value in SECRET_VALUES.items():
            run.config_set(key, value, secret=True)
        yield run


def test_up_is_admitted_preview_sees_no_change_and_destroy_removes_the_namespace(
        cli: Cli, control_plane: ControlPlane) -> None:
    base = f"/api/v1/namespaces/{NAMESPACE}"
    with control_plane.client() as api:
        assert api.get(base).status_code == 404

        cli.run("up", "--yes", "--skip-preview")
        namespace = api.get(base).raise_for_status().json()
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == \
            "restricted"
        stateful_set = api.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/statefulsets/"
                               "alertmanager").raise_for_status().json()
        assert stateful_set["spec"]["replicas"] == REPLICAS
        secret = api.get(f"{base}/secrets/alertmanager-receivers").raise_for_status().json()
        assert set(secret["data"]) == {"slack_api_url", "webhook_url", "heartbeat_url"}
        policies = api.get(f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/"
                           "networkpolicies").raise_for_status().json()["items"]
        assert {policy["metadata"]["name"] for policy in policies} == {
            "default-deny", "alertmanager-network", "prometheus-network",
            "redis-exporter-network"}
        assert api.get(f"/apis/policy/v1/namespaces/{NAMESPACE}/poddisruptionbudgets/"
                       "alertmanager").status_code == 200

        # The StatefulSet controller creates the pods; the API server admits them only if they
        # meet Pod Security `restricted` (a refused pod never appears, an event says why).
        def pods() -> set[str]:
            items = api.get(f"{base}/pods").raise_for_status().json()["items"]
            return {pod["metadata"]["name"] for pod in items}

        expected = {f"{name}-{ordinal}" for name in ("alertmanager", "prometheus")
                    for ordinal in range(REPLICAS)}

        def admitted(found: set[str]) -> bool:
            # The StatefulSets' pods by name, the Deployment's one by its prefix.
            rest = found - expected
            return found >= expected and len(rest) == 1 and \
                next(iter(rest)).startswith("redis-exporter-")

        wait_until("every controller's pods admitted by Pod Security", DELETION_SECONDS, pods,
                   admitted)
        prometheus = api.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/statefulsets/"
                             "prometheus").raise_for_status().json()
        assert prometheus["spec"]["replicas"] == REPLICAS
        credentials = api.get(f"{base}/secrets/prometheus-credentials").raise_for_status().json()
        assert set(credentials["data"]) == {"grafana_metrics.password"}
        # Discovery's Role binds in the namespace; the API server accepted its rules as given.
        role = api.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/roles/"
                       "prometheus-discovery").raise_for_status().json()
        assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {
            "get", "list", "watch"}

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

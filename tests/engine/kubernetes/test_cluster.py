"""The engine tier on a Kubernetes stack, in order: preview; up, which the API server admits object
by object (the objects the program registers, each stored where its kind lives); no diff right
after; a one-setting change (`alertmanagerReplicas`, one more than the stack has) that updates
the Alertmanager StatefulSet, and Prometheus' rules, whose AlertmanagerClusterMemberMissing
counts the replicas, with the Prometheus StatefulSet that restarts on them, and nothing else; no
secret in plain text in the state; destroy refused by the protected namespace (`protectData`),
then, unprotected, removing every object but the namespace, retained with its claims, which the
test deletes last. The objects are whatever the program registers (its run under mocks says
which). docs/engine.md."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import httpx
import pytest

from review.mock_runtime import run_program, stack_config, stack_settings
from review.render import is_kubernetes_object
from services import Service
from tests.support.kubernetes import DELETION_SECONDS, ControlPlane
from tests.support.waiting import wait_until
from toolchain.engine_run import Cli, secrets_in_plain_text

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("timed")]

NAMESPACE_KIND: Final = "Namespace"
STATEFUL_SET: Final = "kubernetes:apps/v1:StatefulSet"
CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"


@dataclass(frozen=True, order=True)
class Object:
    """One Kubernetes object by what the API server knows it by."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of_type(cls, type_: str, namespace: str, name: str) -> Object:
        """From the provider's type token, `kubernetes:<group>/<version>:<Kind>` (the core
        group's is `core/v1`, its apiVersion `v1`)."""
        _, group_version, kind = type_.split(":")
        return cls(group_version.removeprefix("core/"), kind, namespace, name)

    def path(self, api: httpx.Client) -> str:
        """The object's URL path, its resource's plural and scope from the API's discovery."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        (resource,) = [one for one in api.get(base).raise_for_status().json()["resources"]
                       if one["kind"] == self.kind and "/" not in one["name"]]
        if resource["namespaced"]:
            return f"{base}/namespaces/{self.namespace}/{resource['name']}/{self.name}"
        return f"{base}/{resource['name']}/{self.name}"


def registered(cli: Cli) -> set[Object]:
    """The objects the program registers for the stack, from its run under mocks."""
    config, secret_keys = stack_config(cli.source)
    run = run_program(cli.stack, config, secret_keys)
    return {Object.of_type(r.type, r.plain_inputs()["metadata"].get("namespace", ""),
                           r.plain_inputs()["metadata"]["name"])
            for r in run.resources if is_kubernetes_object(r)}


def in_state(cli: Cli) -> set[Object]:
    """The Kubernetes objects in the stack's state (`pulumi stack export`), by their ids
    (`<namespace>/<name>`, or `<name>` for a cluster-scoped one)."""
    deployment = json.loads(cli.run("stack", "export").stdout)["deployment"]
    found = set()
    for resource in deployment.get("resources", []):
        if resource.get("custom") and resource["type"].startswith("kubernetes:"):
            namespace, _, name = resource["id"].rpartition("/")
            found.add(Object.of_type(resource["type"], namespace, name))
    return found


def _changes(preview: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The preview's steps that change something, as (op, type, resource name)."""
    return {(step["op"], step["urn"].split("::")[-2].rsplit("$", 1)[-1],
             step["urn"].split("::")[-1])
            for step in preview.get("steps", []) if step["op"] != "same"}


def test_preview(cli: Cli) -> None:
    cli.run("preview")


def test_up_has_the_api_server_admit_every_object(cli: Cli, control_plane: ControlPlane) -> None:
    cli.run("up", "--yes", "--skip-preview")
    objects = in_state(cli)
    assert objects == registered(cli)
    with control_plane.client() as api:
        missing = [obj for obj in sorted(objects) if api.get(obj.path(api)).status_code != 200]
    assert missing == []


def test_no_changes_right_after_up(cli: Cli) -> None:
    result = cli.run("preview", "--expect-no-changes", "--diff", check=False)
    assert result.returncode == 0, (
        f"a perpetual diff right after `pulumi up`:\n{result.stdout[-6000:]}\n"
        f"{result.stderr[-2000:]}")


def test_alertmanager_replicas_change_updates_only_what_counts_them(
        cli: Cli, control_plane: ControlPlane) -> None:
    replicas = stack_settings(cli.source).kubernetes.alertmanager_replicas + 1
    (stateful_set,) = [obj for obj in in_state(cli) if obj.kind == "StatefulSet"
                       and obj.name == str(Service.ALERTMANAGER)]
    cli.config_set("alertmanagerReplicas", str(replicas))
    preview = json.loads(cli.run("preview", "--json").stdout)
    assert _changes(preview) == {
        ("update", STATEFUL_SET, str(Service.ALERTMANAGER)),
        ("update", STATEFUL_SET, str(Service.PROMETHEUS)),
        ("update", CONFIG_MAP, f"{Service.PROMETHEUS}-rules")}, preview.get("changeSummary")

    cli.run("up", "--yes", "--skip-preview")
    with control_plane.client() as api:
        stored = api.get(stateful_set.path(api)).raise_for_status().json()
    assert stored["spec"]["replicas"] == replicas


def test_state_holds_no_secret_in_plain_text(cli: Cli) -> None:
    assert secrets_in_plain_text(cli) == []


def test_destroy_is_refused_by_the_namespace_then_leaves_only_it(
        cli: Cli, control_plane: ControlPlane) -> None:
    # Production's label (the cluster stack's `environment`): the program refuses it unset.
    assert stack_settings(cli.source).protect_data
    objects = in_state(cli)
    (namespace,) = [obj for obj in objects if obj.kind == NAMESPACE_KIND]
    with control_plane.client() as api:
        paths = {obj: obj.path(api) for obj in objects}
        refused = cli.run("destroy", "--yes", "--skip-preview", check=False)
        text = refused.stdout + refused.stderr
        assert refused.returncode != 0, text[-4000:]
        assert "protect" in text, text[-4000:]
        assert api.get(paths[namespace]).status_code == 200

        # Unprotected, destroy removes every object but the namespace, retained on delete with
        # the claims in it (as the Docker platform's volumes are).
        cli.run("state", "unprotect", "--all", "--yes")
        cli.run("destroy", "--yes", "--skip-preview")
        assert in_state(cli) == set()

        def left() -> list[Object]:
            return [obj for obj, path in sorted(paths.items())
                    if obj != namespace and api.get(path).status_code != 404]

        wait_until("every object but the namespace deleted", DELETION_SECONDS, left,
                   lambda found: found == [])
        assert api.get(paths[namespace]).status_code == 200
        api.delete(paths[namespace]).raise_for_status()
        wait_until(f"namespace {namespace.name} deleted", DELETION_SECONDS,
                   lambda: api.get(paths[namespace]).status_code == 404)

"""A tiny Pulumi program through the real CLI and the Kubernetes provider `make tools` builds,
against the tests' control plane: `pulumi up` creates a Namespace and a ConfigMap in it, which
the API server then has as the program wrote them; `pulumi preview --expect-no-changes` passes
right after (no perpetual diff); `pulumi destroy` leaves neither. A file backend, PULUMI_HOME
and a passphrase in a temporary directory (toolchain/engine_run.py), the admin's kubeconfig of
the run (KUBECONFIG), no plugin download."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.support.cluster import stack_on
from tests.support.kubernetes import ControlPlane
from toolchain.engine_run import REPO, Cli

STACK: Final = "kubernetes-check"
NAMESPACE: Final = "gatewayz-pulumi-check"
PROGRAM: Final = f'''"""A namespace and a ConfigMap in it, through the Kubernetes provider."""

import pulumi
import pulumi_kubernetes as kubernetes

namespace = kubernetes.core.v1.Namespace("namespace", metadata={{
    "name": "{NAMESPACE}", "labels": {{"app.kubernetes.io/part-of": "gatewayz"}}}})
settings = kubernetes.core.v1.ConfigMap(
    "settings", metadata={{"name": "settings", "namespace": namespace.metadata.name}},
    data={{"retention": "15d"}})
pulumi.export("configMap", settings.metadata.name)
'''


def _project(root: Path) -> Path:
    project = root / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        "name: gatewayz-kubernetes-check\n"
        "runtime:\n  name: python\n  options:\n    virtualenv: .venv\n")
    (project / "__main__.py").write_text(PROGRAM)
    (project / ".venv").symlink_to(REPO / ".venv")
    return project


@pytest.fixture
def cli(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Cli]:
    with stack_on(control_plane, tmp_path, _project(tmp_path), STACK) as run:
        yield run


def test_up_creates_preview_sees_no_change_and_destroy_leaves_nothing(
        cli: Cli, control_plane: ControlPlane) -> None:
    config_map = f"/api/v1/namespaces/{NAMESPACE}/configmaps/settings"
    with control_plane.client() as api:
        assert api.get(f"/api/v1/namespaces/{NAMESPACE}").status_code == 404

        cli.run("up", "--yes", "--skip-preview")
        namespace = api.get(f"/api/v1/namespaces/{NAMESPACE}").raise_for_status().json()
        assert namespace["metadata"]["labels"]["app.kubernetes.io/part-of"] == "gatewayz"
        assert api.get(config_map).raise_for_status().json()["data"] == {"retention": "15d"}
        assert cli.outputs() == {"configMap": "settings"}

        cli.run("preview", "--expect-no-changes")

        # The provider waits until the namespace is gone, which takes the controller
        # manager's namespace controller.
        cli.run("destroy", "--yes", "--skip-preview")
        assert api.get(config_map).status_code == 404
        assert api.get(f"/api/v1/namespaces/{NAMESPACE}").status_code == 404

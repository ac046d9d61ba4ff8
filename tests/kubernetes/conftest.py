"""One Kubernetes control plane for the tests of this folder: etcd, kube-apiserver and
kube-controller-manager from `make tools`, on loopback with the run's own certificates
(tests/support/kubernetes.py). Without the binaries the tests skip on a workstation and fail
under CI=true."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.kubernetes import BINARIES, ControlPlane, running
from tests.support.tools import require_engine, require_tool
from toolchain.engine_run import Cli, engine_env


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    binaries = {name: require_tool(name) for name in BINARIES}
    with running(tmp_path_factory.mktemp("kubernetes"), binaries) as plane:
        yield plane


@contextmanager
def stack_on(control_plane: ControlPlane, root: Path, project: Path, stack: str,
             source: str = "") -> Iterator[Cli]:
    """A new stack of `project` on the control plane, through the real CLI: a file backend, a
    passphrase and PULUMI_HOME under `root`, the admin's kubeconfig; destroyed and removed at
    the end (unprotected first), failures included."""
    engine = require_engine()
    backend = root / "state"
    backend.mkdir()
    env = {**engine_env(root, engine, None),
           "PULUMI_BACKEND_URL": f"file://{backend}",
           "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
           "KUBECONFIG": str(control_plane.kubeconfig)}
    run = Cli(stack, project, backend, env, source=source)
    run.run("stack", "init", "--secrets-provider", "passphrase")
    try:
        yield run
    finally:
        run.run("state", "unprotect", "--all", "--yes", check=False)
        run.run("destroy", "--yes", "--skip-preview", check=False)
        run.run("stack", "rm", "--yes", "--force", check=False)
        shutil.rmtree(root / "home", ignore_errors=True)

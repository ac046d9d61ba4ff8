"""One Kubernetes control plane for the tests of this folder: etcd, kube-apiserver and
kube-controller-manager from `make tools`, on loopback with the run's own certificates
(tests/support/kubernetes.py). Without the binaries the tests skip on a workstation and fail
under CI=true."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.kubernetes import BINARIES, ControlPlane, running
from tests.support.tools import require_tool


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    binaries = {name: require_tool(name) for name in BINARIES}
    with running(tmp_path_factory.mktemp("kubernetes"), binaries) as plane:
        yield plane

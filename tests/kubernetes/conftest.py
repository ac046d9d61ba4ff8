"""One Kubernetes control plane for the tests of this folder: etcd, kube-apiserver and
kube-controller-manager from `make tools`, on loopback with the run's own certificates
(tests/support/kubernetes.py); the fixture is shared with the engine tier's cluster stack
(tests/support/cluster.py). Without the binaries the tests skip on a workstation and fail
under CI=true."""

from tests.support.cluster import control_plane

__all__ = ["control_plane"]

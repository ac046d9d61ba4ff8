"""The cluster stack's Alertmanager running: on a control plane of its own with one node
(tests/support/kubernetes_node.py: kube-scheduler, a kubelet on containerd, CoreDNS), the local
image imported from `make images`, `pulumi up` waits, as a cluster's would, for the StatefulSet's
pods to turn Ready (no skipAwait here), and the replicas find each other by the headless
Service's names: each reports every replica a member of its gossip cluster.

Where the machine cannot run a node the test skips with the exact reason (NodeUnavailableError);
without the binaries or Debian's packages (.ci/run) it skips on a workstation and fails under
CI=true, as the others do."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Final, NoReturn

import pytest
from docker.errors import DockerException

from services import SERVICES, Listener, Service
from tests.kubernetes.conftest import stack_on
from tests.support.kubernetes import BINARIES, ControlPlane, running
from tests.support.kubernetes_node import BINARIES as NODE_BINARIES
from tests.support.kubernetes_node import TOOLS as NODE_TOOLS
from tests.support.kubernetes_node import (
    Node,
    NodeUnavailableError,
    check_machine,
    missing_cni_plugins,
    running_node,
)
from tests.support.tools import missing, require_tool
from tests.support.waiting import wait_until
from toolchain import images, releases
from toolchain.cache import BuildError
from toolchain.dockerd import EngineError, engine
from toolchain.engine_run import SECRET_VALUES, Cli, copy_project

SOURCE: Final = "cluster"
STACK: Final = "kubernetes-node"
NAMESPACE: Final = f"gatewayz-{STACK}"
REPLICAS: Final = 2
# Gossip joins after the pods turn Ready: Alertmanager's readiness does not wait for its peers.
GOSSIP_SECONDS: Final = 120.0
ALERTMANAGER_RELEASE: Final = next(release for release in releases.RELEASES
                                   if release.service == Service.ALERTMANAGER)


def _exported(directory: Path) -> tuple[str, list[Path]]:
    """The sandbox image and the local Alertmanager image, saved from the Docker engine (built
    or found cached as `make images` does): the sandbox's tag and the archives."""
    directory.mkdir()
    try:
        releases.ensure(report=False)
        with engine() as docker_engine:
            client = docker_engine.client
            images.build_images(client)
            sandbox = images.sandbox_image(client)
            archives = []
            for tag in (sandbox, images.image_tag(ALERTMANAGER_RELEASE)):
                archive = directory / f"{tag.replace('/', '_').replace(':', '_')}.tar"
                with archive.open("wb") as out:
                    for chunk in client.images.get(tag).save(named=True):
                        out.write(chunk)
                archives.append(archive)
    except (BuildError, EngineError, images.ImageError, DockerException) as error:
        pytest.fail(f"the local images could not be built or saved: {error}")
    return sandbox, archives


def _no_node(error: NodeUnavailableError) -> NoReturn:
    # What the machine cannot do, not a tool left unbuilt: skipped even under CI=true.
    pytest.skip(f"no Kubernetes node on this machine: {error}")


@pytest.fixture(scope="module")
def node_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, Node]]:
    binaries = {name: require_tool(name) for name in (*BINARIES, *NODE_BINARIES)}
    for tool in NODE_TOOLS:
        require_tool(tool)
    if missing_cni_plugins():
        missing(f"no CNI plugins {missing_cni_plugins()} (Debian: containernetworking-plugins)")
    try:
        check_machine()
    except NodeUnavailableError as error:
        _no_node(error)
    directory = tmp_path_factory.mktemp("kubernetes-node")
    sandbox, archives = _exported(directory / "images")
    with running(directory / "plane", binaries) as plane:
        try:
            with running_node(directory / "node", plane, binaries, sandbox, archives) as node:
                yield plane, node
        except NodeUnavailableError as error:
            _no_node(error)


@pytest.fixture
def cli(node_plane: tuple[ControlPlane, Node], tmp_path: Path) -> Iterator[Cli]:
    plane, _ = node_plane
    project = copy_project(tmp_path, SOURCE, as_stack=STACK)
    with stack_on(plane, tmp_path, project, STACK, source=SOURCE) as run:
        run.config_set("alertmanagerReplicas", str(REPLICAS))
        run.config_set("alertmanagerImage", images.image_tag(ALERTMANAGER_RELEASE))
        run.config_set("kubernetesNamespace", NAMESPACE)
        for key, value in SECRET_VALUES.items():
            run.config_set(key, value, secret=True)
        yield run


def _volumes(plane: ControlPlane, directory: Path) -> None:
    """A hostPath volume per replica for its claim: the control plane has no provisioner, and a
    claim of no class (no default StorageClass here) binds a volume of no class."""
    with plane.client() as api:
        for ordinal in range(REPLICAS):
            path = directory / f"volume-{ordinal}"
            path.mkdir()
            # hostPath volumes take no fsGroup: Alertmanager runs as nobody.
            path.chmod(0o777)
            api.post("/api/v1/persistentvolumes", json={
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": f"{STACK}-{ordinal}"},
                "spec": {"capacity": {"storage": "100Gi"}, "accessModes": ["ReadWriteOnce"],
                         "persistentVolumeReclaimPolicy": "Retain",
                         "hostPath": {"path": str(path), "type": "Directory"}}}
            ).raise_for_status()


def _members(plane: ControlPlane, pod: str) -> str:
    """`alertmanager_cluster_members` on `pod`'s /metrics, through the API server's pod proxy."""
    port = SERVICES[Service.ALERTMANAGER].listens[Listener.HTTP]
    with plane.client() as api:
        response = api.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}:{port}/proxy/metrics")
    if response.status_code != 200:
        return f"{response.status_code} {response.text[:200]}"
    return next((line.split()[-1] for line in response.text.splitlines()
                 if line.startswith("alertmanager_cluster_members ")), "no members metric")


def test_alertmanager_pods_turn_ready_and_form_one_cluster(
        cli: Cli, node_plane: tuple[ControlPlane, Node], tmp_path: Path) -> None:
    plane, node = node_plane
    _volumes(plane, tmp_path)
    up = cli.run("up", "--yes", "--skip-preview", check=False)
    assert up.returncode == 0, f"{up.stdout[-4000:]}\n{node.logs()}"
    pods = [f"alertmanager-{ordinal}" for ordinal in range(REPLICAS)]
    with plane.client() as api:
        for pod in pods:
            status = api.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}").raise_for_status()
            conditions = {c["type"]: c["status"] for c in status.json()["status"]["conditions"]}
            assert conditions["Ready"] == "True", conditions
    for pod in pods:
        wait_until(f"{pod} to count {REPLICAS} cluster members", GOSSIP_SECONDS,
                   functools.partial(_members, plane, pod), lambda seen: seen == str(REPLICAS),
                   step=2.0, detail=node.logs)

"""The cluster stack running: on a control plane of its own with one node
(tests/support/kubernetes_node.py: kube-scheduler, a kubelet on containerd, CoreDNS), the local
images imported from `make images`, `pulumi up` waits, as a cluster's would, for the pods of
Prometheus, Alertmanager and redis_exporter to turn Ready (their objects are not marked
skipAwait), and Alertmanager's replicas find each other by the headless Service's names: each
reports every replica a member of its gossip cluster. Loki, Tempo and Grafana run labelled
stand-ins here (AGPL, never built) with no object storage behind them: their objects are
created and admitted, their awaits skipped as on the control plane alone.

Where the machine cannot run a node (NodeUnavailableError says exactly why), or without the
binaries or Debian's packages (.ci/run), it skips on a workstation and fails under CI=true, as
the others do."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Final, NoReturn

import pytest
from docker.errors import DockerException

from services import NAME_LABEL, SERVICES, Listener, LokiTarget, Service
from settings.keys import camel
from tests.support.cluster import cluster_project, stack_on
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
from toolchain.engine_run import SECRET_VALUES, Cli

SOURCE: Final = "cluster"
STACK: Final = "kubernetes-node"
NAMESPACE: Final = f"gatewayz-{STACK}"
REPLICAS: Final = 2
# What runs for real on the node: the services whose releases are built here.
RUNNING: Final = (Service.PROMETHEUS, Service.ALERTMANAGER, Service.REDIS_EXPORTER)
# The least each service may ask (the keys' lower bounds), so every pod fits one small node.
SMALL: Final = {"MemoryMb": "128", "CpuMillis": "100"}
# Gossip joins after the pods turn Ready: Alertmanager's readiness does not wait for its peers.
GOSSIP_SECONDS: Final = 120.0
# One volume per claim: a replica each of Prometheus and Alertmanager, Loki's write and
# backend pod, Tempo's and Grafana's.
CLAIMS: Final = 2 * REPLICAS + 4


def _exported(directory: Path) -> tuple[str, list[Path]]:
    """The sandbox image and every service's local image (a build, or a stand-in), saved from
    the Docker engine (built or found cached as `make images` does): the sandbox's tag and the
    archives. Every image is there before a pod asks for it, so the node never pulls."""
    directory.mkdir()
    try:
        releases.ensure(report=False)
        with engine() as docker_engine:
            client = docker_engine.client
            images.build_images(client)
            sandbox = images.sandbox_image(client)
            archives = []
            for tag in (sandbox, *images.local_images().values()):
                archive = directory / f"{tag.replace('/', '_').replace(':', '_')}.tar"
                with archive.open("wb") as out:
                    for chunk in client.images.get(tag).save(named=True):
                        out.write(chunk)
                archives.append(archive)
    except (BuildError, EngineError, images.ImageError, DockerException) as error:
        pytest.fail(f"the local images could not be built or saved: {error}")
    return sandbox, archives


def _no_node(error: NodeUnavailableError) -> NoReturn:
    # A daemon the test needs: a skip on a workstation that cannot run one, a failure under
    # CI=true (CI's machine runs one; docs/toolchain.md says what it needs).
    missing(f"no Kubernetes node on this machine: {error}")


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
    project = cluster_project(tmp_path, SOURCE, as_stack=STACK, running=RUNNING)
    with stack_on(plane, tmp_path, project, STACK, source=SOURCE) as run:
        for key in ("alertmanagerReplicas", "prometheusReplicas"):
            run.config_set(key, str(REPLICAS))
        for target in LokiTarget:
            run.config_set(f"loki{target.value.title()}Replicas", "1")
        for service, image in images.local_images().items():
            run.config_set(f"{camel(service)}Image", image)
            for key, value in SMALL.items():
                run.config_set(f"{camel(service)}{key}", value)
        run.config_set("kubernetesNamespace", NAMESPACE)
        for key, value in SECRET_VALUES.items():
            run.config_set(key, value, secret=True)
        yield run


def _volumes(plane: ControlPlane, directory: Path) -> None:
    """A hostPath volume per claim: the control plane has no provisioner, and a claim of no
    class (no default StorageClass here) binds a volume of no class."""
    with plane.client() as api:
        for ordinal in range(CLAIMS):
            path = directory / f"volume-{ordinal}"
            path.mkdir()
            # hostPath volumes take no fsGroup: each service runs as its image's own user.
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


def test_the_built_services_pods_turn_ready_and_alertmanager_forms_one_cluster(
        cli: Cli, node_plane: tuple[ControlPlane, Node], tmp_path: Path) -> None:
    plane, node = node_plane
    _volumes(plane, tmp_path)
    up = cli.run("up", "--yes", "--skip-preview", check=False)
    assert up.returncode == 0, f"{up.stdout[-4000:]}\n{node.logs()}"
    pods = [f"alertmanager-{ordinal}" for ordinal in range(REPLICAS)]
    with plane.client() as api:
        listed = api.get(f"/api/v1/namespaces/{NAMESPACE}/pods").raise_for_status().json()
        ready: dict[str, list[tuple[str, str | None]]] = {}
        for pod in listed["items"]:
            conditions = {c["type"]: c["status"]
                          for c in pod["status"].get("conditions", [])}
            ready.setdefault(pod["metadata"]["labels"].get(NAME_LABEL), []).append(
                (pod["metadata"]["name"], conditions.get("Ready")))
    # `up` returned only once these were Ready; each still is.
    for service, count in ((Service.PROMETHEUS, REPLICAS), (Service.ALERTMANAGER, REPLICAS),
                           (Service.REDIS_EXPORTER, 1)):
        assert [state for _, state in ready.get(str(service), [])] == ["True"] * count, ready
    for pod in pods:
        wait_until(f"{pod} to count {REPLICAS} cluster members", GOSSIP_SECONDS,
                   functools.partial(_members, plane, pod), lambda seen: seen == str(REPLICAS),
                   step=2.0, detail=node.logs)

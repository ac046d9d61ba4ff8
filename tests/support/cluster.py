"""A stack of the project on the tests' control plane (tests/support/kubernetes.py) through the
real CLI, as tests/kubernetes/ and the engine tier on the cluster stack (tests/engine/kubernetes/)
run it: the control plane fixture, `stack_on` for the stack's life, and `cluster_project`, a copy
of the project whose program marks what no API server alone can await.

No kubelet, scheduler, volume provisioner or ingress controller runs here, so no pod runs, no
claim binds and no Ingress gets an address: the provider's await of each kind in
`AWAITS_NEEDING_NODES` would wait out its 10 minutes (pulumi-kubernetes v4.25.0,
provider/pkg/await/awaiters.go: Deployment, StatefulSet, DaemonSet and ReplicationController
until their replicas are ready or available, Job until it succeeds, Pod until it is Ready,
Service until its endpoints have ready pods, PersistentVolumeClaim until it is Bound, Ingress
until its controller reports a load balancer). The copy's program, not the layer, marks those
kinds with the provider's `pulumi.com/skipAwait: "true"` annotation (provider/pkg/metadata/
overrides.go, SkipAwaitLogic; pulumi/pulumi-kubernetes#417, the workaround of #1974) through a
stack transform, so the program a cluster runs still waits for Ready pods; every other kind
(ConfigMap, Secret, NetworkPolicy, PodDisruptionBudget, Namespace, ...) is awaited as usual.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest

from services import NAME_LABEL, Service
from tests.support.kubernetes import BINARIES, ControlPlane, running
from tests.support.tools import require_engine, require_tool
from toolchain.engine_run import Cli, copy_project, engine_env

SKIP_AWAIT: Final = "pulumi.com/skipAwait"
AWAITS_NEEDING_NODES: Final = (
    "kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job",
    "kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Pod",
    "kubernetes:core/v1:ReplicationController", "kubernetes:core/v1:Service",
    "kubernetes:networking.k8s.io/v1:Ingress")
# Put before the program's own first line, so the transform sees every resource it registers.
_SKIP_AWAIT_PROGRAM: Final = '''"""The program; what awaits nodes marked skipAwait."""

import pulumi

AWAITED = {awaited!r}
# The services whose pods run here (a kubelet node); their objects are awaited as on a cluster.
RUNNING = {running!r}


def skip_await(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_ not in AWAITED:
        return None
    props = dict(args.props)
    metadata = dict(props.get("metadata") or {{}})
    if (metadata.get("labels") or {{}}).get("{label}") in RUNNING:
        return None
    metadata["annotations"] = {{**(metadata.get("annotations") or {{}}), "{skip}": "true"}}
    props["metadata"] = metadata
    return pulumi.ResourceTransformResult(props, args.opts)


pulumi.runtime.register_resource_transform(skip_await)

'''


def skip_await_program(running: Iterable[Service] = ()) -> str:
    """The transform, awaiting the objects of the `running` services (their pods run on a node)
    and marking every other `AWAITS_NEEDING_NODES` object skipAwait."""
    return _SKIP_AWAIT_PROGRAM.format(awaited=AWAITS_NEEDING_NODES,
                                      running=tuple(sorted(str(s) for s in running)),
                                      label=NAME_LABEL, skip=SKIP_AWAIT)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One control plane per session; without its binaries a skip on a workstation, a failure
    under CI=true."""
    binaries = {name: require_tool(name) for name in BINARIES}
    with running(tmp_path_factory.mktemp("kubernetes"), binaries) as plane:
        yield plane


def cluster_project(root: Path, source: str, *, as_stack: str,
                    running: Iterable[Service] = ()) -> Path:
    """The project copied under `root` (toolchain.engine_run.copy_project), the stack file of
    `source` as that of `as_stack`, its program marking `AWAITS_NEEDING_NODES` skipAwait but
    for the `running` services' objects."""
    project = copy_project(root, source, as_stack=as_stack)
    main = project / "__main__.py"
    main.write_text(skip_await_program(running) + main.read_text())
    return project


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

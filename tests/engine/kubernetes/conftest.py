"""The engine tier on a stack of `platform: kubernetes` (`make engine STACK=cluster`): the real
Pulumi CLI, language host and kubernetes provider of `make tools` against the tests' control plane
(tests/support/kubernetes.py), no Docker.

The stack is `engine-<stack>`, a copy of the repository's stack file, on a copy of the project
whose program marks the awaits that need nodes skipAwait (tests/support/cluster.py); every secret
is a sentinel (toolchain.engine_run.SECRET_VALUES) and nothing else is changed: no pod runs on
the control plane, so nothing the stack names outside (the backend, Redis, the receivers, the
object storage) is reached, and the control plane is the run's own, so no name collides.
Teardown, whatever a step did: unprotect, destroy, `stack rm`; the control plane goes at the
end of the session with everything on it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import cluster_project, control_plane, stack_on
from tests.support.kubernetes import ControlPlane
from toolchain.engine_run import SECRET_VALUES, Cli

__all__ = ["cli", "control_plane"]


@pytest.fixture(scope="module")
def cli(stack_name: str, engine_stack: str, control_plane: ControlPlane,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = tmp_path_factory.mktemp(engine_stack)
    project = cluster_project(root, stack_name, as_stack=engine_stack)
    with stack_on(control_plane, root, project, engine_stack, source=stack_name) as run:
        for key, value in SECRET_VALUES.items():
            run.config_set(key, value, secret=True)
        yield run

"""How the smoke test reports a container that does not come up: by name, with its health log
and its last log lines, as an on-call engineer needs them."""

from __future__ import annotations

import dataclasses

import pytest
from docker.models.networks import Network

from services import Service
from tests.smoke.containers import UnhealthyError, create, remove, wait_healthy
from tests.smoke.localize import NAME_PREFIX, ContainerPlan
from toolchain.dockerd import Engine


def test_a_container_that_never_turns_healthy_is_reported_with_its_logs(
        docker_engine: Engine, network: Network, plans: dict[Service, ContainerPlan]) -> None:
    # Alertmanager itself starts fine; its healthcheck asks a port nobody listens on.
    plan = dataclasses.replace(
        plans[Service.ALERTMANAGER], name=f"{NAME_PREFIX}never-healthy", ports={}, volumes={},
        healthcheck={"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:1/"],
                     "interval": 500_000_000, "timeout": 1_000_000_000, "retries": 1,
                     "start_period": 0})
    container = create(docker_engine.client, plan)
    try:
        with pytest.raises(UnhealthyError) as unhealthy:
            wait_healthy(container, 30)
    finally:
        remove(container, plan)
    report = str(unhealthy.value)
    assert plan.name in report
    assert "unhealthy" in report
    assert "Connection refused" in report or "can't connect" in report  # the health log
    assert "Starting Alertmanager" in report  # its own last log lines

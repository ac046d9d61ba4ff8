"""The stand-in images of Loki, Tempo and Grafana (toolchain/images.py) run as the program
registers those containers: the rendered command, env, uploads, healthcheck, volumes and
published ports. What a later tier's real `pulumi up` relies on: each turns healthy under the
program's own healthcheck, runs as services.py's user, writes its data volume and answers on
every port the stack wires; and each says it is a stand-in.

Its own network, allocated by the engine: the stack smoke's network sits on a fixed subnet, and
an engine beside this one may hold it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

import docker
import httpx
import pytest
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container

from review.render import Rendered
from services import SERVICES, Service
from tests.smoke.containers import Health, create, hardening_problems, logs_tail, wait_healthy
from tests.smoke.localize import NAME_PREFIX, NOT_RUN, ContainerPlan, standin_plans
from tests.support.waiting import wait_until
from toolchain import images
from toolchain.dockerd import Engine

NETWORK: Final = f"{NAME_PREFIX}standins"
ANSWER_SECONDS: Final = 10.0


@dataclass(frozen=True)
class Standins:
    plans: Mapping[Service, ContainerPlan]
    containers: Mapping[Service, Container]
    health: Mapping[Service, Health]
    # Each container's address on NETWORK, which this host reaches through the engine's bridge.
    addresses: Mapping[Service, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _remove(client: docker.DockerClient, plans: Mapping[Service, ContainerPlan]) -> None:
    """This module's containers, volumes and network, also those of a run killed before its
    teardown."""
    for name in [*(plan.name for plan in plans.values()),
                 *(plan.files_name for plan in plans.values() if plan.files_name)]:
        with contextlib.suppress(NotFound):
            client.containers.get(name).remove(force=True, v=True)
    for plan in plans.values():
        for volume in plan.volumes:
            with contextlib.suppress(NotFound):
                client.volumes.get(volume).remove(force=True)
    for network in client.networks.list(names=[NETWORK]):
        if network.name == NETWORK:
            network.remove()


@pytest.fixture(scope="module")
def standin_images(docker_engine: Engine) -> Mapping[Service, str]:
    try:
        images.build_standins(docker_engine.client)
    except (images.ImageError, DockerException) as error:
        pytest.fail(f"the stand-in images could not be built: {error}")
    return images.standin_images()


@pytest.fixture(scope="module")
def standins(docker_engine: Engine, rendered: Rendered,
             standin_images: Mapping[Service, str]) -> Iterator[Standins]:
    client = docker_engine.client
    published = {(Service(name), int(port["internal"])): _free_port()
                 for name, spec in rendered.containers.items() if Service(name) in NOT_RUN
                 for port in spec.get("ports", [])}
    plans = {service: dataclasses.replace(plan, network=NETWORK)
             for service, plan in standin_plans(rendered, standin_images, published).items()}
    assert set(plans) == set(NOT_RUN), "the stack renders Loki, Tempo and Grafana"
    _remove(client, plans)
    client.networks.create(NETWORK, driver="bridge")
    containers: dict[Service, Container] = {}
    try:
        try:
            for service, plan in plans.items():
                containers[service] = create(client, plan)
        except (APIError, NotFound) as error:
            pytest.fail(f"creating the stand-in containers failed: {error}")
        health = {service: wait_healthy(container, plans[service].wait_timeout_seconds)
                  for service, container in containers.items()}
        for container in containers.values():
            container.reload()
        addresses = {service: container.attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
                     for service, container in containers.items()}
        yield Standins(plans, containers, health, addresses)
    finally:
        _remove(client, plans)


def test_each_standin_turns_healthy_under_the_rendered_healthcheck(
        standins: Standins, rendered: Rendered) -> None:
    for service, container in standins.containers.items():
        assert standins.health[service].status == "healthy"
        rendered_test = rendered.containers[service.value]["healthcheck"]["tests"]
        assert container.attrs["Config"]["Healthcheck"]["Test"] == rendered_test
        # The program's own check: Loki's and Tempo's binary, Grafana's wget.
        assert rendered_test == list(SERVICES[service].healthcheck)


def test_each_image_says_it_is_a_stand_in(standins: Standins) -> None:
    for service, container in standins.containers.items():
        assert container.image is not None
        labels = container.image.labels
        assert labels[images.STANDIN_LABEL] == "true", service
        assert "STAND-IN" in labels[images.DESCRIPTION_LABEL]
        assert f"not {service.value}" in labels[images.DESCRIPTION_LABEL]


def test_each_runs_the_rendered_command_and_env(standins: Standins, rendered: Rendered) -> None:
    for service, container in standins.containers.items():
        spec = rendered.containers[service.value]
        assert container.attrs["Args"] == spec.get("command", [])
        env = set(container.attrs["Config"]["Env"])
        assert {f"{key}={value}" for key, value in spec.get("env", {}).items()} <= env
        assert "listening on" in logs_tail(container)


def test_each_runs_as_the_service_user(standins: Standins) -> None:
    for service, container in standins.containers.items():
        uid = SERVICES[service].user_id
        assert container.image is not None
        assert container.image.attrs["Config"]["User"].partition(":")[0] == str(uid)
        result = container.exec_run(["id", "-u"])
        assert isinstance(result.output, bytes)  # not a stream: exec_run without stream=True
        assert (result.exit_code, result.output.decode().strip()) == (0, str(uid)), service


def test_each_runs_hardened_as_planned(standins: Standins) -> None:
    problems = {service: found for service, container in standins.containers.items()
                if (found := hardening_problems(container, standins.plans[service]))}
    assert problems == {}


def test_each_writes_its_data_volume(standins: Standins) -> None:
    for service, container in standins.containers.items():
        data_dir = SERVICES[service].data_dir
        (volume,) = standins.plans[service].volumes
        mounts = {(m["Name"], m["Destination"]) for m in container.attrs["Mounts"]
                  if m["Type"] == "volume"}
        assert (volume, data_dir) in mounts
        result = container.exec_run(["touch", f"{data_dir}/written-by-the-smoke-test"])
        assert result.exit_code == 0, (service, result.output)


def _get(url: str) -> httpx.Response:
    return wait_until(f"{url} to answer", ANSWER_SECONDS, lambda: httpx.get(url, timeout=2))


def test_every_listener_port_answers(standins: Standins) -> None:
    for service, address in standins.addresses.items():
        for listener, port in SERVICES[service].listens.items():
            metrics = _get(f"http://{address}:{port}/metrics")
            assert metrics.status_code == 200, (service, listener)
            assert metrics.headers["content-type"].startswith("text/plain")
            assert f'{images.STANDIN_METRIC}{{service="{service.value}"}} 1' in metrics.text


def test_the_health_path_answers_on_each_published_port(standins: Standins) -> None:
    for service, plan in standins.plans.items():
        path = images.STANDINS[service].health_path
        assert plan.ports, f"{service} publishes no port"
        for host_ip, host_port in plan.ports.values():
            answer = _get(f"http://{host_ip}:{host_port}{path}")
            assert answer.status_code == 200, (service, host_port)
            if service is Service.GRAFANA:
                assert answer.json()["database"] == "ok"

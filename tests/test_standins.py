"""The stand-in images' recipes, without Docker: named after the stack's pinned images, built
with what the program's containers of Loki, Tempo and Grafana rely on (entrypoint, user, every
listener port, data dir, health command), and hashed like every local image. The smoke test
(tests/smoke/test_standins.py) runs them."""

from __future__ import annotations

import re

import pytest

from services import SERVICES, Service
from settings import DEFAULT_IMAGES
from toolchain import images

STANDIN_SERVICES = (Service.LOKI, Service.TEMPO, Service.GRAFANA)


def _instructions(dockerfile: str, keyword: str) -> list[str]:
    return [line.partition(" ")[2] for line in dockerfile.splitlines()
            if line.startswith(f"{keyword} ")]


def test_standin_images_are_the_services_without_an_image_here() -> None:
    assert images.standin_images() == {
        service: f"gatewayz-local/{service.value}-standin:"
                 f"{DEFAULT_IMAGES[service].rpartition(':')[2]}"
        for service in STANDIN_SERVICES}


@pytest.mark.parametrize("service", STANDIN_SERVICES)
def test_a_standin_recipe_has_the_real_images_user_ports_data_dir_and_labels(
        service: Service) -> None:
    facts = SERVICES[service]
    standin = images.STANDINS[service]
    dockerfile = images._standin_dockerfile(standin)
    (user,) = _instructions(dockerfile, "USER")
    assert user.partition(":")[0] == str(facts.user_id)
    (exposed,) = _instructions(dockerfile, "EXPOSE")
    assert sorted(int(port) for port in exposed.split()) == sorted(facts.listens.values())
    assert _instructions(dockerfile, "VOLUME") == [f'[ "{facts.data_dir}" ]']
    assert f"chown -R {user} {facts.data_dir}" in dockerfile
    (label,) = _instructions(dockerfile, "LABEL")
    assert f'{images.STANDIN_LABEL}="true"' in label
    assert "STAND-IN" in label
    assert f"not {service.value}" in label
    assert _instructions(dockerfile, "ENTRYPOINT") == [f'[ "{standin.entrypoint}" ]']


@pytest.mark.parametrize("service", STANDIN_SERVICES)
def test_the_health_command_the_program_runs_is_the_standins(service: Service) -> None:
    facts = SERVICES[service]
    standin = images.STANDINS[service]
    script = images._entrypoint_script(standin)
    if facts.health_command is not None:
        # Loki's and Tempo's `<binary> -health`: the stand-in sits at that binary's path.
        assert facts.health_command == (standin.entrypoint, "-health")
        assert f"http://127.0.0.1:{facts.http_port}/ready" in script
    else:
        assert facts.healthcheck[-1] == f"http://localhost:{facts.http_port}{standin.health_path}"
    # Every listener port is listened on.
    (ports,) = re.findall(r"^for port in (.*); do$", script, flags=re.MULTILINE)
    assert sorted(int(port) for port in ports.split()) == sorted(facts.listens.values())
    assert f"{standin.health_path})" in images._serve_script(standin)


def test_an_unchanged_recipe_hashes_alike_and_a_changed_one_does_not() -> None:
    standin = images.STANDINS[Service.LOKI]
    files = {"entrypoint": images._entrypoint_script(standin),
             "serve": images._serve_script(standin)}
    dockerfile = images._standin_dockerfile(standin)
    _, recipe = images._context(dockerfile, files)
    assert images._context(dockerfile, dict(files))[1] == recipe
    assert images._context(dockerfile, {**files, "serve": files["serve"] + "#\n"})[1] != recipe
    assert images._context(dockerfile + "#\n", files)[1] != recipe

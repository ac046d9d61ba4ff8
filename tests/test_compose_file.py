"""The compose project `make bench-engine` holds our figures against (review/compose_file.py):
the program's own containers, every one of them as it registers it, and nothing else.
Expectations come from the program's registrations, services.py and the stack's settings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.service import go_duration
from review import compose_file
from review.mock_runtime import (
    FAKE_SECRETS,
    SECRET_SIG,
    ProgramRun,
    run_program,
    stack_config,
    stack_settings,
)
from services import SERVICES, Service
from toolchain import compose as compose_build


def _project(program: ProgramRun) -> compose_file.ComposeProject:
    return compose_file.compose_project(program)


def _secret_uploads(program: ProgramRun, service: str) -> set[str]:
    """The paths of a container's uploads whose content reaches the engine as a secret."""
    uploads = program.containers()[service].inputs.get("uploads", [])
    return {upload["file"] for upload in uploads
            if isinstance(upload["content"], dict) and SECRET_SIG in upload["content"]}


def test_every_container_is_a_service_with_its_image_command_env_and_limits(
        program: ProgramRun, stack: str) -> None:
    settings = stack_settings(stack)
    services = _project(program).document["services"]
    assert sorted(services) == sorted(program.containers())
    for name, container in program.containers().items():
        inputs = container.plain_inputs()
        service = services[name]
        assert service["container_name"] == f"gatewayz-{settings.environment}-{name}"
        assert service["image"] == settings.images[Service(name)]
        assert service.get("command", []) == inputs.get("command", [])
        assert [f"{key}={value}" for key, value in service.get("environment", {}).items()] == (
            inputs.get("envs", []))
        memory = f"{settings.memory_mb[Service(name)]}m"
        assert (service["mem_limit"], service["memswap_limit"]) == (memory, memory)
        assert service["restart"] == "unless-stopped"
        assert service["networks"] == {"default": {"aliases": [SERVICES[Service(name)].alias]}}
        assert service["logging"] == {"driver": "json-file", "options": {
            "max-file": str(settings.log_max_file), "max-size": settings.log_max_size}}


def test_every_published_port_and_healthcheck_is_the_programs(program: ProgramRun,
                                                              stack: str) -> None:
    settings = stack_settings(stack)
    services = _project(program).document["services"]
    for name in program.containers():
        facts = SERVICES[Service(name)]
        expected = sorted(
            (port.container_port, str(binding.port), binding.host_ip)
            for port in facts.published if (binding := settings.bindings[port]) is not None)
        ports = services[name].get("ports", [])
        assert sorted((p["target"], p["published"], p["host_ip"]) for p in ports) == expected
        assert {p["protocol"] for p in ports} <= {"tcp"}
        health = services[name]["healthcheck"]
        assert health["test"] == list(facts.healthcheck)
        # Compose takes Go's duration form, which the program writes (go_duration).
        assert health["start_period"] == go_duration(facts.start_period)
        assert health["retries"] == 5


def test_every_upload_is_a_read_only_file_with_its_owner_and_mode(program: ProgramRun) -> None:
    project = _project(program)
    by_target = {(one.path.split("/")[1], one.target): one for one in project.files}
    mounted = 0
    for name, container in program.containers().items():
        secret = _secret_uploads(program, name)
        binds = [mount for mount in project.document["services"][name].get("volumes", [])
                 if mount["type"] == "bind"]
        assert sorted(mount["target"] for mount in binds) == sorted(container.files())
        assert all(mount["read_only"] for mount in binds)
        for path, content in container.files().items():
            host = by_target[(name, path)]
            assert host.content == content
            assert f"./{host.path}" in {mount["source"] for mount in binds}
            if path in secret:
                assert (host.mode, host.uid, host.gid) == (
                    0o400, SERVICES[Service(name)].user_id, 0), path
            else:
                assert (host.mode, host.uid, host.gid) == (0o444, 0, 0), path
            mounted += 1
    assert mounted == len(project.files)
    assert any(_secret_uploads(program, name) for name in program.containers())


def test_data_lives_on_the_programs_named_volumes(program: ProgramRun, stack: str) -> None:
    environment = stack_settings(stack).environment
    document = _project(program).document
    for name in program.containers():
        facts = SERVICES[Service(name)]
        volumes = [mount for mount in document["services"][name].get("volumes", [])
                   if mount["type"] == "volume"]
        if facts.data_dir is None:
            assert not volumes, name
            continue
        (volume,) = volumes
        assert volume["target"] == facts.data_dir
        assert document["volumes"][volume["source"]] == {
            "name": f"gatewayz-{environment}-{name}-data"}
    assert document["networks"]["default"]["name"] == f"gatewayz-{environment}"
    assert document["name"] == f"gatewayz-{environment}"


def test_secrets_stay_in_their_files_not_in_the_compose_file(program: ProgramRun) -> None:
    text = _project(program).text()
    leaked = [key for key, value in FAKE_SECRETS.items() if value in text]
    assert not leaked


def test_the_output_is_deterministic(stack: str, tmp_path: Path) -> None:
    config, secret_keys = stack_config(stack)
    first, second = (_project(run_program(stack, config, secret_keys)) for _ in range(2))
    assert first.text() == second.text()
    assert first.files == second.files
    trees = []
    for index, project in enumerate((first, second)):
        compose_file.write(project, tmp_path / str(index), chown=lambda *_: None)
        trees.append({path.relative_to(tmp_path / str(index)): path.read_bytes()
                      for path in sorted((tmp_path / str(index)).rglob("*")) if path.is_file()})
    assert trees[0] == trees[1]


def test_a_retention_change_changes_only_prometheus(stack: str) -> None:
    config, secret_keys = stack_config(stack)
    retention = str(stack_settings(stack).retention.metrics_time)
    changed_value = "21d" if retention != "21d" else "22d"
    changed_config, _ = stack_config(stack, overrides={"metricsRetentionTime": changed_value})
    before = _project(run_program(stack, config, secret_keys)).document["services"]
    after = _project(run_program(stack, changed_config, secret_keys)).document["services"]
    differ = sorted(name for name in before if before[name] != after[name])
    assert differ == [Service.PROMETHEUS.value]
    # Compose recreates a service whose definition changed: here, through the files' label.
    label = compose_file.FILES_LABEL
    assert before["prometheus"]["labels"][label] != after["prometheus"]["labels"][label]
    assert {key: value for key, value in before["prometheus"].items() if key != "labels"} == {
        key: value for key, value in after["prometheus"].items() if key != "labels"}


def test_write_gives_each_file_its_mode_and_owner(program: ProgramRun, tmp_path: Path) -> None:
    project = _project(program)
    owners: dict[Path, tuple[int, int]] = {}
    compose = compose_file.write(project, tmp_path,
                                 chown=lambda path, uid, gid: owners.update({path: (uid, gid)}))
    assert compose.read_text() == project.text()
    for one in project.files:
        path = tmp_path / one.path
        assert path.read_text() == one.content
        assert path.stat().st_mode & 0o777 == one.mode
        assert owners[path] == (one.uid, one.gid)
    # Written again (the change): each file replaced, even a read-only one.
    compose_file.write(project, tmp_path, chown=lambda *_: None)


def test_dollar_signs_reach_the_container_as_written() -> None:
    assert compose_file._literal("a$b$$c") == "a$$b$$$$c"


def _compose_config(binary: Path, directory: Path) -> dict[str, Any]:
    result = subprocess.run([str(binary), "--file", str(directory / compose_file.COMPOSE_FILE),
                             "config", "--format", "json"], cwd=directory, capture_output=True,
                            text=True, check=True, timeout=60)
    return dict(json.loads(result.stdout))


def test_compose_itself_reads_the_file_as_written(program: ProgramRun, tmp_path: Path) -> None:
    # Only where `make bench-engine` built compose: it is not a tool of `make test` or CI.
    binary = compose_build.binary_path()
    if binary is None:
        pytest.skip("docker compose is not built (make bench-engine builds it)")
    project = _project(program)
    compose_file.write(project, tmp_path, chown=lambda *_: None)
    loaded = _compose_config(binary, tmp_path)
    assert loaded["name"] == project.name
    for name, service in project.document["services"].items():
        read = loaded["services"][name]
        assert (read.get("command") or []) == [
            arg.replace("$$", "$") for arg in service.get("command", [])]
        assert read.get("environment", {}) == {
            key: value.replace("$$", "$") for key, value in service.get("environment", {}).items()}
        assert read["mem_limit"] == str(int(service["mem_limit"].removesuffix("m")) * 1024 ** 2)
        assert sorted(volume["target"] for volume in read["volumes"]) == sorted(
            volume["target"] for volume in service["volumes"])
        assert read["healthcheck"]["test"] == service["healthcheck"]["test"]

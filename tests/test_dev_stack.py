"""The local dev stack `make up` writes (ops/dev.py): its stack file is one the program takes,
and a backend or Redis on the machine itself is reachable from the containers that need it."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from ops.dev import DEFAULT_BACKEND_METRICS_URL, DEFAULT_REDIS_ADDRESS, ImageChoice, stack_file
from review import render
from review.mock_runtime import FAKE_SECRETS, ProgramRun, run_program
from services import DOCKER_HOST_ALIAS, HOST_GATEWAY, SERVICES, Service
from settings import stack_file as stack_files
from settings.keys import DEFAULT_IMAGES
from settings.stack_file import config_text, file_settings, stack_argument
from toolchain import images, releases

SALT = {"encryptionsalt": "v1:c2FsdA==:v1:bm9uY2U=:Y2lwaGVy"}


def _offline_images() -> dict[Service, ImageChoice]:
    """What `make up` chooses where no registry answers: local builds, and stand-ins."""
    built = {release.service: images.image_tag(release) for release in releases.RELEASES}
    return {service: ImageChoice(built.get(service) or images.standin_images()[service], "")
            for service in SERVICES}


def _dev_run(backend: str, redis: str) -> ProgramRun:
    document = yaml.safe_load(stack_file(SALT, backend, redis, _offline_images()))
    assert document["encryptionsalt"] == SALT["encryptionsalt"], "the CLI's salt was dropped"
    config = {key: config_text(value) for key, value in document["config"].items()}
    secret = {"grafanaAdminPassword": FAKE_SECRETS["grafanaAdminPassword"]}
    config |= {f"gatewayz-observability:{key}": value for key, value in secret.items()}
    return run_program("dev", config, [f"gatewayz-observability:{key}" for key in secret])


def _extra_hosts(run: ProgramRun) -> Mapping[str, list[str]]:
    return {service: [f"{host['host']}:{host['ip']}"
                      for host in container.plain_inputs().get("hosts", [])]
            for service, container in run.containers().items()}


def test_the_dev_stack_file_is_a_stack_the_program_takes() -> None:
    document = yaml.safe_load(stack_file(SALT, DEFAULT_BACKEND_METRICS_URL,
                                         DEFAULT_REDIS_ADDRESS, _offline_images()))
    settings = file_settings("dev", document["config"], frozenset({"grafanaAdminPassword"}))
    assert settings.environment == "dev"
    assert settings.redis is not None
    # Every image is the one chosen; the upstream defaults are not written out again.
    assert dict(settings.images) == {s: c.image for s, c in _offline_images().items()}
    upstream = {service: ImageChoice(image, "") for service, image in DEFAULT_IMAGES.items()}
    written = yaml.safe_load(stack_file({}, DEFAULT_BACKEND_METRICS_URL, "", upstream))
    assert not [key for key in written["config"] if key.endswith("Image")], written


def test_a_backend_and_redis_on_the_machine_are_reached_through_the_host_gateway() -> None:
    hosts = _extra_hosts(_dev_run(DEFAULT_BACKEND_METRICS_URL, DEFAULT_REDIS_ADDRESS))
    mapped = f"{DOCKER_HOST_ALIAS}:{HOST_GATEWAY}"
    assert {service for service, entries in hosts.items() if mapped in entries} == {
        Service.PROMETHEUS.value, Service.REDIS_EXPORTER.value}, hosts


def test_no_container_gets_the_host_gateway_when_nothing_runs_on_the_machine(
        program: ProgramRun) -> None:
    assert not [service for service, entries in _extra_hosts(program).items() if entries]
    elsewhere = _extra_hosts(_dev_run("https://api.example.invalid/metrics", ""))
    assert not [service for service, entries in elsewhere.items() if entries], elsewhere


def test_the_review_tools_take_any_stack_with_a_stack_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stack of the user's own: a copy of staging's file under another name.
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml"):
        (tmp_path / name).write_text((stack_files.ROOT / name).read_text())
    (tmp_path / "Pulumi.staging.yaml").rename(tmp_path / "Pulumi.qa.yaml")
    monkeypatch.setattr(stack_files, "ROOT", tmp_path)
    with pytest.raises(argparse.ArgumentTypeError, match="the stacks here are qa"):
        stack_argument("staging")
    assert render.main(["--stack", "qa", "--out", str(tmp_path / "out")]) == 0
    rendered = (tmp_path / "out" / "files" / "prometheus" / "etc" / "prometheus"
                / "prometheus.yml").read_text()
    assert "env: qa" in rendered, "the qa stack's Prometheus config was not rendered"

"""`make tools`' Pulumi engine: what the machine has is used and nothing built; the vendored
sources are checked before use and a bad one is named with what to do; a changed patch is a new
build; a warm cache builds nothing. The built binaries themselves: tests/test_engine_schema.py.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from tests.support.tools import require_engine
from toolchain import pulumi_engine
from toolchain.cache import BuildError
from toolchain.pulumi_engine import (
    CLI,
    CLI_VERSION,
    DOCKER,
    DOCKER_TOOL,
    EXECUTABLES,
    KUBERNETES,
    LANGUAGE_EXEC,
    LANGUAGE_HOST,
    LANGUAGE_HOST_SOURCE,
    PULUMI_DOCKER_SOURCE,
    VENDOR_SETTING,
)

NOWHERE = Path("/nonexistent/vendor")


def _script(path: Path, output: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {output}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty cache and Pulumi home, and a PATH with nothing but the shell's basics."""
    monkeypatch.setenv("GATEWAYZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    monkeypatch.setenv("PATH", f"{tmp_path / 'path'}{os.pathsep}/usr/bin:/bin")
    return tmp_path


def _installed_cli(machine: Path, version: str = CLI_VERSION) -> Path:
    """A Pulumi release's bin/ on PATH: the CLI with its language host beside it."""
    cli = _script(machine / "path" / CLI, version)
    _script(machine / "path" / LANGUAGE_HOST)
    _script(machine / "path" / LANGUAGE_EXEC)
    return cli


def _installed(machine: Path, plugin: str) -> Path:
    kind = plugin.removeprefix("pulumi-resource-")
    return _script(machine / "pulumi-home" / "plugins" /
                   f"resource-{kind}-v{pulumi_engine.sdk_version(plugin)}" / plugin)


def _installed_docker(machine: Path) -> Path:
    return _installed(machine, DOCKER)


def test_what_the_machine_has_is_used_and_nothing_built(
        machine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli = _installed_cli(machine)
    plugin = _installed_docker(machine)
    kubernetes = _installed(machine, KUBERNETES)
    # No vendor directory: nothing may need it.
    directory = pulumi_engine.ensure(vendor=NOWHERE)
    assert directory == pulumi_engine.bin_dir()
    assert {name: (directory / name).resolve() for name in EXECUTABLES} == {
        CLI: cli, LANGUAGE_HOST: cli.parent / LANGUAGE_HOST,
        LANGUAGE_EXEC: cli.parent / LANGUAGE_EXEC, DOCKER: plugin, KUBERNETES: kubernetes}
    out = capsys.readouterr().out
    assert "building" not in out
    # One line per piece: the CLI, the language host with its exec script, the docker and
    # kubernetes plugins.
    found = [line for line in out.splitlines() if "already there: " in line]
    assert len(found) == 4, out
    assert all(line.endswith("(not built)") for line in found)
    assert out.splitlines()[-2].startswith("Pulumi engine: nothing built, 4 already there")
    # Said, not tried: the providers that cannot be built here.
    assert "not built: pulumi-resource-grafana: " in out
    assert "not built: pulumi-resource-random: " in out
    assert pulumi_engine.manifest()[DOCKER]["origin"] == "found installed"
    assert pulumi_engine.manifest()[KUBERNETES]["version"] == pulumi_engine.KUBERNETES_VERSION


def test_a_cli_at_another_version_is_not_used(machine: Path) -> None:
    _installed_cli(machine, "v3.100.0")
    assert pulumi_engine.found_cli() is None


def test_our_own_bin_dir_on_path_is_not_a_cli_the_machine_has(
        machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours = _script(pulumi_engine.engine_root() / "bin" / CLI, CLI_VERSION)
    monkeypatch.setenv("PATH", f"{ours.parent}{os.pathsep}/usr/bin:/bin")
    assert pulumi_engine.found_cli() is None


def test_a_docker_plugin_is_used_only_at_the_sdks_version_and_once_installed(
        machine: Path) -> None:
    other = machine / "pulumi-home" / "plugins" / "resource-docker-v5.1.0" / DOCKER
    _script(other)
    assert pulumi_engine.found_plugin(DOCKER) is None
    plugin = _installed_docker(machine)
    partial = plugin.parent.with_name(plugin.parent.name + ".partial")
    partial.touch()
    assert pulumi_engine.found_plugin(DOCKER) is None
    partial.unlink()
    assert pulumi_engine.found_plugin(DOCKER) == plugin


def test_the_kubernetes_plugin_is_the_release_the_python_sdk_is(machine: Path) -> None:
    # The CLI asks for the plugin at the SDK's version; the one built is that release.
    assert pulumi_engine.sdk_version(KUBERNETES) == pulumi_engine.KUBERNETES_VERSION
    assert pulumi_engine.found_plugin(KUBERNETES) is None
    plugin = _installed(machine, KUBERNETES)
    assert pulumi_engine.found_plugin(KUBERNETES) == plugin


def test_before_make_tools_the_engine_is_not_there(machine: Path) -> None:
    with pytest.raises(BuildError, match="run `make tools`"):
        pulumi_engine.bin_dir()


def test_a_missing_archive_names_itself_the_setting_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as missing:
        pulumi_engine.verified(PULUMI_DOCKER_SOURCE, tmp_path)
    message = str(missing.value)
    assert PULUMI_DOCKER_SOURCE.name in message
    assert VENDOR_SETTING in message
    assert "git archive` of github.com/pulumi/pulumi-docker v5.1.0" in message


def test_an_archive_with_another_sha256_is_refused(tmp_path: Path) -> None:
    (tmp_path / PULUMI_DOCKER_SOURCE.name).write_bytes(b"not the release")
    with pytest.raises(BuildError) as wrong:
        pulumi_engine.verified(PULUMI_DOCKER_SOURCE, tmp_path)
    message = str(wrong.value)
    assert hashlib.sha256(b"not the release").hexdigest() in message
    assert PULUMI_DOCKER_SOURCE.sha256 in message
    assert VENDOR_SETTING in message


def test_a_missing_archive_stops_a_cold_build(
        machine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The CLI and the plugins are there; the language host is not, and needs its archive.
    _script(machine / "path" / CLI, CLI_VERSION)
    _installed_docker(machine)
    _installed(machine, KUBERNETES)
    with pytest.raises(BuildError, match=re.escape(f"{LANGUAGE_HOST_SOURCE.name} is missing")):
        pulumi_engine.ensure(vendor=machine / "empty")
    assert "building pulumi-language-python" in capsys.readouterr().out
    with pytest.raises(BuildError):
        pulumi_engine.bin_dir()


def test_the_vendor_directory_defaults_to_the_shared_one_beside_the_repository(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(VENDOR_SETTING, raising=False)
    assert pulumi_engine.vendor_dir() == pulumi_engine.ROOT / ".." / "shared" / "vendor"
    monkeypatch.setenv(VENDOR_SETTING, str(tmp_path))
    assert pulumi_engine.vendor_dir() == tmp_path


def test_a_changed_patch_is_a_new_docker_build(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ours = DOCKER_TOOL.key
    assert ours.startswith(f"{DOCKER}@{pulumi_engine.DOCKER_VERSION}-")
    for patch in pulumi_engine.patches():
        (tmp_path / patch.name).write_bytes(patch.read_bytes() + b"\n")
    monkeypatch.setattr(pulumi_engine, "PATCHES", tmp_path)
    assert DOCKER_TOOL.key != ours


def test_a_warm_cache_builds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    require_engine()
    pulumi_engine.ensure(vendor=NOWHERE)
    out = capsys.readouterr().out
    assert "building" not in out
    # One line per piece, each saying it is there already, and where.
    pieces = [line for line in out.splitlines() if line.startswith("[")]
    assert len(pieces) == 4, out
    assert all("already built: " in line or "already there: " in line for line in pieces), out

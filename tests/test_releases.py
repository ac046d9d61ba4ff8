"""`make tools`: the binaries the validators and the smoke test run are the releases the stack's
images pin, built from their Go modules; what cannot be built says what and why."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from services import Service
from settings import DEFAULT_IMAGES
from tests.support.tools import require_tool
from toolchain import releases
from toolchain.cache import BuildError
from toolchain.releases import RELEASES, GoRelease


def test_each_release_is_the_one_its_default_image_pins() -> None:
    pins = {release.service: (release.release, release.pin) for release in RELEASES}
    assert pins == {
        Service.PROMETHEUS: ("3.14.0", "github.com/prometheus/prometheus@v0.314.0"),
        Service.ALERTMANAGER: ("0.34.0", "github.com/prometheus/alertmanager@v0.34.0"),
        Service.REDIS_EXPORTER: ("1.88.0", "github.com/oliver006/redis_exporter@v1.88.0"),
    }


def test_an_image_bump_bumps_the_module_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DEFAULT_IMAGES, Service.PROMETHEUS, "prom/prometheus:v3.5.1")
    (prometheus,) = [r for r in RELEASES if r.service is Service.PROMETHEUS]
    assert prometheus.pin == "github.com/prometheus/prometheus@v0.305.1"


@pytest.mark.parametrize("binary", sorted(releases.RELEASE_OF_BINARY))
def test_the_built_binary_reports_the_release_its_image_pins(binary: str) -> None:
    release = releases.RELEASE_OF_BINARY[binary]
    result = subprocess.run([require_tool(binary), "--version"], capture_output=True,
                            text=True, timeout=30, check=False)
    match = re.search(r"version:? v?(\d+\.\d+\.\d+)|Exporter v(\d+\.\d+\.\d+)",
                      result.stdout + result.stderr)
    assert match is not None, result.stdout + result.stderr
    built = match[1] or match[2]
    image = DEFAULT_IMAGES[release.service]
    assert built == release.release, f"{binary} is {built}, but the stack deploys {image}"


def _refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> GoRelease:
    monkeypatch.setenv("GATEWAYZ_CACHE", str(tmp_path))
    monkeypatch.setitem(DEFAULT_IMAGES, Service.REDIS_EXPORTER,
                        "oliver006/redis_exporter:v0.0.1-alpine")
    (exporter,) = [r for r in RELEASES if r.service is Service.REDIS_EXPORTER]
    return exporter


def test_a_module_the_proxy_refuses_stops_the_build_naming_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require_tool("go")
    exporter = _refused(monkeypatch, tmp_path)
    with pytest.raises(BuildError, match=re.escape(exporter.pin)) as refused:
        releases.build(exporter)
    # The proxy's own answer is passed on.
    assert "not available" in str(refused.value)
    assert not releases.release_dir(exporter).exists()


def test_a_proxy_that_does_not_answer_stops_the_build_naming_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require_tool("go")
    exporter = _refused(monkeypatch, tmp_path)
    # Nothing listens there, and an empty module cache cannot serve the module either.
    monkeypatch.setenv("GOPROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
    with pytest.raises(BuildError, match=re.escape(exporter.pin)) as unanswered:
        releases.build(exporter)
    assert "http://127.0.0.1:9" in str(unanswered.value)
    assert "connection refused" in str(unanswered.value)


def test_without_go_the_build_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    exporter = _refused(monkeypatch, tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError, match="go is not installed"):
        releases.build(exporter)


def test_a_warm_cache_builds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    for binary in releases.RELEASE_OF_BINARY:
        require_tool(binary)
    releases.ensure()
    *items, summary = capsys.readouterr().out.splitlines()
    # One line per release, saying it is built already and where.
    assert len(items) == len(releases.RELEASES)
    for number, (line, release) in enumerate(zip(items, releases.RELEASES, strict=True), 1):
        assert line == (f"[{number}/{len(releases.RELEASES)}] already built: "
                        f"{releases.describe(release)}, cached in {releases.release_dir(release)}")
    assert summary.startswith(f"pinned releases: nothing built, {len(releases.RELEASES)} "
                              "already there")

"""What `make tools` and `make images` print while they work (toolchain.cache.Progress): a line
as each build starts and one as it ends with its elapsed time, a line while a long one runs, and
for what is built already one line saying so and where."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from toolchain import releases
from toolchain.cache import BuildError, Progress, last_of, make_tools_main, took


def test_a_cold_build_says_when_it_starts_and_how_long_it_took(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GATEWAYZ_CACHE", str(tmp_path))
    exporter = releases.RELEASES[-1]
    before: list[str] = []

    def build(release: releases.GoRelease) -> Path:
        # The first line is out while the build runs.
        before.extend(capsys.readouterr().out.splitlines())
        time.sleep(0.2)
        return releases.release_dir(release)

    monkeypatch.setattr(releases, "build", build)
    releases.ensure((exporter,))
    assert before == [f"[1/1] building {releases.describe(exporter)}: from the Go module "
                      "proxy, then go build ..."]
    end, summary = capsys.readouterr().out.splitlines()
    assert end.startswith(f"[1/1] built {releases.describe(exporter)} in ")
    assert end.endswith(f" -> {releases.release_dir(exporter)}")
    seconds = float(re.search(r" in (\d+\.\d)s ", end).group(1))  # type: ignore[union-attr]
    assert 0.2 <= seconds < 5
    assert summary.startswith("pinned releases: built 1 of 1 in ")


def test_a_long_build_says_it_is_still_running() -> None:
    lines: list[str] = []
    progress = Progress(2, heartbeat=0.05, write=lines.append)
    progress.cached("piece one", "/cache/one")
    with progress.building("piece two", "slow") as went:
        time.sleep(0.3)
        went("/cache/two")
    assert lines[0] == "[1/2] already built: piece one, cached in /cache/one"
    assert lines[1] == "[2/2] building piece two: slow ..."
    assert any(line.startswith("[2/2] still building piece two: ") for line in lines[2:-1])
    assert re.fullmatch(r"\[2/2\] built piece two in 0\.\ds -> /cache/two", lines[-1])
    assert progress.summary("pieces").startswith("pieces: built 1 of 2 in ")


def test_a_failed_build_says_so_and_make_tools_fails_with_why(
        capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    progress = Progress(1, write=lines.append)

    def ensure() -> None:
        with progress.building("piece"):
            raise BuildError("piece: go build failed: no Go")

    assert make_tools_main(ensure) == 1
    assert re.fullmatch(r"\[1/1\] FAILED piece after 0\.\ds", lines[-1])
    assert "FAIL make tools: piece: go build failed: no Go" in capsys.readouterr().err


def test_quiet_progress_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress(1, report=False)
    with progress.building("piece"):
        pass
    progress.cached("other", "/x")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("seconds", "text"), [
    (0.04, "0.0s"), (42.0, "42.0s"), (187.4, "3m07s"), (600, "10m00s")])
def test_elapsed_times_read_as_a_person_says_them(seconds: float, text: str) -> None:
    assert took(seconds) == text


def test_a_long_build_log_says_how_much_of_it_was_left_out() -> None:
    assert last_of("  short  ") == "short"
    kept = last_of("a" * 10 + "the error", limit=9)
    assert kept == "[first 10 characters left out] ...the error"

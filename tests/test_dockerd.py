"""Our own dockerd's start and stop, without Docker: a fake `dockerd` on PATH, and the run
directory, pid file, log and cache all in tmp paths, so nothing real is touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolchain import dockerd
from toolchain.dockerd import EngineError, start_daemon, stop_daemon


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    run = tmp_path / "run"
    monkeypatch.setattr(dockerd, "RUN_DIR", run)
    monkeypatch.setattr(dockerd, "SOCKET", run / "docker.sock")
    monkeypatch.setattr(dockerd, "PID_FILE", run / "docker.pid")
    monkeypatch.setattr(dockerd, "LOG_FILE", run / "dockerd.log")
    monkeypatch.setenv("GATEWAYZ_CACHE", str(tmp_path / "cache"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Only the fake (if a test writes one) is found: never a real dockerd.
    monkeypatch.setenv("PATH", str(bin_dir))
    return run


def _fake_dockerd(run_dir: Path, script: str) -> None:
    fake = run_dir.parent / "bin" / "dockerd"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)


def test_a_dockerd_that_fails_reports_its_log_tail(run_dir: Path) -> None:
    _fake_dockerd(run_dir, 'echo "starting containerd"\n'
                           'echo "failed to start daemon: boom" >&2\nexit 1')
    with pytest.raises(EngineError) as raised:
        start_daemon()
    message = str(raised.value)
    # Reported as it exits, not once the start timeout has run out.
    assert "exited with 1" in message
    assert "failed to start daemon: boom" in message
    assert "starting containerd" in message


def test_a_dockerd_that_fails_is_given_our_own_paths(run_dir: Path, tmp_path: Path) -> None:
    _fake_dockerd(run_dir, 'for arg in "$@"; do echo "arg $arg"; done\nexit 3')
    with pytest.raises(EngineError, match="exited with 3") as raised:
        start_daemon()
    args = {line.removeprefix("arg ") for line in str(raised.value).splitlines()
            if line.startswith("arg ")}
    assert {f"--host=unix://{run_dir / 'docker.sock'}", f"--pidfile={run_dir / 'docker.pid'}",
            f"--data-root={tmp_path / 'cache' / 'docker'}", "--iptables=false",
            "--bridge=none"} <= args


def test_without_dockerd_it_says_to_install_docker_io(run_dir: Path) -> None:
    with pytest.raises(EngineError, match=r"apt-get install docker\.io"):
        start_daemon()
    assert not run_dir.exists()


def test_stop_without_a_pid_file_does_nothing(run_dir: Path) -> None:
    stop_daemon()
    assert not run_dir.exists()


def test_stop_with_a_garbled_pid_file_does_nothing(run_dir: Path) -> None:
    run_dir.mkdir()
    dockerd.PID_FILE.write_text("not a pid\n")
    stop_daemon()
    assert dockerd.PID_FILE.read_text() == "not a pid\n"


@pytest.fixture
def dummy() -> Iterator[subprocess.Popen[bytes]]:
    """A child of this process, as the dockerd that `engine()` starts is."""
    child = subprocess.Popen(["/bin/sleep", "60"])
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def _exited(pid: int) -> bool:
    """Whether `pid` is gone or a zombie (exited, not yet reaped)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return status.rsplit(")", 1)[1].split()[0] == "Z"


def test_stop_terminates_the_process_of_the_pid_file_promptly(
        run_dir: Path, dummy: subprocess.Popen[bytes]) -> None:
    run_dir.mkdir()
    dockerd.PID_FILE.write_text(f"{dummy.pid}\n")
    started = time.monotonic()
    stop_daemon()
    # It returns once the process has exited, not after waiting out STOP_SECONDS (the dummy
    # exits on SIGTERM at once; half of it leaves room for any load).
    assert time.monotonic() - started < dockerd.STOP_SECONDS / 2
    assert _exited(dummy.pid)


def test_stop_kills_a_process_that_ignores_sigterm(
        run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dockerd, "STOP_SECONDS", 1.0)
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
         "signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE)
    try:
        assert stubborn.stdout is not None
        assert stubborn.stdout.readline() == b"ready\n"
        run_dir.mkdir()
        dockerd.PID_FILE.write_text(str(stubborn.pid))
        stop_daemon()
        assert _exited(stubborn.pid)
    finally:
        if stubborn.poll() is None:
            os.kill(stubborn.pid, 9)
        stubborn.wait()
        if stubborn.stdout is not None:
            stubborn.stdout.close()

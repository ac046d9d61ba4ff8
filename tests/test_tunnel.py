"""`make tunnel` and `make tunnel-stop` (ops/tunnel.py): the tunnel is found again by its ssh
control socket, and stopping says what it stopped, or that nothing ran.

`ssh` here is a FAKE on PATH (no sshd is at hand): it plays an ssh control master as a `sleep`
whose pid sits beside the control socket, and answers `-O check` / `-O exit` as OpenSSH does
(`Master running (pid=N)` on stderr; exit 255 when no master answers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops import tunnel
from services import Published

FAKE_SSH = f"""#!{sys.executable}
import os, signal, subprocess, sys
args = sys.argv[1:]
sock = args[args.index("-S") + 1] if "-S" in args else None
pidfile = f"{{sock}}.pid"

def master():
    try:
        pid = int(open(pidfile).read())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid

if "-O" in args:
    pid = master() if sock and os.path.exists(sock) else None
    if pid is None:
        print(f"Control socket connect({{sock}}): No such file or directory", file=sys.stderr)
        sys.exit(255)
    if args[args.index("-O") + 1] == "exit":
        os.kill(pid, signal.SIGTERM)
        os.unlink(sock)
        os.unlink(pidfile)
        print("Exit request sent.", file=sys.stderr)
    else:
        print(f"Master running (pid={{pid}})", file=sys.stderr)
    sys.exit(0)
child = subprocess.Popen(["sleep", "300"], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if sock:
    open(sock, "w").close()
    open(pidfile, "w").write(str(child.pid))
"""
REMOTE = {"docker:host": "ssh://deploy@obs.example.com",
          "gatewayz-observability:backendMetricsUrl": "https://api.gatewayz.ai/metrics",
          "gatewayz-observability:protectData": True}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of init may linger as a zombie: not running.
    status = Path(f"/proc/{pid}/stat")
    return not status.exists() or status.read_text().split()[2] != "Z"


def _ended(pid: int, seconds: float = 5.0) -> bool:
    """Whether the process is gone within `seconds` (a signal takes a moment to land)."""
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake ssh first on PATH, tunnels' sockets under tmp_path; any master left is ended."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("GATEWAYZ_CACHE", str(tmp_path / "cache"))
    yield bin_dir
    for pidfile in (tmp_path / "cache").glob("tunnels/*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGTERM)


def _remote(monkeypatch: pytest.MonkeyPatch, config: dict[str, Any] | None = None) -> None:
    monkeypatch.setattr(tunnel, "read_config", lambda stack: dict(config or REMOTE))


@pytest.mark.usefixtures("fake_ssh")
def test_stop_with_nothing_running_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert tunnel.main(["--stack", "production", "--stop"]) == 0
    out = capsys.readouterr().out
    assert "production: no tunnel is running" in out
    assert "nothing to stop" in out


@pytest.mark.usefixtures("fake_ssh")
def test_a_started_tunnel_is_found_again_and_stopped(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _remote(monkeypatch)
    assert tunnel.main(["--stack", "production", "--all"]) == 0
    started = capsys.readouterr().out
    assert f"-M -S {tunnel.control_path('production')}" in started
    found = tunnel.running("production")
    assert found is not None
    pid, state = found
    assert pid is not None
    assert _alive(pid)
    assert f"tunnel running (pid {pid}, to deploy@obs.example.com" in started
    assert "make tunnel-stop STACK=production" in started
    assert "localhost:9090" in started
    assert len(state["forwards"]) == len(tunnel.VERIFY_PORTS)

    # A second start finds it instead of starting another.
    assert tunnel.main(["--stack", "production"]) == 0
    assert f"a tunnel already runs (pid {pid}" in capsys.readouterr().out

    assert tunnel.main(["--stack", "production", "--stop"]) == 0
    assert f"production: tunnel stopped (pid {pid}" in capsys.readouterr().out
    assert _ended(pid)
    assert not tunnel.control_path("production").exists()
    assert tunnel.main(["--stack", "production", "--stop"]) == 0
    assert "no tunnel is running" in capsys.readouterr().out


@pytest.mark.usefixtures("fake_ssh")
def test_a_socket_left_by_a_dead_ssh_is_not_a_running_tunnel(
        capsys: pytest.CaptureFixture[str]) -> None:
    socket = tunnel.control_path("staging")
    socket.parent.mkdir(parents=True)
    socket.touch()
    assert tunnel.main(["--stack", "staging", "--stop"]) == 0
    assert "no tunnel is running" in capsys.readouterr().out
    assert not socket.exists()


@pytest.mark.usefixtures("fake_ssh")
def test_a_local_docker_has_nothing_to_forward(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _remote(monkeypatch, {**REMOTE, "docker:host": "unix:///var/run/docker.sock"})
    assert tunnel.main(["--stack", "staging"]) == 0
    assert "nothing to forward" in capsys.readouterr().out
    assert tunnel.running("staging") is None


def test_the_forward_is_the_master_of_the_stacks_control_socket(tmp_path: Path) -> None:
    command = tunnel.ssh_command("production", REMOTE, (Published.GRAFANA,), tmp_path / "p.sock")
    assert command is not None
    assert command[command.index("-S") + 1] == str(tmp_path / "p.sock")
    assert "-M" in command
    assert command[-1] == "deploy@obs.example.com"

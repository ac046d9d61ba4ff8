"""Start or stop the Docker engine `make images` and the smoke test use, if none answers.

The engine is the one at `DOCKER_HOST` or the default socket when it answers, else a dockerd of
our own (own socket, exec root and pid file; data root in the build cache, so built images
survive between runs; `--iptables=false` and no default bridge, so containers reach this host and
each other, nothing else). It stops only what it started.

`python -m toolchain.dockerd start` / `stop` do the same for `.ci/run`, which evals what `start`
prints (DOCKER_HOST, and whether it started the daemon).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import docker
from docker.errors import DockerException

from toolchain.cache import cache_root

# Short: a unix socket path has a 108-byte limit, and containerd nests its own under it.
RUN_DIR: Final = Path("/tmp/gatewayz-dockerd")
SOCKET: Final = RUN_DIR / "docker.sock"
PID_FILE: Final = RUN_DIR / "docker.pid"
LOG_FILE: Final = RUN_DIR / "dockerd.log"
START_SECONDS: Final = 60.0
STOP_SECONDS: Final = 30.0
KILL_SECONDS: Final = 5.0
# Where a workstation's or a CI runner's own engine listens.
DEFAULT_SOCKET: Final = "unix:///var/run/docker.sock"
# The smoke test's one network: fixed, so the host's servers can bind its gateway before any
# container starts.
TEST_SUBNET: Final = "172.29.53.0/24"
TEST_GATEWAY: Final = "172.29.53.1"


class EngineError(RuntimeError):
    """No engine answers and ours would not start; the message carries dockerd's log tail."""


@dataclass(frozen=True)
class Engine:
    client: docker.DockerClient
    base_url: str
    # Whether this process started the daemon (and so must stop it).
    started: bool


def _connect(base_url: str) -> docker.DockerClient | None:
    try:
        client = docker.DockerClient(base_url=base_url, version="auto", timeout=120)
        client.ping()
    except DockerException:
        return None
    return client


def log_tail(lines: int = 20) -> str:
    if not LOG_FILE.exists():
        return "(no dockerd log)"
    return "\n".join(LOG_FILE.read_text(errors="replace").splitlines()[-lines:])


def start_daemon() -> None:
    """Start our dockerd in the background and wait until it answers."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineError("dockerd is not installed (Debian: apt-get install docker.io)")
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    data_root = cache_root() / "docker"
    data_root.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("wb") as log:
        daemon = subprocess.Popen(
            [dockerd, f"--host=unix://{SOCKET}", f"--data-root={data_root}",
             f"--exec-root={RUN_DIR / 'exec'}", f"--pidfile={PID_FILE}",
             "--iptables=false", "--ip6tables=false", "--bridge=none",
             "--log-level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    end = time.monotonic() + START_SECONDS
    while time.monotonic() < end:
        if daemon.poll() is not None:
            raise EngineError(f"dockerd exited with {daemon.returncode}:\n{log_tail()}")
        if _connect(f"unix://{SOCKET}") is not None:
            return
        time.sleep(0.5)
    stop_daemon()
    raise EngineError(f"dockerd did not answer within {START_SECONDS:g}s:\n{log_tail()}")


def _gone(pid: int) -> bool:
    """Whether `pid` has exited. The dockerd `engine()` starts is our child: it stays a zombie,
    which still answers signal 0, until reaped, so reap it here."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def stop_daemon() -> None:
    """Stop our dockerd (and the containerd it runs) if its pid file says it runs; return once it
    has exited (SIGTERM, then SIGKILL after STOP_SECONDS)."""
    try:
        pid = int(PID_FILE.read_text())
    except (OSError, ValueError):
        return
    for sig, seconds in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, KILL_SECONDS)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if _gone(pid):
                return
            time.sleep(0.2)


def answering() -> Engine | None:
    for base_url in (os.environ.get("DOCKER_HOST"), f"unix://{SOCKET}", DEFAULT_SOCKET):
        if base_url and (client := _connect(base_url)) is not None:
            return Engine(client, base_url, started=False)
    return None


@contextlib.contextmanager
def engine() -> Iterator[Engine]:
    """An engine that answers (DOCKER_HOST, ours, the default socket), or ours started for this
    block."""
    if (running := answering()) is not None:
        yield running
        return
    start_daemon()
    base_url = f"unix://{SOCKET}"
    client = _connect(base_url)
    if client is None:
        stop_daemon()
        raise EngineError(f"dockerd started but does not answer:\n{log_tail()}")
    try:
        yield Engine(client, base_url, started=True)
    finally:
        client.close()
        stop_daemon()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop"))
    args = parser.parse_args(argv)
    if args.action == "stop":
        stop_daemon()
        return 0
    running = answering()
    if running is not None:
        running.client.close()
        base_url = running.base_url
    else:
        try:
            start_daemon()
        except EngineError as error:
            print(f"FAIL dockerd: {error}", file=sys.stderr)
            return 1
        base_url = f"unix://{SOCKET}"
    # For `eval`: the caller stops the daemon only if this call started it.
    print(f"export DOCKER_HOST={base_url} GATEWAYZ_DOCKERD_STARTED={int(running is None)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

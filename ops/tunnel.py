"""Forward a remote stack's Grafana (or every port make verify calls) here over ssh, or stop it.

Published ports bind to the Docker host's loopback. When a stack's `docker:host` is
`ssh://user@host[:port]`, `python -m ops.tunnel --stack production` (`make tunnel`) starts
`ssh -f -N -M -S <control socket> -L <grafana port>:<bind address>:<grafana port> user@host` in
the background; with a local Docker it does nothing. `--all` forwards every published HTTP port
too (what `make verify` reaches); `--print` shows the command instead of running it.

The tunnel is tracked by its ssh control socket, one per stack (`control_path`): `make tunnel`
says so when one already runs, and `--stop` (`make tunnel-stop`) asks that ssh to exit
(`ssh -S <socket> -O exit`), or says that nothing runs.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from services import Published
from settings.stack_file import file_settings, read_config, stack_argument
from toolchain.cache import cache_root

# What `make verify` calls on the Docker host; OTLP gRPC is not among them.
VERIFY_PORTS: Final = (Published.PROMETHEUS, Published.ALERTMANAGER, Published.LOKI,
                       Published.TEMPO_HTTP, Published.TEMPO_OTLP_HTTP, Published.GRAFANA)
# `ssh -O check` answers `Master running (pid=1234)` on stderr.
_MASTER_PID: Final = re.compile(r"pid=(\d+)")


def control_path(stack: str) -> Path:
    """The ssh control socket of a stack's tunnel: how `--stop` finds the ssh that forwards."""
    return cache_root() / "tunnels" / f"{stack}.sock"


def _state_path(stack: str) -> Path:
    """What the running tunnel forwards, for the lines `make tunnel` and `--stop` print."""
    return control_path(stack).with_suffix(".json")


def ssh_command(stack: str, config: Mapping[str, Any],
                ports: Sequence[Published] = (Published.GRAFANA,),
                control: Path | None = None) -> list[str] | None:
    """The ssh forward of `ports` for a stack's config (its stack file's `config:`), or None
    when its Docker host is not reached over ssh. Grafana must be published; other ports
    published as `none` are left out. With `control`, ssh is the master of that control socket,
    which is how the tunnel is found again."""
    docker_host = urlsplit(str(config.get("docker:host", "")))
    if docker_host.scheme != "ssh":
        return None
    # Only the bindings matter here: secrets count as set.
    settings = file_settings(stack, config)
    if settings.bindings[Published.GRAFANA] is None:
        raise SystemExit(f"{stack}: grafanaBind is `none`, so there is no port to forward")
    forwards = [f"{binding.port}:{binding.host_ip}:{binding.port}" for port in ports
                if (binding := settings.bindings[port]) is not None]
    target = f"{docker_host.username}@{docker_host.hostname}" if docker_host.username \
        else str(docker_host.hostname)
    port = ["-p", str(docker_host.port)] if docker_host.port else []
    master = ["-M", "-S", str(control)] if control is not None else []
    return ["ssh", "-f", "-N", "-o", "ExitOnForwardFailure=yes", *master, *port,
            *(argument for forward in forwards for argument in ("-L", forward)), target]


def _control(stack: str, operation: str, target: str) -> subprocess.CompletedProcess[str]:
    """`ssh -S <control socket> -O <operation> <target>`: ask the tunnel's ssh, if any."""
    return subprocess.run(["ssh", "-S", str(control_path(stack)), "-O", operation, target],
                          capture_output=True, text=True, timeout=30, check=False)


def _state(stack: str) -> dict[str, Any]:
    try:
        loaded = json.loads(_state_path(stack).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _forget(stack: str) -> None:
    control_path(stack).unlink(missing_ok=True)
    _state_path(stack).unlink(missing_ok=True)


def running(stack: str) -> tuple[int | None, dict[str, Any]] | None:
    """(pid, what it forwards) of the stack's tunnel when its ssh answers on the control
    socket; None when none runs (a socket left by an ssh that died is removed)."""
    if not control_path(stack).exists():
        return None
    state = _state(stack)
    checked = _control(stack, "check", str(state.get("target", stack)))
    if checked.returncode != 0:
        _forget(stack)
        return None
    pid = _MASTER_PID.search(checked.stderr + checked.stdout)
    return (int(pid.group(1)) if pid else None), state


def _describe(pid: int | None, state: Mapping[str, Any]) -> str:
    forwards = ", ".join(f"localhost:{forward.split(':', 1)[0]}"
                         for forward in state.get("forwards", []))
    return (f"pid {pid if pid is not None else 'unknown'}"
            + (f", to {state['target']}" if state.get("target") else "")
            + (f", forwarding {forwards}" if forwards else ""))


def start(stack: str, ports: Sequence[Published]) -> int:
    command = ssh_command(stack, read_config(stack), ports, control_path(stack))
    if command is None:
        print(f"{stack}: docker:host is not ssh://, so its published ports are reachable "
              "directly: nothing to forward")
        return 0
    found = running(stack)
    if found is not None:
        print(f"{stack}: a tunnel already runs ({_describe(*found)}); "
              f"`make tunnel-stop STACK={stack}` stops it, to start another")
        return 0
    control_path(stack).parent.mkdir(parents=True, exist_ok=True)
    print(" ".join(command), flush=True)
    started = subprocess.run(command, check=False)
    if started.returncode != 0:
        print(f"{stack}: ssh exited {started.returncode}: no tunnel (its message is above)",
              file=sys.stderr)
        return started.returncode
    forwards = [command[i + 1] for i, argument in enumerate(command) if argument == "-L"]
    state = {"target": command[-1], "forwards": forwards, "command": command}
    _state_path(stack).write_text(json.dumps(state, indent=2) + "\n")
    found = running(stack)
    pid = found[0] if found is not None else None
    print(f"{stack}: tunnel running ({_describe(pid, state)}); "
          f"stop it with `make tunnel-stop STACK={stack}`")
    return 0


def stop(stack: str) -> int:
    found = running(stack)
    if found is None:
        print(f"{stack}: no tunnel is running (none was started by `make tunnel STACK={stack}`, "
              "or it has already ended): nothing to stop")
        return 0
    pid, state = found
    ended = _control(stack, "exit", str(state.get("target", stack)))
    if ended.returncode != 0:
        print(f"{stack}: the tunnel's ssh (pid {pid}) did not exit: "
              f"{' '.join((ended.stderr or ended.stdout).split())}", file=sys.stderr)
        return 1
    _forget(stack)
    print(f"{stack}: tunnel stopped ({_describe(pid, state)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, type=stack_argument)
    parser.add_argument("--print", action="store_true", help="show the ssh command only")
    parser.add_argument("--all", action="store_true",
                        help="forward every port `make verify` calls, not only Grafana's")
    parser.add_argument("--stop", action="store_true",
                        help="stop the stack's tunnel (`make tunnel-stop`)")
    args = parser.parse_args(argv)
    if args.stop:
        return stop(args.stack)
    ports = VERIFY_PORTS if args.all else (Published.GRAFANA,)
    if args.print:
        command = ssh_command(args.stack, read_config(args.stack), ports,
                              control_path(args.stack))
        print(" ".join(command) if command is not None else
              f"{args.stack}: docker:host is not ssh://: nothing to forward")
        return 0
    return start(args.stack, ports)


if __name__ == "__main__":
    sys.exit(main())

"""Forward a remote stack's Grafana to this machine, so the Grafana provider can reach it.

Published ports bind to the Docker host's loopback. When a stack's `docker:host` is
`ssh://user@host[:port]`, `python -m ops.tunnel --stack production` starts
`ssh -f -N -L <grafana port>:<bind address>:<grafana port> user@host` in the background; with a
local Docker it does nothing. `--all` forwards every published HTTP port too (what `make verify`
reaches); `--print` shows the command instead of running it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from settings import Port
from settings.stack_file import file_settings, read_config, stack_argument

# What `make verify` calls on the Docker host; OTLP gRPC is not among them.
VERIFY_PORTS: Final = (Port.PROMETHEUS, Port.ALERTMANAGER, Port.LOKI, Port.TEMPO_HTTP,
                       Port.TEMPO_OTLP_HTTP, Port.GRAFANA)


def ssh_command(stack: str, config: Mapping[str, Any],
                ports: Sequence[Port] = (Port.GRAFANA,)) -> list[str] | None:
    """The ssh forward of `ports` for a stack's config (its stack file's `config:`), or None
    when its Docker host is not reached over ssh. Grafana must be published; other ports
    published as `none` are left out."""
    docker_host = urlsplit(str(config.get("docker:host", "")))
    if docker_host.scheme != "ssh":
        return None
    # Only the bindings matter here: secrets count as set.
    settings = file_settings(stack, config)
    if settings.bindings[Port.GRAFANA] is None:
        raise SystemExit(f"{stack}: grafanaBind is `none`, so there is no port to forward")
    forwards = [f"{binding.port}:{binding.host_ip}:{binding.port}" for port in ports
                if (binding := settings.bindings[port]) is not None]
    target = f"{docker_host.username}@{docker_host.hostname}" if docker_host.username \
        else str(docker_host.hostname)
    port = ["-p", str(docker_host.port)] if docker_host.port else []
    return ["ssh", "-f", "-N", "-o", "ExitOnForwardFailure=yes", *port,
            *(argument for forward in forwards for argument in ("-L", forward)), target]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, type=stack_argument)
    parser.add_argument("--print", action="store_true", help="show the ssh command only")
    parser.add_argument("--all", action="store_true",
                        help="forward every port `make verify` calls, not only Grafana's")
    args = parser.parse_args(argv)
    command = ssh_command(args.stack, read_config(args.stack),
                          VERIFY_PORTS if args.all else (Port.GRAFANA,))
    if command is None:
        print(f"{args.stack}: docker:host is not ssh://, Grafana is reachable directly")
        return 0
    print(" ".join(command))
    return 0 if args.print else subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

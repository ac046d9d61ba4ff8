"""The engine `make tools` provides previews a container whose upload has an owner and a group:
the provider's own validation (the Terraform schema our patch extends, not only the schema.json
it reports) takes them. Unpatched, 5.1.0 refuses them: "Invalid or unknown key. Examine values
at '<name>.uploads'".

The provider pings a Docker daemon when it is configured, and nothing more at preview: a stand-in
on a unix socket answers that ping, so no engine is needed (and none is touched).
"""

from __future__ import annotations

import json
import os
import re
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Final

import pytest

from tests.support.tools import require_engine

PROGRAM: Final = '''\
import pulumi
import pulumi_docker as docker

provider = docker.Provider("docker", host="unix://{socket}")
docker.Container(
    "upload-owner", name="upload-owner", image="sha256:" + "0" * 64,
    uploads=[docker.ContainerUploadArgs(file="/run/secrets/token", content="token",
                                        owner="65534", group="nogroup", permissions="0400")],
    opts=pulumi.ResourceOptions(provider=provider))
'''


class _Daemon(BaseHTTPRequestHandler):
    """Answers the ping and version requests of a Docker client; anything else is refused."""

    def _answer(self, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Api-Version", "1.47")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            self._answer(200, "OK", "text/plain")
        elif path.endswith("/version"):
            self._answer(200, json.dumps({"Version": "28.0.0", "ApiVersion": "1.47",
                                          "MinAPIVersion": "1.24"}), "application/json")
        else:
            self._answer(404, json.dumps({"message": f"stand-in: no {path}"}),
                         "application/json")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self.do_GET()

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def docker_socket(tmp_path: Path) -> Iterator[Path]:
    socket = tmp_path / "docker.sock"
    server = _Server(str(socket), _Daemon)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield socket
    server.shutdown()
    server.server_close()


def test_a_container_upload_with_owner_and_group_previews(tmp_path: Path,
                                                          docker_socket: Path) -> None:
    engine = require_engine()
    project = tmp_path / "project"
    project.mkdir()
    # The program runs in this interpreter's virtualenv, where the pinned SDK is.
    (project / "Pulumi.yaml").write_text(json.dumps({
        "name": "upload-owner", "runtime": {"name": "python",
                                            "options": {"virtualenv": sys.prefix}}}))
    (project / "__main__.py").write_text(PROGRAM.format(socket=docker_socket))
    env = {**os.environ, "PATH": f"{engine}{os.pathsep}{os.environ.get('PATH', '')}",
           "PULUMI_HOME": str(tmp_path / "home"), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
           "PULUMI_CONFIG_PASSPHRASE": "test-only",
           # Offline: the plugins are the ones on PATH, never a download.
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}
    (tmp_path / "state").mkdir()

    def pulumi(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(engine / "pulumi"), *args, "--non-interactive"],
                              cwd=project, env=env, capture_output=True, text=True,
                              timeout=300, check=False)

    created = pulumi("stack", "init", "test", "--secrets-provider", "passphrase")
    assert created.returncode == 0, created.stderr
    preview = pulumi("preview", "--stack", "test", "--diff")
    assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-3000:]
    assert re.search(r'owner\s*: "65534"', preview.stdout), preview.stdout
    assert re.search(r'group\s*: "nogroup"', preview.stdout), preview.stdout

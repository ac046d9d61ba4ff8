"""The Makefile as a user meets it: `make` alone lists the targets, every target a user runs has
its `##` line, and `make verify VERIFY_ARGS=--json` prints JSON and nothing else on stdout."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from ops.verify import OUTPUTS
from settings.stack_file import ROOT
from tests.support.tools import missing, require_tool

MAKEFILE: Final = ROOT / "Makefile"
# Targets only other targets use; every other one is documented.
INTERNAL: Final = frozenset({"backend"})
_DOC: Final = re.compile(r"^## ([^\s:]+)[^:\n]*: \S", re.M)
_RULE: Final = re.compile(r"^([a-z][a-z0-9-]*):(?!=)", re.M)


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`make` in the repository as a shell runs it: not under another make (whose MAKEFLAGS and
    MAKELEVEL would make it print `Entering directory` lines)."""
    require_tool("make")
    if not (ROOT / ".venv" / "bin" / "python").exists():
        missing("no .venv in the repository: run `make venv`")
    clean = {name: value for name, value in os.environ.items()
             if name not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False, env={**clean, **(env or {})})


def documented() -> list[str]:
    return _DOC.findall(MAKEFILE.read_text())


def test_every_target_a_user_runs_has_its_help_line() -> None:
    rules = set(_RULE.findall(MAKEFILE.read_text()))
    assert rules, "no rules found"
    assert sorted(rules - INTERNAL - set(documented())) == []
    # And no help line names a target that does not exist.
    assert sorted(set(documented()) - rules) == []


def test_make_help_lists_each_documented_target_on_one_line() -> None:
    done = _make("help")
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ")]
    assert listed == documented()
    # Each with its description, not only its name.
    assert all(len(line.split()) > 1 for line in done.stdout.splitlines()
               if line.startswith("  "))


def test_make_alone_is_make_help() -> None:
    alone, help_ = _make(), _make("help")
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout == help_.stdout


@pytest.fixture
def refused_urls() -> Iterator[dict[str, str]]:
    with contextlib.ExitStack() as stack:
        urls = {}
        for name in OUTPUTS:
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            urls[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield urls


def test_make_verify_json_is_the_only_thing_on_stdout(refused_urls: dict[str, str]) -> None:
    flags = " ".join(f"--{name}-url {url}" for name, url in refused_urls.items())
    # As `make verify VERIFY_ARGS=--json | jq .` reads it: no -s, nothing but the JSON.
    done = _make("verify", "STACK=staging", f"VERIFY_ARGS=--json {flags}")
    report = json.loads(done.stdout)
    assert done.returncode != 0
    assert report["ok"] is False
    assert [address["url"] for address in report["unreachable"]] == list(refused_urls.values())


def test_make_tunnel_stop_with_nothing_running_says_so(tmp_path: Path) -> None:
    done = _make("tunnel-stop", "STACK=staging", env={"GATEWAYZ_CACHE": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("staging: no tunnel is running")

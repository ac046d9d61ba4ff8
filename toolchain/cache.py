"""What the builds of toolchain/ share: the cache outside the repository they build into, one
build at a time per lock, the stamp that marks a finished build, and the `go` they build with.

A build writes into a scratch directory and moves it into place whole, its stamp last written,
so a directory with a stamp is always a finished build and an interrupted one is never used.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

STAMP: Final = "build.json"
BUILD_TIMEOUT_SECONDS: Final = 3600


class BuildError(RuntimeError):
    """Something could not be fetched or built; the message names what, and why."""


def cache_root() -> Path:
    """`$GATEWAYZ_CACHE`, else `$XDG_CACHE_HOME/gatewayz-observability`, else under ~/.cache."""
    explicit = os.environ.get("GATEWAYZ_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gatewayz-observability"


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """One build at a time per directory: the tests and `make tools` may race on a cold cache."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def stamp(directory: Path) -> dict[str, Any] | None:
    """The stamp of a finished build in `directory`, or None (never built, or interrupted)."""
    try:
        loaded = json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def install(staged: Path, target: Path, facts: Mapping[str, object]) -> None:
    """Stamp `staged` with `facts` and move it to `target`, replacing what was there."""
    (staged / STAMP).write_text(json.dumps(dict(facts), sort_keys=True, indent=2) + "\n")
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(staged, target)


def go(args: list[str], cwd: Path | None = None,
       env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `go` as the builds do: static (cgo off), outside any workspace, no VCS stamping."""
    binary = shutil.which("go")
    if binary is None:
        raise BuildError("go is not installed (https://go.dev/doc/install); `make tools` builds "
                         "the pinned releases and the Pulumi engine with it")
    environment = {**os.environ, "CGO_ENABLED": "0", "GOWORK": "off",
                   "GOFLAGS": "-buildvcs=false", **(env or {})}
    return subprocess.run([binary, *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False)


def download(pin: str) -> dict[str, Any]:
    """Fetch `module@version` through the Go module proxy: `go mod download -json`'s answer
    (`Dir`, `Info`, `Origin`, ...)."""
    result = go(["mod", "download", "-json", pin])
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {}
    if result.returncode != 0 or "Dir" not in info:
        answer = info.get("Error") or result.stderr.strip() or result.stdout.strip()
        proxy = os.environ.get("GOPROXY") or go(["env", "GOPROXY"]).stdout.strip()
        raise BuildError(f"{pin}: not fetched from the Go module proxy ({proxy}): {answer}")
    return dict(info)



def reported_version(binary: Path, env: Mapping[str, str] | None = None) -> str:
    """What `binary version` prints, stripped (how a build is checked), or "" when it does not
    run."""
    try:
        result = subprocess.run([str(binary), "version"], capture_output=True, text=True,
                                timeout=60, check=False, env={**os.environ, **(env or {})})
    except OSError:
        return ""
    return result.stdout.strip()


def make_tools_main(ensure: Callable[[], object]) -> int:
    """`make tools`' entry for one kind of build: run it, and fail with one line saying why."""
    try:
        ensure()
    except (BuildError, subprocess.TimeoutExpired, OSError) as error:
        print(f"FAIL make tools: {error}", file=sys.stderr)
        return 1
    return 0

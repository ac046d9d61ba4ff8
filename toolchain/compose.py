"""docker compose v2, built from its Go module for `make bench-engine`, the anchor our figures
are held against (docs/benchmark.md).

`python -m toolchain.compose` builds `github.com/docker/compose/v5` at COMPOSE_VERSION the way
its own Makefile does (`go build -trimpath -tags e2e -ldflags "-w -X
github.com/docker/compose/v5/internal.Version=<version>" ./cmd`; the release Dockerfile's
BUILD_TAGS is `e2e`), static with cgo off, into the cache outside the repository keyed by
module@version, and checks that the binary reports that version (`docker-compose version`). A
no-op once built. Not part of `make tools`: only the benchmark runs it, and CI does not.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from toolchain.cache import (
    BuildError,
    cache_root,
    go,
    install,
    locked,
    make_tools_main,
    reported_version,
    stamp,
)
from toolchain.cache import download as download_module

MODULE: Final = "github.com/docker/compose/v5"
# Newer releases may need a Go newer than 1.26 (their go.mod's `go` line).
COMPOSE_VERSION: Final = "v5.6.0"
PIN: Final = f"{MODULE}@{COMPOSE_VERSION}"
BINARY: Final = "docker-compose"
# docker/compose Makefile: GO_LDFLAGS and GO_BUILDTAGS (its Dockerfile's BUILD_TAGS default).
VERSION_FLAG: Final = f"{MODULE}/internal.Version"
TAGS: Final = "e2e"
# What `docker-compose version` prints for the pinned release.
REPORTED: Final = f"Docker Compose version {COMPOSE_VERSION}"


def compose_dir() -> Path:
    return cache_root() / "go" / PIN.replace("/", "_")


def binary_path() -> Path | None:
    """The cached build, or None before one finished."""
    directory = compose_dir()
    path = directory / BINARY
    facts = stamp(directory)
    if facts is None or facts.get("reported") != REPORTED or not path.is_file():
        return None
    return path


def build() -> Path:
    """Build the binary into its cache directory (replaced whole); BuildError naming the module
    and go's own words when the proxy refuses a dependency or the build fails."""
    info = download_module(PIN)
    with tempfile.TemporaryDirectory(prefix="gatewayz-compose-") as scratch:
        staged = Path(scratch) / "out"
        staged.mkdir()
        # The module's go.sum is complete, so it builds in the (read-only) module cache as is.
        result = go(["build", "-trimpath", "-tags", TAGS, "-ldflags",
                     f"-w -X {VERSION_FLAG}={COMPOSE_VERSION}", "-o", str(staged / BINARY),
                     "./cmd"], cwd=Path(info["Dir"]))
        if result.returncode != 0:
            raise BuildError(f"{PIN}: go build ./cmd failed: {result.stderr.strip()[-2000:]}")
        reported = reported_version(staged / BINARY)
        if reported != REPORTED:
            raise BuildError(f"{PIN}: the built binary reports {reported!r}, not {REPORTED!r}")
        install(staged, compose_dir(), {
            "module": MODULE, "version": COMPOSE_VERSION, "reported": reported,
            "revision": info.get("Origin", {}).get("Hash", "unknown"),
            "go": go(["env", "GOVERSION"]).stdout.strip(), "binaries": [BINARY]})
    path = binary_path()
    assert path is not None
    return path


def ensure(report: bool = True) -> Path:
    """The cached binary, built first when missing (about 2 min cold on 2 cores)."""
    with locked(cache_root()):
        started = time.monotonic()
        path = binary_path()
        state = "cached"
        if path is None:
            if report:
                print(f"building {BINARY} {COMPOSE_VERSION} ({PIN}) ...", flush=True)
            path = build()
            state = "built"
        if report:
            print(f"{state:6} {BINARY} {COMPOSE_VERSION} ({PIN}) in "
                  f"{time.monotonic() - started:.1f}s -> {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    return make_tools_main(ensure)


if __name__ == "__main__":
    sys.exit(main())

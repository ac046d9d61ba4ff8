"""The pinned Prometheus, Alertmanager and redis_exporter releases, built from their Go modules.

`make tools` (`python -m toolchain.releases`) builds each binary the stack's images ship, the way
the release's own build does (prometheus/prometheus and prometheus/alertmanager `.promu.yml`: the
`netgo` tag and `github.com/prometheus/common/version` ldflags; oliver006/redis_exporter
`Dockerfile`: `main.Build*` ldflags), static with cgo off, into a cache outside the repository
keyed by module@version. The release comes from the image default in `settings.DEFAULT_IMAGES`,
so bumping an image bumps what the validators and the smoke test run. Grafana, Loki and Tempo are
AGPL and are not built.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from services import Service
from settings import DEFAULT_IMAGES
from toolchain.cache import (
    BuildError,
    build_missing,
    cache_root,
    finished,
    go,
    install,
    last_of,
    make_tools_main,
    required,
    writable_copy,
)
from toolchain.cache import download as download_module

# Build flags common to the three releases' own builds.
_PROMETHEUS_COMMON_VERSION: Final = "github.com/prometheus/common/version"


@dataclass(frozen=True)
class GoRelease:
    """One upstream release: its Go module and the binaries its image ships."""

    service: Service
    module: str
    # Binary name -> package directory inside the module.
    binaries: Mapping[str, str]
    tags: tuple[str, ...] = ()
    # Written into the module before building: files its `//go:embed` needs but its zip lacks.
    placeholders: Mapping[str, str] | None = None
    # Files of the module its image ships besides the binaries (module path -> cached name).
    image_files: Mapping[str, str] | None = None

    @property
    def tag(self) -> str:
        """The stack's default image tag without its variant: `prom/prometheus:v3.14.0` ->
        `v3.14.0`, `oliver006/redis_exporter:v1.88.0-alpine` -> `v1.88.0`."""
        return DEFAULT_IMAGES[self.service].rpartition(":")[2].split("-", 1)[0]

    @property
    def release(self) -> str:
        """That tag as the release reports itself: `3.14.0`."""
        return self.tag.removeprefix("v")

    @property
    def version(self) -> str:
        """The module version of that release. Prometheus 3.x tags its Go module
        v0.<major*100+minor>.<patch> (v3.14.0 is v0.314.0); the others tag it as released."""
        if self.service is Service.PROMETHEUS:
            major, minor, patch = (int(part) for part in self.release.split("."))
            return f"v0.{major * 100 + minor}.{patch}"
        return f"v{self.release}"

    @property
    def pin(self) -> str:
        return f"{self.module}@{self.version}"

    def ldflags(self, revision: str, date: str) -> str:
        if self.service is Service.REDIS_EXPORTER:
            return (f"-s -w -extldflags -static -X main.BuildVersion=v{self.release} "
                    f"-X main.BuildCommitSha={revision} -X main.BuildDate={date}")
        return " ".join(f"-X {_PROMETHEUS_COMMON_VERSION}.{name}={value}" for name, value in (
            ("Version", self.release), ("Revision", revision), ("Branch", "HEAD"),
            ("BuildUser", "gatewayz-observability@make-tools"), ("BuildDate", date)))


RELEASES: Final[tuple[GoRelease, ...]] = (
    # Without `builtinassets` (its web UI assets are built by npm, not in the module zip), the
    # server serves no UI; its API, which is all the stack uses, is the same.
    GoRelease(Service.PROMETHEUS, "github.com/prometheus/prometheus",
              {"prometheus": "./cmd/prometheus", "promtool": "./cmd/promtool"}, tags=("netgo",),
              image_files={"documentation/examples/prometheus.yml": "prometheus.yml",
                           "LICENSE": "LICENSE", "NOTICE": "NOTICE"}),
    # ui/web.go embeds ui/app/dist, which the module zip does not carry: a placeholder page
    # stands in for the UI; the API does not use it.
    GoRelease(Service.ALERTMANAGER, "github.com/prometheus/alertmanager",
              {"alertmanager": "./cmd/alertmanager", "amtool": "./cmd/amtool"}, tags=("netgo",),
              placeholders={"ui/app/dist/index.html":
                            "<!doctype html><title>Alertmanager</title>UI not built\n"},
              image_files={"examples/ha/alertmanager.yml": "alertmanager.yml",
                           "LICENSE": "LICENSE", "NOTICE": "NOTICE"}),
    GoRelease(Service.REDIS_EXPORTER, "github.com/oliver006/redis_exporter",
              {"redis_exporter": "."}, image_files={"LICENSE": "LICENSE"}),
)
RELEASE_OF_BINARY: Final[Mapping[str, GoRelease]] = {
    binary: release for release in RELEASES for binary in release.binaries}


def release_dir(release: GoRelease) -> Path:
    return cache_root() / "go" / release.pin.replace("/", "_")


def binary_path(name: str) -> Path | None:
    """The cached build of a binary of the pinned releases, or None before `make tools`."""
    return finished(release_dir(RELEASE_OF_BINARY[name]), name)


def built(name: str) -> Path:
    """The cached build of a binary of the pinned releases; BuildError before `make tools`."""
    return required(name, RELEASE_OF_BINARY[name].pin, binary_path(name))


def download(release: GoRelease) -> tuple[Path, str, str]:
    """Fetch the module through the Go module proxy: its directory, commit and release time."""
    info = download_module(release.pin)
    released = json.loads(Path(info["Info"]).read_text()).get("Time", "unknown")
    revision = info.get("Origin", {}).get("Hash", "unknown")
    return Path(info["Dir"]), revision, released


def build(release: GoRelease) -> Path:
    """Build every binary of `release` into its cache directory (replaced whole)."""
    source, revision, released = download(release)
    target = release_dir(release)
    with tempfile.TemporaryDirectory(prefix="gatewayz-build-") as scratch:
        work = Path(scratch) / "src"
        writable_copy(source, work)
        for relative, content in (release.placeholders or {}).items():
            (work / relative).parent.mkdir(parents=True, exist_ok=True)
            (work / relative).write_text(content)
        staged = Path(scratch) / "out"
        staged.mkdir()
        for name, package in release.binaries.items():
            args = ["build", "-trimpath", "-ldflags", release.ldflags(revision, released),
                    "-o", str(staged / name)]
            if release.tags:
                args += ["-tags", ",".join(release.tags)]
            result = go([*args, package], cwd=work)
            if result.returncode != 0:
                raise BuildError(f"{release.pin}: go build {package} failed: "
                                 f"{last_of(result.stderr)}")
        for relative, name in (release.image_files or {}).items():
            shutil.copyfile(source / relative, staged / name)
        install(staged, target, {
            "module": release.module, "version": release.version, "release": release.release,
            "revision": revision, "go": go(["env", "GOVERSION"]).stdout.strip(),
            "binaries": sorted(release.binaries)})
    return target


def describe(release: GoRelease) -> str:
    """`prometheus, promtool 3.14.0 (github.com/prometheus/prometheus@v0.314.0)`."""
    return f"{', '.join(release.binaries)} {release.release} ({release.pin})"


def ensure(releases: tuple[GoRelease, ...] = RELEASES, report: bool = True) -> None:
    """Build what is missing. With `report`, one line per release: already built (and where),
    or `building` as its build starts (a cold one takes minutes) and `built` with how long it
    took; then a summary."""
    build_missing(releases, root=cache_root(), title="pinned releases", report=report,
                  installed=binary_path, describe=describe, where=release_dir,
                  note=lambda _: "from the Go module proxy, then go build", build=build)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    return make_tools_main(ensure)


if __name__ == "__main__":
    sys.exit(main())

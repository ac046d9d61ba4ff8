"""The Kubernetes control plane the tests start on loopback: etcd, kube-apiserver and
kube-controller-manager, built from their Go modules.

`make tools` (`python -m toolchain.kubernetes`) builds each in a wrapper module that requires
the pinned module (a `go install module@version` is refused where its go.mod replaces modules
with folders of its repository), static with cgo off and with the version ldflags of the
project's own build, into a cache outside the repository keyed by module@version. The API
server stores, validates and deletes objects, the controllers finish a deletion (namespace
controller, garbage collector); kube-scheduler, kubelet and CoreDNS make the one node that runs
pods where the machine can (tests/support/kubernetes_node.py). No kube-proxy: the tests reach a
pod through the API server's pod proxy, and the pods each other by DNS (headless Services).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

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
)
from toolchain.cache import download as download_module

KUBERNETES_MODULE: Final = "k8s.io/kubernetes"
# k8s.io/component-base/version/base.go (and its client-go twin): what `--version` and the
# API server's /version report; unset, a build reports v0.0.0-master. hack/lib/version.sh sets
# both packages' variables.
_KUBE_VERSION_PACKAGES: Final = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
# go.etcd.io/etcd/api/v3/version/version.go: the commit `etcd --version` reports (its Version
# is a constant of the module).
_ETCD_GIT_SHA: Final = "go.etcd.io/etcd/api/v3/version.GitSHA"
COREDNS_MODULE: Final = "github.com/coredns/coredns"
# coredns/coredns v1.15.0 `Makefile` (LDFLAGS) and `coremain/version.go`.
_COREDNS_GIT_COMMIT: Final = f"{COREDNS_MODULE}/coremain.GitCommit"
# coredns/coredns v1.15.0 `coredns.go` imports `core/plugin`, every plugin of its `plugin.cfg`
# (cloud DNS providers' SDKs among them); a test cluster's DNS needs these: a Corefile's
# directives must each be registered by an import (`coremain` keeps their order).
_COREDNS_MAIN: Final = f"""\
// CoreDNS with the plugins a test cluster's DNS uses (tests/support/kubernetes_node.py).
package main

import (
	_ "{COREDNS_MODULE}/core/dnsserver"
	"{COREDNS_MODULE}/coremain"
	_ "{COREDNS_MODULE}/plugin/bind"
	_ "{COREDNS_MODULE}/plugin/errors"
	_ "{COREDNS_MODULE}/plugin/kubernetes"
	_ "{COREDNS_MODULE}/plugin/ready"
)

func main() {{ coremain.Run() }}
"""


@dataclass(frozen=True)
class ControlPlaneBuild:
    """One Go module of the control plane and the binaries built from it."""

    # The wrapper module's name: `gatewayz.local/<name>`.
    name: str
    module: str
    version: str
    # Binary name -> its main package.
    binaries: Mapping[str, str]
    # k8s.io/kubernetes' go.mod replaces each of its `k8s.io/*` staging modules with its own
    # folder (`./staging/src/k8s.io/api`); a wrapper module takes each at this version instead,
    # the one its release publishes them at.
    staging_version: str | None = None
    # For the line a cold build starts with (2 cores).
    cold: str = ""
    # The wrapper module's own main package (its `main.go`), where the module's main would
    # compile in far more than the tests use; the binary's package is then the wrapper's.
    main: str = ""

    @property
    def pin(self) -> str:
        return f"{self.module}@{self.version}"

    @property
    def release(self) -> str:
        """`v1.37.2` as the binary reports it: `1.37.2`."""
        return self.version.removeprefix("v")

    def ldflags(self, revision: str, released: str) -> str:
        if self.module == KUBERNETES_MODULE:
            major, minor, _ = self.release.split(".")
            values = {"gitVersion": self.version, "gitMajor": major, "gitMinor": minor,
                      "gitCommit": revision, "gitTreeState": "clean", "buildDate": released}
            return " ".join(f"-X {package}.{name}={value}" for package in _KUBE_VERSION_PACKAGES
                            for name, value in values.items())
        if self.module == COREDNS_MODULE:
            return f"-X {_COREDNS_GIT_COMMIT}={revision[:12]}"
        return f"-X {_ETCD_GIT_SHA}={revision[:12]}"


ETCD: Final = ControlPlaneBuild("etcd", "go.etcd.io/etcd/server/v3", "v3.7.3",
                                {"etcd": "go.etcd.io/etcd/server/v3"}, cold="about 1.5 min cold")
KUBERNETES: Final = ControlPlaneBuild(
    "kubernetes", KUBERNETES_MODULE, "v1.37.2",
    {"kube-apiserver": f"{KUBERNETES_MODULE}/cmd/kube-apiserver",
     "kube-controller-manager": f"{KUBERNETES_MODULE}/cmd/kube-controller-manager",
     "kube-scheduler": f"{KUBERNETES_MODULE}/cmd/kube-scheduler",
     "kubelet": f"{KUBERNETES_MODULE}/cmd/kubelet"},
    staging_version="v0.37.2", cold="about 9 min cold")
COREDNS: Final = ControlPlaneBuild("coredns", COREDNS_MODULE, "v1.15.0",
                                   {"coredns": "gatewayz.local/coredns"}, main=_COREDNS_MAIN,
                                   cold="about 3 min cold")
BUILDS: Final[tuple[ControlPlaneBuild, ...]] = (ETCD, KUBERNETES, COREDNS)
BUILD_OF_BINARY: Final[Mapping[str, ControlPlaneBuild]] = {
    binary: build for build in BUILDS for binary in build.binaries}


def kubernetes_root() -> Path:
    return cache_root() / "kubernetes"


def build_dir(build: ControlPlaneBuild) -> Path:
    return kubernetes_root() / build.pin.replace("/", "_")


def binary_path(name: str) -> Path | None:
    """The cached build of a control-plane binary, or None before `make tools`."""
    return finished(build_dir(BUILD_OF_BINARY[name]), name)


def built(name: str) -> Path:
    """The cached build of a control-plane binary; BuildError before `make tools`."""
    return required(name, BUILD_OF_BINARY[name].pin, binary_path(name))


def _go(args: list[str], what: str, cwd: Path) -> None:
    result = go(args, cwd)
    if result.returncode != 0:
        raise BuildError(f"{what}: go {' '.join(args[:2])} failed: "
                         f"{last_of(result.stderr.strip() or result.stdout)}")


def staging_replaces(piece: ControlPlaneBuild, gomod: str) -> list[str]:
    """`-replace=path=path@version` for each module the pinned go.mod (`go mod edit -json`)
    replaces with one of its folders."""
    if piece.staging_version is None:
        return []
    replaces = json.loads(gomod).get("Replace") or []
    return [f"-replace={old}={old}@{piece.staging_version}"
            for old, new in ((r["Old"]["Path"], r["New"]) for r in replaces)
            if "Version" not in new and new["Path"].startswith("./")]


def build(piece: ControlPlaneBuild) -> Path:
    """Build every binary of `piece` into its cache directory (replaced whole)."""
    info = download_module(piece.pin)
    revision = info.get("Origin", {}).get("Hash", "unknown")
    released = json.loads(Path(info["Info"]).read_text()).get("Time", "unknown")
    target = build_dir(piece)
    with tempfile.TemporaryDirectory(prefix="gatewayz-kubernetes-") as scratch:
        work = Path(scratch) / "wrapper"
        work.mkdir()
        (work / "go.mod").write_text(f"module gatewayz.local/{piece.name}\n\ngo 1.26\n")
        if piece.main:
            (work / "main.go").write_text(piece.main)
        else:
            # `go mod tidy` keeps a requirement only for a package something imports.
            imports = "".join(f'\t_ "{package}"\n' for package in piece.binaries.values())
            (work / "tools.go").write_text(
                f"//go:build tools\n\npackage tools\n\nimport (\n{imports})\n")
        gomod = go(["mod", "edit", "-json", info["GoMod"]]).stdout
        _go(["mod", "edit", f"-require={piece.pin}", *staging_replaces(piece, gomod)],
            piece.pin, work)
        _go(["mod", "tidy"], piece.pin, work)
        staged = Path(scratch) / "out"
        staged.mkdir()
        for binary, package in piece.binaries.items():
            _go(["build", "-trimpath", "-ldflags", piece.ldflags(revision, released),
                 "-o", str(staged / binary), package], piece.pin, work)
        install(staged, target, {
            "module": piece.module, "version": piece.version, "revision": revision,
            "staging_version": piece.staging_version,
            "go": go(["env", "GOVERSION"]).stdout.strip(), "binaries": sorted(piece.binaries)})
    return target


def describe(piece: ControlPlaneBuild) -> str:
    """`kube-apiserver, kube-controller-manager 1.37.2 (k8s.io/kubernetes@v1.37.2)`."""
    return f"{', '.join(piece.binaries)} {piece.release} ({piece.pin})"


def ensure(builds: tuple[ControlPlaneBuild, ...] = BUILDS, report: bool = True) -> None:
    """Build what is missing, with the same lines as the releases' (toolchain/releases.py)."""
    build_missing(builds, root=kubernetes_root(), title="Kubernetes control plane",
                  report=report, installed=binary_path, describe=describe, where=build_dir,
                  note=lambda one: f"from the Go module proxy, then go build; {one.cold}",
                  build=build)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    return make_tools_main(ensure)


if __name__ == "__main__":
    sys.exit(main())

"""`make tools`' Kubernetes control plane (toolchain/kubernetes.py): the wrapper module takes
each staging module k8s.io/kubernetes' go.mod points at a folder at the release's own version,
the binaries carry the version flags, a warm cache builds nothing, and a binary not built says
to run `make tools`. The built binaries themselves: tests/kubernetes/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.tools import require_tool
from toolchain import kubernetes
from toolchain.cache import BuildError, download


def test_every_staging_module_is_taken_at_the_releases_version() -> None:
    require_tool("go")
    info = download(kubernetes.KUBERNETES.pin)
    gomod = subprocess.run(["go", "mod", "edit", "-json", info["GoMod"]], capture_output=True,
                           text=True, timeout=120, check=True).stdout
    folders = {replace["Old"]["Path"] for replace in json.loads(gomod)["Replace"]
               if replace["New"]["Path"].startswith("./staging/")}
    replaces = kubernetes.staging_replaces(kubernetes.KUBERNETES, gomod)
    assert len(folders) == len(replaces) == 33
    assert "-replace=k8s.io/api=k8s.io/api@v0.37.2" in replaces
    assert {line.removeprefix("-replace=").partition("=")[0] for line in replaces} == folders
    # etcd's folder replaces are its repository's; a module requiring it takes them as required.
    assert kubernetes.staging_replaces(kubernetes.ETCD, gomod) == []


def test_the_kubernetes_binaries_carry_the_version_flags_of_its_own_build() -> None:
    flags = kubernetes.KUBERNETES.ldflags("f47bc2d6f1996444", "2026-11-12T10:00:00Z").split()
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"{package}.gitVersion=v1.37.2" in flags
        assert f"{package}.gitMajor=1" in flags
        assert f"{package}.gitMinor=37" in flags
        assert f"{package}.gitCommit=f47bc2d6f1996444" in flags
    assert kubernetes.ETCD.ldflags("0123456789abcdef", "") == (
        "-X go.etcd.io/etcd/api/v3/version.GitSHA=0123456789ab")
    assert kubernetes.COREDNS.ldflags("0123456789abcdef", "") == (
        "-X github.com/coredns/coredns/coremain.GitCommit=0123456789ab")


def test_before_make_tools_a_binary_says_to_run_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATEWAYZ_CACHE", str(tmp_path))
    with pytest.raises(BuildError, match=r"kube-apiserver of k8s.io/kubernetes@v1.37.2 is not "
                                         r"built: run `make tools`"):
        kubernetes.built("kube-apiserver")


def test_a_warm_cache_builds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    for name in kubernetes.BUILD_OF_BINARY:
        require_tool(name)
    kubernetes.ensure()
    out = capsys.readouterr().out.splitlines()
    count = len(kubernetes.BUILDS)
    assert [line.split(": ", 1)[0] for line in out[:-1]] == [
        f"[{index}/{count}] already built" for index in range(1, count + 1)], out
    assert out[-1].startswith(f"Kubernetes control plane: nothing built, {count} already there")

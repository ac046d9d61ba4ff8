"""The Pulumi engine the engine tier runs: taken from this machine, or built offline.

The CLI, the Python language host, the Docker provider and the Kubernetes provider, from what
the machine has or else built from the Go module proxy and the vendored sources.

`make tools` (`python -m toolchain.pulumi_engine`) takes `pulumi` v3.276.0 from PATH (with the
language host its release ships beside it) and the docker and kubernetes plugins the SDKs ask
for from ~/.pulumi/plugins when they are there; whatever is missing it builds, into a cache
outside the repository keyed by name@version (the docker provider's also by a hash of our
patches), and links all five executables into one directory for PATH (`bin_dir()`). The
sources that are not Go modules come from `GATEWAYZ_VENDOR_DIR` (default `../shared/vendor`
beside the repository), checked against their sha256 first; the program and the tests never
read that setting.

The Grafana and random providers are not built (see NOT_BUILT).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from toolchain.cache import (
    BuildError,
    Progress,
    cache_root,
    go,
    install,
    last_of,
    locked,
    make_tools_main,
    reported_version,
    stamp,
    writable_copy,
)
from toolchain.cache import download as download_module

ROOT: Final = Path(__file__).resolve().parent.parent
VENDOR_SETTING: Final = "GATEWAYZ_VENDOR_DIR"
DEFAULT_VENDOR: Final = Path("..") / "shared" / "vendor"
# Ours, applied over the pulumi-docker tree once its own patches are in upstream/ (each says
# what and why in its header).
PATCHES: Final = ROOT / "toolchain" / "patches"

CLI_VERSION: Final = "v3.276.0"
PULUMI_PKG: Final = "github.com/pulumi/pulumi/pkg/v3"
PULUMI_SDK: Final = "github.com/pulumi/pulumi/sdk/v3"
# pulumi/pulumi sdk/go/common/version/version.go: the version every Pulumi binary reports.
PULUMI_VERSION_FLAG: Final = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"
DOCKER_VERSION: Final = "5.1.0"
# pulumi/pulumi-docker provider/pkg/version/version.go.
DOCKER_VERSION_FLAG: Final = "github.com/pulumi/pulumi-docker/provider/v5/pkg/version.Version"
# pulumi/pulumi-kubernetes tags its releases `v4.x.y` at the repository's root, not at the
# provider/v4 module, so the module proxy serves the v4.25.0 tag (commit f47bc2d6f199) as this
# pseudo-version. The Python SDK of the same release is the one requirements.txt pins.
KUBERNETES_VERSION: Final = "4.25.0"
KUBERNETES_MODULE: Final = "github.com/pulumi/pulumi-kubernetes/provider/v4"
KUBERNETES_PSEUDO_VERSION: Final = "v4.0.0-20260115033456-f47bc2d6f199"
# Its go.mod replaces the Go SDK with the repository's `../sdk`, which a module zip cannot
# serve; this is the version that go.mod requires, which the proxy serves.
KUBERNETES_GO_SDK: Final = "github.com/pulumi/pulumi-kubernetes/sdk/v4@v4.24.0"
# pulumi/pulumi-kubernetes provider/pkg/version/version.go.
KUBERNETES_VERSION_FLAG: Final = f"{KUBERNETES_MODULE}/pkg/version.Version"

CLI: Final = "pulumi"
LANGUAGE_HOST: Final = "pulumi-language-python"
# The script the language host runs the program with; pulumi/pulumi keeps it in the sdk/v3
# module at python/cmd/pulumi-language-python-exec (the CLI's release archive ships it).
LANGUAGE_EXEC: Final = "pulumi-language-python-exec"
DOCKER: Final = "pulumi-resource-docker"
KUBERNETES: Final = "pulumi-resource-kubernetes"
EXECUTABLES: Final = (CLI, LANGUAGE_HOST, LANGUAGE_EXEC, DOCKER, KUBERNETES)

# What the program also needs and this machine cannot build; said by `make tools` and docs/.
NOT_BUILT: Final[Mapping[str, str]] = {
    "pulumi-resource-grafana": "pulumiverse/pulumi-grafana's dependencies include the AGPL "
                               "github.com/grafana/grafana/apps/* modules, refused by the Go "
                               "module proxy",
    "pulumi-resource-random": "github.com/pulumi/pulumi-random/provider/v4 is refused by the Go "
                              "module proxy (\"This module version is not available\") and its "
                              "sources are not vendored",
}


@dataclass(frozen=True)
class Archive:
    """One `git archive` of an upstream repository in the vendor directory (its README)."""

    name: str
    sha256: str
    upstream: str


LANGUAGE_HOST_SOURCE: Final = Archive(
    "pulumi-language-python-1b594989.tar.gz",
    "2f6e2d2605cd004bc43ab2d5c0fd3248047428f9e188c76634699e2e105278e0",
    "github.com/pulumi/pulumi sdk/python/cmd/pulumi-language-python at 1b5949891b3c")
PULUMI_DOCKER_SOURCE: Final = Archive(
    "pulumi-docker-v5.1.0.tar.gz",
    "8bcb7ebdc40d7f9f00351f424ba9400f8cd2ccf37834faf8bb1b22e202d12e07",
    "github.com/pulumi/pulumi-docker v5.1.0")
TERRAFORM_DOCKER_SOURCE: Final = Archive(
    "terraform-provider-docker-5074970c.tar.gz",
    "bc03e53e4b3a48f943c993906c360ed68160a010c5287490aaaf7a5779a59ab6",
    "github.com/kreuzwerker/terraform-provider-docker at 5074970c71ce (v4.5.0)")


@dataclass(frozen=True)
class Tool:
    """One build: what it is, the version it reports, and the executables it leaves."""

    name: str
    version: str
    source: str
    executables: tuple[str, ...]
    # For the line a cold build starts with (2 cores): `make tools` is silent for minutes.
    cold: str

    @property
    def key(self) -> str:
        if self.name == DOCKER:
            return f"{self.name}@{self.version}-{patch_hash()}"
        return f"{self.name}@{self.version}"


CLI_TOOL: Final = Tool(CLI, CLI_VERSION, f"{PULUMI_PKG}@{CLI_VERSION}", (CLI,), "about 4 min cold")
LANGUAGE_TOOL: Final = Tool(LANGUAGE_HOST, CLI_VERSION, LANGUAGE_HOST_SOURCE.upstream,
                            (LANGUAGE_HOST, LANGUAGE_EXEC), "seconds once the CLI is built")
DOCKER_TOOL: Final = Tool(DOCKER, DOCKER_VERSION, PULUMI_DOCKER_SOURCE.upstream, (DOCKER,),
                          "about 3 min cold")
KUBERNETES_TOOL: Final = Tool(KUBERNETES, KUBERNETES_VERSION,
                              f"{KUBERNETES_MODULE}@{KUBERNETES_PSEUDO_VERSION}", (KUBERNETES,),
                              "about 8 min cold")


def engine_root() -> Path:
    return cache_root() / "engine"


def tool_dir(tool: Tool) -> Path:
    return engine_root() / tool.key


def patches() -> list[Path]:
    return sorted(PATCHES.glob("*.patch"))


def patch_hash() -> str:
    """12 hex digits over our patches' names and contents: a changed patch is a new build."""
    digest = hashlib.sha256()
    for patch in patches():
        digest.update(patch.name.encode() + b"\0" + patch.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def vendor_dir() -> Path:
    """`$GATEWAYZ_VENDOR_DIR` (relative to the repository), else `../shared/vendor`."""
    return ROOT / os.environ.get(VENDOR_SETTING, str(DEFAULT_VENDOR))


def verified(archive: Archive, vendor: Path) -> Path:
    """The archive's path once its sha256 is the pinned one; BuildError saying what to do."""
    path = vendor / archive.name
    fix = (f"put the `git archive` of {archive.upstream} there, or point {VENDOR_SETTING} "
           "(make GATEWAYZ_VENDOR_DIR=...) at the directory that holds it")
    if not path.is_file():
        raise BuildError(f"{archive.name} is missing from {vendor} ({VENDOR_SETTING}): {fix}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != archive.sha256:
        raise BuildError(f"{path} ({VENDOR_SETTING}) has sha256 {digest}, not the pinned "
                         f"{archive.sha256}: {fix}")
    return path


def unpack(archive: Path, into: Path) -> None:
    """Extract a `git archive` tarball without its one top folder (`tar --strip-components=1`)."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            _, _, rest = member.name.partition("/")
            if rest:
                member.name = rest
                members.append(member)
        tar.extractall(into, members=members, filter="data")


def _go(args: list[str], what: str, cwd: Path | None = None,
        env: Mapping[str, str] | None = None) -> str:
    result = go(args, cwd, env)
    if result.returncode != 0:
        output = last_of(result.stderr.strip() or result.stdout)
        raise BuildError(f"{what}: go {' '.join(args[:2])} failed: {output}")
    return result.stdout


def _ldflags(flag: str, version: str) -> list[str]:
    return ["-trimpath", "-ldflags", f"-X {flag}={version}"]


def _go_mod_replaces(pin: str) -> list[str]:
    """`old=new@version` of every replace in a module's go.mod that points at a module (not a
    folder of the upstream repository, which a module zip cannot serve)."""
    gomod = json.loads(_go(["mod", "edit", "-json", download_module(pin)["GoMod"]], pin))
    replaces = []
    for replace in gomod.get("Replace") or []:
        new = replace["New"]
        if "Version" in new:
            replaces.append(f"{replace['Old']['Path']}={new['Path']}@{new['Version']}")
    return replaces


def build_cli(staged: Path, scratch: Path, vendor: Path) -> None:
    """The CLI from a wrapper module: pkg/v3's own go.mod replaces sdk/v3 with `../sdk`, so
    `go install pkg@version` is refused; the wrapper requires both at the release and copies
    pkg's module replaces (github.com/atotto/clipboard)."""
    del vendor
    what = f"{CLI} {CLI_VERSION}"
    work = scratch / "cli"
    work.mkdir()
    (work / "go.mod").write_text("module gatewayz.local/pulumi-engine\n\ngo 1.26\n")
    # `go mod tidy` keeps a requirement only for a package something imports.
    (work / "tools.go").write_text(
        f'//go:build tools\n\npackage tools\n\nimport _ "{PULUMI_PKG}/cmd/pulumi"\n')
    edits = [f"-require={PULUMI_PKG}@{CLI_VERSION}", f"-require={PULUMI_SDK}@{CLI_VERSION}"]
    edits += [f"-replace={replace}" for replace in _go_mod_replaces(f"{PULUMI_PKG}@{CLI_VERSION}")]
    _go(["mod", "edit", *edits], what, work)
    _go(["mod", "tidy"], what, work)
    _go(["build", *_ldflags(PULUMI_VERSION_FLAG, CLI_VERSION), "-o", str(staged / CLI),
         f"{PULUMI_PKG}/cmd/pulumi"], what, work)


def build_language_host(staged: Path, scratch: Path, vendor: Path) -> None:
    """The Python language host at pulumi/pulumi 1b5949891b3c with the CLI's pkg and sdk
    modules instead of its repository's folders; its exec script from the sdk/v3 module."""
    what = f"{LANGUAGE_HOST} ({LANGUAGE_HOST_SOURCE.name})"
    unpack(verified(LANGUAGE_HOST_SOURCE, vendor), scratch / "pulumi")
    work = scratch / "pulumi" / "sdk" / "python" / "cmd" / LANGUAGE_HOST
    _go(["mod", "edit", f"-dropreplace={PULUMI_PKG}", f"-dropreplace={PULUMI_SDK}",
         f"-require={PULUMI_PKG}@{CLI_VERSION}", f"-require={PULUMI_SDK}@{CLI_VERSION}"],
        what, work)
    _go(["mod", "tidy"], what, work)
    _go(["build", *_ldflags(PULUMI_VERSION_FLAG, CLI_VERSION), "-o", str(staged / LANGUAGE_HOST),
         "."], what, work)
    sdk = Path(download_module(f"{PULUMI_SDK}@{CLI_VERSION}")["Dir"])
    shutil.copyfile(sdk / "python" / "cmd" / LANGUAGE_EXEC, staged / LANGUAGE_EXEC)
    (staged / LANGUAGE_EXEC).chmod(0o755)


def _git_apply(patch: Path, tree: Path) -> None:
    # Outside any repository `git apply` patches the folder it runs in; the ceiling keeps it
    # from finding a repository above (a scratch directory inside a checkout) and patching
    # that instead.
    git = shutil.which("git")
    if git is None:
        raise BuildError(f"git is not installed (Debian: apt-get install git); `make tools` "
                         f"applies {patch.name} with it")
    result = subprocess.run([git, "apply", str(patch)], cwd=tree, capture_output=True,
                            text=True, check=False,
                            env={**os.environ, "GIT_CEILING_DIRECTORIES": str(tree.parent)})
    if result.returncode != 0:
        raise BuildError(f"{patch.name} does not apply to {tree.name}/: {result.stderr.strip()}")


def build_docker(staged: Path, scratch: Path, vendor: Path) -> None:
    """pulumi-docker's provider the way its Makefile builds it: its `upstream` submodule
    unpacked into upstream/ and its patches/ applied there; then ours, over the tree (upstream/
    and the schema.json `go generate` embeds); the binary without compose (`no_compose`)."""
    what = f"{DOCKER} {DOCKER_VERSION}"
    tree = scratch / "pulumi-docker"
    unpack(verified(PULUMI_DOCKER_SOURCE, vendor), tree)
    unpack(verified(TERRAFORM_DOCKER_SOURCE, vendor), tree / "upstream")
    for patch in sorted((tree / "patches").glob("*.patch")):
        _git_apply(patch, tree / "upstream")
    for patch in patches():
        _git_apply(patch, tree)
    provider = tree / "provider"
    _go(["generate", "."], what, provider / "cmd" / DOCKER, {"VERSION": DOCKER_VERSION})
    _go(["build", *_ldflags(DOCKER_VERSION_FLAG, DOCKER_VERSION), "-tags", "no_compose",
         "-o", str(staged / DOCKER), f"./cmd/{DOCKER}"], what, provider)


def build_kubernetes(staged: Path, scratch: Path, vendor: Path) -> None:
    """pulumi-kubernetes' provider the way its Makefile builds it, from the module zip: the Go
    SDK from the proxy instead of `../sdk`; `VERSION=... go generate` writes the schema (and
    the terraform mapping) with that version for `//go:embed`."""
    del vendor
    what = f"{KUBERNETES} {KUBERNETES_VERSION}"
    tree = scratch / "pulumi-kubernetes"
    writable_copy(Path(download_module(KUBERNETES_TOOL.source)["Dir"]), tree)
    sdk = KUBERNETES_GO_SDK.partition("@")[0]
    _go(["mod", "edit", f"-dropreplace={sdk}", f"-require={KUBERNETES_GO_SDK}"], what, tree)
    _go(["mod", "tidy"], what, tree)
    _go(["generate", "."], what, tree / "cmd" / KUBERNETES, {"VERSION": KUBERNETES_VERSION})
    _go(["build", *_ldflags(KUBERNETES_VERSION_FLAG, KUBERNETES_VERSION), "-o",
         str(staged / KUBERNETES), f"./cmd/{KUBERNETES}"], what, tree)


Builder = Callable[[Path, Path, Path], None]
BUILDERS: Final[Mapping[str, Builder]] = {
    CLI: build_cli, LANGUAGE_HOST: build_language_host, DOCKER: build_docker,
    KUBERNETES: build_kubernetes}


def _built(tool: Tool) -> dict[str, Path] | None:
    directory = tool_dir(tool)
    paths = {name: directory / name for name in tool.executables}
    if stamp(directory) is None or not all(path.is_file() for path in paths.values()):
        return None
    return paths


def build(tool: Tool, vendor: Path) -> dict[str, Path]:
    """Build `tool` into its cache directory (replaced whole); its executables' paths."""
    with tempfile.TemporaryDirectory(prefix="gatewayz-engine-") as scratch_name:
        scratch = Path(scratch_name)
        staged = scratch / "out"
        staged.mkdir()
        BUILDERS[tool.name](staged, scratch, vendor)
        install(staged, tool_dir(tool), {
            "name": tool.name, "version": tool.version, "source": tool.source,
            "patches": [patch.name for patch in patches()] if tool.name == DOCKER else [],
            "go": go(["env", "GOVERSION"]).stdout.strip()})
    built = _built(tool)
    assert built is not None, tool
    return built


def found_cli() -> dict[str, Path] | None:
    """`pulumi` on PATH at CLI_VERSION and the language host its release ships beside it; our
    own bin_dir() on PATH does not count."""
    on_path = shutil.which(CLI)
    if on_path is None:
        return None
    cli = Path(on_path).resolve()
    if cli.is_relative_to(engine_root().resolve()) or reported_version(
            cli, {"PULUMI_SKIP_UPDATE_CHECK": "true"}) != CLI_VERSION:
        return None
    found = {CLI: cli}
    for name in (LANGUAGE_HOST, LANGUAGE_EXEC):
        if (cli.parent / name).is_file():
            found[name] = cli.parent / name
    return found


# Each provider plugin's Python SDK, whose version is the plugin version it asks the CLI for.
SDK_PACKAGES: Final[Mapping[str, str]] = {DOCKER: "pulumi-docker", KUBERNETES: "pulumi-kubernetes"}
PROVIDER_TOOLS: Final[Mapping[str, Tool]] = {DOCKER: DOCKER_TOOL, KUBERNETES: KUBERNETES_TOOL}


def sdk_version(plugin: str) -> str:
    """The version of `plugin` the pinned SDK asks the CLI for (its package's version)."""
    return importlib.metadata.version(SDK_PACKAGES[plugin])


def sdk_docker_version() -> str:
    """The docker plugin version the pinned SDK asks the CLI for (pulumi-docker's package)."""
    return sdk_version(DOCKER)


def found_plugin(plugin: str) -> Path | None:
    """The provider plugin at its SDK's own version, installed (`pulumi plugin ls`) under
    `$PULUMI_HOME/plugins`: that one has what the SDK has (for docker, uploads' owner)."""
    home = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")
    kind = plugin.removeprefix("pulumi-resource-")
    directory = home / "plugins" / f"resource-{kind}-v{sdk_version(plugin)}"
    binary = directory / plugin
    # The CLI marks an install in progress with a `.partial` file beside the directory.
    partial = directory.with_name(directory.name + ".partial")
    return binary if binary.is_file() and not partial.exists() else None


def bin_dir() -> Path:
    """The directory to put on PATH for the engine tier: `pulumi`, the Python language host
    and its exec script, `pulumi-resource-docker` and `pulumi-resource-kubernetes`.
    BuildError before `make tools`."""
    directory = engine_root() / "bin"
    if stamp(directory) is None:
        raise BuildError("the Pulumi engine is not built: run `make tools`")
    for name in EXECUTABLES:
        if not os.access(directory / name, os.X_OK):
            raise BuildError(f"{directory / name} is missing or not executable: run "
                             "`make tools`")
    return directory


def manifest() -> dict[str, Any]:
    """What bin_dir() links, per executable: version, where it came from, its path."""
    facts = stamp(bin_dir())
    assert facts is not None
    return facts


def _link(tools: Mapping[str, tuple[Path, str, str]]) -> Path:
    """Link each executable into bin/ (replaced whole) and record where it came from."""
    root = engine_root()
    with tempfile.TemporaryDirectory(prefix="bin-", dir=root) as scratch:
        staged = Path(scratch) / "bin"
        staged.mkdir()
        for name, (path, _, _) in tools.items():
            (staged / name).symlink_to(path)
        install(staged, root / "bin", {
            name: {"path": str(path), "version": version, "origin": origin}
            for name, (path, version, origin) in tools.items()})
    return root / "bin"


def ensure(vendor: Path | None = None, report: bool = True) -> Path:
    """Find or build each piece, link them into bin_dir() and return it. With `report`, one
    line per piece: found on the machine, already built (and where), or `building` as its build
    starts and `built` with how long it took; then what is not built, and a summary."""
    progress = Progress(2 + len(PROVIDER_TOOLS), report=report)
    chosen: dict[str, tuple[Path, str, str]] = {}

    def obtain(tool: Tool) -> None:
        paths = _built(tool)
        what = f"{tool.name} {tool.version}"
        if paths is None:
            with progress.building(what, f"{tool.source}; {tool.cold}") as went:
                paths = build(tool, vendor if vendor is not None else vendor_dir())
                went(tool_dir(tool))
        else:
            progress.cached(what, tool_dir(tool))
        for name, path in paths.items():
            origin = (f"copied from {PULUMI_SDK}@{CLI_VERSION} python/cmd/{name}"
                      if name == LANGUAGE_EXEC else f"built from {tool.source}")
            chosen[name] = (path, tool.version, origin)

    with locked(engine_root(), progress.say):
        cli = found_cli() or {}
        for name, path in cli.items():
            chosen[name] = (path, CLI_VERSION, "found on PATH")
        if CLI in cli:
            progress.found(f"{CLI} {CLI_VERSION} on PATH", cli[CLI])
        else:
            obtain(CLI_TOOL)
        if LANGUAGE_HOST in cli and LANGUAGE_EXEC in cli:
            progress.found(f"{LANGUAGE_HOST} {CLI_VERSION} and {LANGUAGE_EXEC} beside the CLI",
                           cli[LANGUAGE_HOST].parent)
        else:
            obtain(LANGUAGE_TOOL)
        for plugin, tool in PROVIDER_TOOLS.items():
            installed = found_plugin(plugin)
            if installed is not None:
                chosen[plugin] = (installed, sdk_version(plugin), "found installed")
                progress.found(f"{plugin} {sdk_version(plugin)} installed", installed)
            else:
                obtain(tool)
        directory = _link({name: chosen[name] for name in EXECUTABLES})
    for name, why in NOT_BUILT.items():
        progress.say(f"not built: {name}: {why}")
    progress.say(progress.summary("Pulumi engine"))
    progress.say(f"engine PATH={directory}")
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    return make_tools_main(ensure)


if __name__ == "__main__":
    sys.exit(main())

"""The parsers the tests run under node, from npm: Mermaid's own (tests/test_mermaid.py: GitHub
draws a ```mermaid block with Mermaid, and one it cannot parse shows as an error box where the
picture should be), and Grafana's LogQL grammar (tests/test_runbooks.py: no Loki runs here).

`make tools` (`python -m toolchain.node_packages`) installs the npm packages pinned in
toolchain/node/package-lock.json (mermaid, jsdom for the DOM mermaid's sanitizer needs,
@grafana/lezer-logql) with `npm ci` into the cache outside the repository, keyed by a hash of
the lock, and checks that the installed mermaid is the pinned one. A no-op once installed. The
scripts that run the parsers (toolchain/node/*.mjs) stay in the repository and load the packages
from the cache. mermaid-cli is not used: it draws through a headless browser, and none can be
had here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from toolchain.cache import (
    BuildError,
    Progress,
    cache_root,
    install,
    last_of,
    locked,
    make_tools_main,
    stamp,
)

SOURCE: Final = Path(__file__).parent / "node"
MERMAID_SCRIPT: Final = "mermaid_parse.mjs"
LOGQL_SCRIPT: Final = "logql_parse.mjs"
FILES: Final = ("package.json", "package-lock.json")
LOCK: Final = "toolchain/node/package-lock.json"
# marked 16, a dependency of mermaid 11.17, declares `"node": ">= 20"` (its package.json).
MIN_NODE_MAJOR: Final = 20
INSTALL_TIMEOUT_SECONDS: Final = 600
PARSE_TIMEOUT_SECONDS: Final = 120


def pinned(package: str) -> str:
    """The version package.json pins for `package` (exact, and so the lock's)."""
    version: str = json.loads((SOURCE / "package.json").read_text())["dependencies"][package]
    return version


def install_dir() -> Path:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update((SOURCE / name).read_bytes())
    return cache_root() / "npm" / f"parsers-{digest.hexdigest()[:16]}"


def node() -> str:
    """The `node` on PATH, refused when older than the pinned packages need."""
    binary = shutil.which("node")
    if binary is None:
        raise BuildError(f"node is not installed (Node.js {MIN_NODE_MAJOR} or newer, with npm): "
                         "the Mermaid and LogQL checks run their parsers under it")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout.strip()
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major[1]) < MIN_NODE_MAJOR:
        raise BuildError(f"node {version or '(no version)'} at {binary} is too old: the pinned "
                         f"mermaid {pinned('mermaid')} needs Node.js {MIN_NODE_MAJOR} or newer")
    return binary


def installed() -> Path | None:
    """The directory of the installed packages, or None before `make tools`."""
    directory = install_dir()
    return directory if stamp(directory) is not None else None


def build() -> Path:
    """`npm ci` of the pinned packages into their cache directory (replaced whole)."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not installed (it comes with Node.js): `make tools` installs "
                         f"the packages of {LOCK} with it")
    node()
    target = install_dir()
    with tempfile.TemporaryDirectory(prefix="gatewayz-npm-") as scratch:
        staged = Path(scratch) / "out"
        staged.mkdir()
        for name in FILES:
            shutil.copyfile(SOURCE / name, staged / name)
        # --ignore-scripts: nothing the packages ship runs at install time.
        result = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                                cwd=staged, capture_output=True, text=True,
                                timeout=INSTALL_TIMEOUT_SECONDS, check=False)
        if result.returncode != 0:
            raise BuildError(f"npm ci of {LOCK} failed: "
                             f"{last_of(result.stderr or result.stdout)}")
        got = json.loads((staged / "node_modules" / "mermaid" / "package.json").read_text())
        if got["version"] != pinned("mermaid"):
            raise BuildError(f"npm ci installed mermaid {got['version']}, not the pinned "
                             f"{pinned('mermaid')}")
        install(staged, target, {"packages": json.loads(
            (SOURCE / "package.json").read_text())["dependencies"], "files": list(FILES)})
    return target


def describe() -> str:
    return (f"mermaid {pinned('mermaid')} and @grafana/lezer-logql "
            f"{pinned('@grafana/lezer-logql')} ({LOCK})")


def ensure(report: bool = True) -> None:
    """Install what is missing, with one line saying so or that it already was."""
    progress = Progress(1, report=report)
    with locked(cache_root() / "npm", progress.say):
        if installed() is not None:
            progress.cached(describe(), install_dir())
        else:
            with progress.building(describe(), "npm ci from the npm registry") as went:
                went(build())


def _errors(script: str, texts: Mapping[str, str]) -> dict[str, str]:
    """What `script` says of each text it cannot parse, by name; empty when all parse.
    BuildError when node or the installed packages are missing."""
    directory = installed()
    if directory is None:
        raise BuildError(f"{describe()} is not installed: run `make tools`")
    result = subprocess.run([node(), str(SOURCE / script), str(directory)],
                            input=json.dumps(dict(texts)),
                            capture_output=True, text=True, timeout=PARSE_TIMEOUT_SECONDS,
                            check=False)
    if result.returncode != 0:
        raise BuildError(f"{script} exited {result.returncode}: {last_of(result.stderr)}")
    errors: dict[str, str | None] = json.loads(result.stdout)
    return {name: error for name, error in errors.items() if error is not None}


def mermaid_errors(diagrams: Mapping[str, str]) -> dict[str, str]:
    """Mermaid's own message for each diagram it cannot parse, by name."""
    return _errors(MERMAID_SCRIPT, diagrams)


def logql_errors(queries: Mapping[str, str]) -> dict[str, str]:
    """Where Grafana's LogQL grammar fails on each query it cannot parse, by name."""
    return _errors(LOGQL_SCRIPT, queries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    return make_tools_main(ensure)


if __name__ == "__main__":
    sys.exit(main())

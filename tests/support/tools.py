"""Finding the real tools the tests run: the pinned releases' validators and servers that
`make tools` builds (promtool, amtool, alertmanager, ...), the Kubernetes control plane it
builds (etcd, kube-apiserver, kube-controller-manager), the Pulumi engine it finds or builds,
the parsers it installs from npm and runs under node, and redis-server from Debian.

A missing tool skips its tests on a workstation, but fails them in CI (CI=true): CI must never
go green because a validator was not built or installed.
"""

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

import pytest

from toolchain import kubernetes, pulumi_engine
from toolchain.cache import BuildError
from toolchain.releases import RELEASE_OF_BINARY, built


def require_tool(name: str) -> str:
    """Absolute path of `name`, or fail (CI) / skip (elsewhere) when it is not there."""
    if name in RELEASE_OF_BINARY or name in kubernetes.BUILD_OF_BINARY:
        try:
            return str(built(name) if name in RELEASE_OF_BINARY else kubernetes.built(name))
        except BuildError as error:
            message = str(error)
    else:
        path = shutil.which(name)
        if path is not None:
            return path
        message = f"{name} is not installed (Debian: see .ci/run for the package)"
    missing(message)


def missing(message: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_engine() -> Path:
    """The Pulumi engine's directory for PATH (`pulumi_engine.bin_dir()`), or fail (CI) / skip
    (elsewhere) before `make tools`."""
    try:
        return pulumi_engine.bin_dir()
    except BuildError as error:
        missing(str(error))


def node_parser_errors(parse: Callable[[Mapping[str, str]], dict[str, str]],
                       texts: Mapping[str, str]) -> dict[str, str]:
    """`parse(texts)`, a parser of toolchain.node_packages: what it cannot parse, by name; or
    fail (CI) / skip (elsewhere) without node or before `make tools`."""
    try:
        return parse(texts)
    except BuildError as error:
        missing(str(error))

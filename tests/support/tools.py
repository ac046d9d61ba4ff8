"""Finding the real tools the tests run: the pinned releases' validators and servers that
`make tools` builds (promtool, amtool, alertmanager, ...), and redis-server from Debian.

A missing tool skips its tests on a workstation, but fails them in CI (CI=true): CI must never
go green because a validator was not built or installed.
"""

import os
import shutil

import pytest

from review.releases import RELEASE_OF_BINARY, binary_path


def require_tool(name: str) -> str:
    """Absolute path of `name`, or fail (CI) / skip (elsewhere) when it is not there."""
    if name in RELEASE_OF_BINARY:
        built = binary_path(name)
        path = str(built) if built is not None else None
        message = (f"{name} of {RELEASE_OF_BINARY[name].pin} is not built: run `make tools`")
    else:
        path = shutil.which(name)
        message = f"{name} is not installed (Debian: see .ci/run for the package)"
    if path is not None:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)

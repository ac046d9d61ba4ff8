"""Finding the real validators (promtool, amtool, ...) the tests run.

A missing tool skips its tests on a workstation, but fails them in CI (CI=true): CI must never
go green because a validator was not installed.
"""

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """Absolute path of `name`, or fail (CI) / skip (elsewhere) when it is not installed."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (Debian: see .ci/run for the package)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)

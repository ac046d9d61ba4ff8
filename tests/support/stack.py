"""Reading a mocked program run the way a user would look at the deployed stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from review.mock_runtime import CONTAINER, ProgramRun, Registration

__all__ = ["CONTAINER", "containers", "files", "write_tree", "yaml_file"]


def containers(run: ProgramRun) -> dict[str, Registration]:
    return run.containers()


def files(container: Registration) -> dict[str, str]:
    return container.files()


def yaml_file(container: Registration, path: str) -> Any:
    return yaml.safe_load(container.files()[path])


def write_tree(container: Registration, root: Path) -> None:
    """Lay a container's uploaded files out under `root`, as if `root` were its filesystem."""
    for path, content in container.files().items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

"""Reading a mocked program run the way a user would look at the deployed stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tools.mock_runtime import ProgramRun, Registration

CONTAINER: str = "docker:index/container:Container"


def containers(run: ProgramRun) -> dict[str, Registration]:
    """Containers by their Docker name suffix (`prometheus`, `loki`, ... `redis-exporter`)."""
    found = {}
    for resource in run.of_type(CONTAINER):
        name = resource.plain_inputs()["name"]
        found[name.split("-", 2)[2]] = resource
    return found


def files(container: Registration) -> dict[str, str]:
    """The files a container gets uploaded: container path -> content."""
    return {upload["file"]: upload["content"]
            for upload in container.plain_inputs().get("uploads", [])}


def yaml_file(container: Registration, path: str) -> Any:
    return yaml.safe_load(files(container)[path])


def write_tree(container: Registration, root: Path) -> None:
    """Lay a container's uploaded files out under `root`, as if `root` were its filesystem."""
    for path, content in files(container).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

"""GatewayZ's Grafana dashboards as code: two folders by audience and eight dashboards, each
built from settings by its own module and serialised to stable JSON. Which a stack builds (seven
without Redis: a service's dashboard only where the stack runs it), and in what order, is
configs/mixins.py's table, which builds them (`dashboards()`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class FolderUid(StrEnum):
    SERVICE = "gatewayz-service"
    STACK = "observability-stack"


@dataclass(frozen=True)
class Folder:
    uid: FolderUid
    title: str


FOLDERS: Final[tuple[Folder, ...]] = (
    Folder(FolderUid.SERVICE, "GatewayZ service"),
    Folder(FolderUid.STACK, "Observability stack"),
)


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    folder: FolderUid
    model: Mapping[str, object]


__all__ = ["FOLDERS", "Dashboard", "Folder", "FolderUid"]

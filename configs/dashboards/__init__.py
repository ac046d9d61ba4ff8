"""GatewayZ's Grafana dashboards as code: two folders by audience and eight dashboards (seven
without Redis), each built from settings by its own module and serialised to stable JSON.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from configs.dashboards import (
    application_health,
    backend_metrics,
    fastapi,
    loki,
    model_health,
    prometheus,
    redis,
    tempo,
)
from settings import Settings


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


# Who reads what: the service folder is for whoever runs GatewayZ, the stack folder for whoever
# runs this monitoring stack. Order is the order Pulumi registers them in; keep it stable.
_BUILDERS: Final[tuple[tuple[Callable[[Settings], dict[str, object]], FolderUid], ...]] = (
    (application_health.build, FolderUid.SERVICE),
    (fastapi.build, FolderUid.SERVICE),
    (backend_metrics.build, FolderUid.SERVICE),
    (model_health.build, FolderUid.SERVICE),
    (redis.build, FolderUid.SERVICE),
    (prometheus.build, FolderUid.STACK),
    (loki.build, FolderUid.STACK),
    (tempo.build, FolderUid.STACK),
)


def dashboards(settings: Settings) -> tuple[Dashboard, ...]:
    """This stack's dashboards, in a stable order.

    The Redis dashboard only where a Redis is watched: without an exporter every panel would
    stay empty (the Redis rules are left out for the same reason, configs/rules/).
    """
    built = [(build(settings), folder) for build, folder in _BUILDERS
             if build is not redis.build or settings.redis is not None]
    return tuple(Dashboard(str(model["uid"]), str(model["title"]), folder, model)
                 for model, folder in built)


__all__ = ["FOLDERS", "Dashboard", "Folder", "FolderUid", "dashboards"]

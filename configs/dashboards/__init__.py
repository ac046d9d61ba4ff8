"""GatewayZ's Grafana dashboards as code: two folders by audience and eight dashboards (seven
without Redis: a service's dashboard only where the stack runs it), each built from settings by
its own module and serialised to stable JSON.
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
from services import Service
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


@dataclass(frozen=True)
class Builder:
    build: Callable[[Settings], dict[str, object]]
    folder: FolderUid
    # The service whose metrics every panel reads, built only where the stack runs it
    # (`Settings.services`): without it every panel would stay empty. None: the backend's.
    service: Service | None = None


# Who reads what: the service folder is for whoever runs GatewayZ, the stack folder for whoever
# runs this monitoring stack. Order is the order Pulumi registers them in; keep it stable.
BUILDERS: Final[tuple[Builder, ...]] = (
    Builder(application_health.build, FolderUid.SERVICE),
    Builder(fastapi.build, FolderUid.SERVICE),
    Builder(backend_metrics.build, FolderUid.SERVICE),
    Builder(model_health.build, FolderUid.SERVICE),
    Builder(redis.build, FolderUid.SERVICE, Service.REDIS_EXPORTER),
    Builder(prometheus.build, FolderUid.STACK, Service.PROMETHEUS),
    Builder(loki.build, FolderUid.STACK, Service.LOKI),
    Builder(tempo.build, FolderUid.STACK, Service.TEMPO),
)


def dashboards(settings: Settings) -> tuple[Dashboard, ...]:
    """This stack's dashboards, in a stable order."""
    built = [(builder.build(settings), builder.folder) for builder in BUILDERS
             if builder.service is None or builder.service in settings.services]
    return tuple(Dashboard(str(model["uid"]), str(model["title"]), folder, model)
                 for model, folder in built)


__all__ = ["BUILDERS", "FOLDERS", "Builder", "Dashboard", "Folder", "FolderUid", "dashboards"]

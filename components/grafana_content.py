"""Grafana's content: linked datasources, folders and dashboards, through the Grafana API.

Datasources are created bare, then `DataSourceConfig` adds the settings that name other
datasources, so the metrics <-> traces <-> logs links never make a resource depend on itself.
"""

from dataclasses import dataclass

import pulumi
import pulumiverse_grafana as grafana

from configs.dashboards import FOLDERS
from configs.datasources import datasources, linked_uids
from configs.mixins import dashboards
from configs.render import to_json
from settings import Settings


@dataclass(frozen=True)
class GrafanaContentArgs:
    settings: Settings


class GrafanaContent(pulumi.ComponentResource):
    """Expects `opts.providers` to carry the explicit Grafana provider.

    grafana.db, on Grafana's data volume, holds it all and outlives a replaced container, so an
    image bump keeps the content and its version history. A new volume starts empty: the
    content stack's `pulumi up --refresh` (`make content-up`) sees what is gone and creates it
    again."""

    def __init__(self, name: str, args: GrafanaContentArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:GrafanaContent", name, None, opts)
        # Fixed uids: the old object must go before its replacement is created.
        child = pulumi.ResourceOptions(parent=self, delete_before_replace=True)

        specs = datasources(args.settings)
        sources = {
            spec.uid: grafana.oss.DataSource(
                f"{name}-datasource-{spec.type}",
                type=spec.type, name=spec.name, uid=spec.uid.value, url=spec.url,
                access_mode="proxy", is_default=spec.is_default,
                # Owned by the DataSourceConfig below; without this the two would fight.
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                    ignore_changes=["jsonDataEncoded", "secureJsonDataEncoded"])))
            for spec in specs
        }
        for spec in specs:
            targets = [sources[uid] for uid in sorted(sources) if uid.value in linked_uids(
                spec.json_data)]
            grafana.oss.DataSourceConfig(
                f"{name}-datasource-{spec.type}-links",
                uid=sources[spec.uid].uid,
                json_data_encoded=to_json(spec.json_data, compact=True),
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                    depends_on=targets)))

        folders = {
            folder.uid: grafana.oss.Folder(f"{name}-folder-{folder.uid}", title=folder.title,
                                           uid=folder.uid.value, opts=child)
            for folder in FOLDERS
        }
        for dashboard in dashboards(args.settings):
            grafana.oss.Dashboard(
                f"{name}-dashboard-{dashboard.uid}",
                config_json=to_json(dashboard.model),
                folder=folders[dashboard.folder].uid,
                overwrite=True,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                    depends_on=list(sources.values()))))
        self.register_outputs({})

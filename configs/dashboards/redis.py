"""The Redis the backend uses, as redis_exporter sees it: up, memory against maxmemory, clients,
commands, keyspace hit ratio, keys per db, evictions, expirations and rejected connections.
"""

from typing import Final

from configs.dashboards.panels import (
    UP,
    UP_MAPPINGS,
    Json,
    dashboard,
    gauge,
    row,
    stat,
    timeseries,
)
from configs.dashboards.targets import promql, rate, ratio, series, stack_job
from services import Service
from settings import Settings

UID: Final = "gatewayz-redis"
TITLE: Final = "GatewayZ Redis"
JOB: Final = stack_job(Service.REDIS_EXPORTER)


def build(settings: Settings) -> Json:
    limits = settings.alerting.thresholds
    memory_used = series("redis_memory_used_bytes", JOB)
    # maxmemory 0 means "no limit": leave the ratio empty rather than divide by zero.
    memory_max = f"({series('redis_memory_max_bytes', JOB)} > 0)"
    hits, misses = rate("redis_keyspace_hits_total", JOB), rate("redis_keyspace_misses_total", JOB)
    return dashboard(
        settings, uid=UID, title=TITLE, tags=("redis",),
        items=(
            stat("Redis up", promql(f"min({series('redis_up', JOB)})"), thresholds=UP,
                 mappings=UP_MAPPINGS,
                 description="Whether redis_exporter reached Redis at its last scrape."),
            stat("Uptime", promql(f"max({series('redis_uptime_in_seconds', JOB)})"), unit="s"),
            stat("Connected clients", promql(f"sum({series('redis_connected_clients', JOB)})")),
            stat("Blocked clients", promql(f"sum({series('redis_blocked_clients', JOB)})"),
                 thresholds=((None, "green"), (1, "orange"))),
            gauge("Memory against maxmemory", promql(f"{memory_used} / {memory_max}"),
                  description="Empty when Redis runs without a maxmemory limit; red at the "
                              "alerting threshold.",
                  thresholds=((None, "green"), (limits.redis_memory_ratio, "red"))),
            timeseries("Memory",
                       promql(memory_used, "used"),
                       promql(series("redis_memory_max_bytes", JOB), "max"),
                       unit="bytes", width=18, height=6),
            timeseries("Commands processed",
                       promql(f"sum({rate('redis_commands_processed_total', JOB)})", "commands"),
                       unit="ops"),
            timeseries("Keyspace hit ratio",
                       promql(ratio(hits, f"{hits} + {misses}"), "hits"), unit="percentunit"),
            timeseries("Clients",
                       promql(f"sum({series('redis_connected_clients', JOB)})", "connected"),
                       promql(f"sum({series('redis_blocked_clients', JOB)})", "blocked")),
            timeseries("Keys by db",
                       promql(f"sum by (db) ({series('redis_db_keys', JOB)})", "{{db}}"),
                       stacked=True),
            row("Churn and rejections",
                timeseries("Evicted keys",
                           promql(f"sum({rate('redis_evicted_keys_total', JOB)})", "evicted"),
                           unit="ops", width=8,
                           description="Keys dropped to stay under maxmemory."),
                timeseries("Expired keys",
                           promql(f"sum({rate('redis_expired_keys_total', JOB)})", "expired"),
                           unit="ops", width=8),
                timeseries("Rejected connections",
                           promql(f"sum({rate('redis_rejected_connections_total', JOB)})",
                                  "rejected"),
                           unit="ops", width=8, description="Connections refused at maxclients."),
                timeseries("Network",
                           promql(f"sum({rate('redis_net_input_bytes_total', JOB)})", "in"),
                           promql(f"sum({rate('redis_net_output_bytes_total', JOB)})", "out"),
                           unit="Bps", width=24)),
        ),
    )

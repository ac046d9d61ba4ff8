"""Alerts on the Redis the backend uses, as redis_exporter sees it: Redis or the exporter down,
memory close to `maxmemory`, connections rejected, keys evicted."""

from configs.rules.helpers import ENV, Value, alert, group, job_down, label, rule_file
from settings import Service, Settings, Severity

INSTANCE = label("instance")


def document(settings: Settings) -> dict[str, object]:
    exporter = Service.REDIS_EXPORTER.job
    memory_ratio = settings.alerting.thresholds.redis_memory_ratio
    return rule_file(group("redis", [
        # The exporter answers its scrape even when Redis does not: `redis_up` is Redis itself.
        alert("RedisDown", "redis_up == 0", severity=Severity.CRITICAL, for_minutes=2,
              summary=f"Redis unreachable in {ENV} (redis_up {Value.NUMBER})",
              description=f"redis_exporter {INSTANCE} in {ENV} has not reached Redis for 2 "
                          f"minutes (redis_up = {Value.NUMBER})."),
        alert("RedisExporterDown", job_down(exporter, settings.environment),
              severity=Severity.WARNING, for_minutes=5,
              summary=f"redis_exporter unreachable in {ENV}: {Value.NUMBER} targets up",
              description=f"Prometheus has not scraped {exporter} in {ENV} for 5 minutes "
                          f"({Value.NUMBER} targets up), so RedisDown cannot fire."),
        # maxmemory 0 means no limit; `> 0` leaves such a Redis out instead of dividing by 0.
        alert("RedisMemoryNearMax",
              f"redis_memory_used_bytes / (redis_memory_max_bytes > 0) > {memory_ratio}",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Redis uses {Value.PERCENT} of maxmemory in {ENV}",
              description=f"Redis behind {INSTANCE} in {ENV} has used {Value.PERCENT} of its "
                          f"maxmemory for 10 minutes (threshold {memory_ratio:.0%}); next it "
                          "evicts keys or refuses writes, per its maxmemory-policy."),
        # Rejections come in bursts when maxclients is hit: a 10m window bridges the gaps.
        alert("RedisRejectingConnections", "increase(redis_rejected_connections_total[10m]) > 0",
              severity=Severity.WARNING, for_minutes=5,
              summary=f"Redis rejected {Value.NUMBER} connections in 10m in {ENV}",
              description=f"Redis behind {INSTANCE} in {ENV} rejected {Value.NUMBER} "
                          "connections in the last 10 minutes (maxclients reached)."),
        # Whatever the backend keeps in Redis (caches, rate-limit state) is lost when evicted.
        alert("RedisEvictingKeys", "rate(redis_evicted_keys_total[5m]) > 0",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Redis evicts {Value.NUMBER} keys/s in {ENV}",
              description=f"Redis behind {INSTANCE} in {ENV} has evicted {Value.NUMBER} keys/s "
                          "for 10 minutes: it is at maxmemory and dropping data."),
    ]))

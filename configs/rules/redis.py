"""Alerts on the Redis the backend uses, as redis_exporter sees it: Redis or the exporter down,
memory close to `maxmemory`, connections rejected, keys evicted; each with its runbook."""

from configs.dashboards import fastapi
from configs.dashboards import redis as redis_dashboard
from configs.promql import eq, selector
from configs.rules.helpers import (
    ENV,
    Panel,
    PromQL,
    Runbook,
    Shell,
    Value,
    Verify,
    alert,
    container_log,
    group,
    job_down,
    label,
    rule_file,
)
from services import Service, container_name
from settings import Settings, Severity

INSTANCE = label("instance")
# What the backend keeps in Redis, as far as its metrics show: caches and rate-limit state.
USES = "the backend's cache and rate-limit state"


def document(settings: Settings) -> dict[str, object]:
    exporter = Service.REDIS_EXPORTER.job
    memory_ratio = settings.alerting.thresholds.redis_memory_ratio
    address = settings.redis.address if settings.redis else "the watched Redis"
    on_exporter = eq("job", exporter)
    container = container_name(settings.stack, Service.REDIS_EXPORTER)

    def series(metric: str) -> str:
        return selector(metric, on_exporter)

    memory = Panel("Memory against its limit, since when:", redis_dashboard.TITLE,
                   "Memory against maxmemory")
    return rule_file(group("redis", [
        # The exporter answers its scrape even when Redis does not: `redis_up` is Redis itself.
        alert("RedisDown", "redis_up == 0", severity=Severity.CRITICAL, for_minutes=2,
              summary=f"Redis unreachable in {ENV} (redis_up {Value.NUMBER})",
              description=f"redis_exporter {INSTANCE} in {ENV} has not reached Redis for 2 "
                          f"minutes (redis_up = {Value.NUMBER}).",
              runbook=Runbook(
                  meaning=f"redis_exporter runs, but has not been able to talk to Redis at "
                          f"{address} for 2 minutes.",
                  impact=f"The backend loses {USES}: slower answers (every cache miss goes to "
                         "the database or provider), and rate limits that either stop "
                         "applying or refuse requests, depending on how the backend handles a "
                         "missing Redis. Watch the backend's 5xx share.",
                  causes=("Redis is down or restarting at its host (Railway).",
                          "The password changed (`redisPassword`), or the ACL user "
                          "(`redisUser`): the exporter's log says `NOAUTH` or `WRONGPASS`.",
                          "Network or DNS between the Docker host and Redis."),
                  checks=(
                      PromQL("Redis as the exporter sees it, and the exporter's last error "
                             "(its `err` label):",
                             f"{series('redis_up')} or "
                             f"{series('redis_exporter_last_scrape_error')} == 1"),
                      container_log(settings.stack, Service.REDIS_EXPORTER,
                                    "error|auth|timeout"),
                      Verify("Redis through the exporter:", ("redis_exporter redis_up",)),
                      Panel("Since when:", redis_dashboard.TITLE, "Redis up"),
                      Panel("Whether the backend fails with it:", fastapi.TITLE, "5xx share"),
                  ),
                  actions=("If Redis is down at its host, restart it there; the exporter "
                           "reconnects by itself.",
                           "If the log shows an authentication error, set the password again "
                           "(`pulumi config set --secret redisPassword`) and `make up`."),
                  resolves="Two minutes after redis_up is 1 again it resolves by itself.")),
        alert("RedisExporterDown", job_down(exporter, settings.environment),
              severity=Severity.WARNING, for_minutes=5,
              summary=f"redis_exporter unreachable in {ENV}: {Value.NUMBER} targets up",
              description=f"Prometheus has not scraped {exporter} in {ENV} for 5 minutes "
                          f"({Value.NUMBER} targets up), so RedisDown cannot fire.",
              runbook=Runbook(
                  meaning="Prometheus has not scraped redis_exporter for 5 minutes: the "
                          "exporter container is down, or Prometheus cannot reach it on the "
                          "stack's network.",
                  impact="None by itself: Redis and the backend may be fine, but Redis is "
                         "unwatched (RedisDown and the other Redis alerts cannot fire).",
                  causes=("The exporter container stopped or is restarting (out of memory at "
                          f"its {settings.memory_mb[Service.REDIS_EXPORTER]} MiB limit).",
                          "The container was removed outside Pulumi."),
                  checks=(
                      PromQL("The exporter's scrape target:", f"up{{job=\"{exporter}\"}}"),
                      Shell("Whether the container runs, and why it stopped:",
                            f"docker ps -a --filter name={container} "
                            "--format '{{.Names}} {{.Status}}'"),
                      Verify("The exporter and Prometheus' target for it:",
                             ("redis_exporter redis_up", f"prometheus target {exporter}")),
                  ),
                  actions=("`make up STACK=<stack>` recreates a missing or stopped container; "
                           "if it is killed for memory, raise `redisExporterMemoryMb`.",),
                  resolves="It resolves by itself once the scrape succeeds again.")),
        # maxmemory 0 means no limit; `> 0` leaves such a Redis out instead of dividing by 0.
        alert("RedisMemoryNearMax",
              f"redis_memory_used_bytes / (redis_memory_max_bytes > 0) > {memory_ratio}",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Redis uses {Value.PERCENT} of maxmemory in {ENV}",
              description=f"Redis behind {INSTANCE} in {ENV} has used {Value.PERCENT} of its "
                          f"maxmemory for 10 minutes (threshold {memory_ratio:.0%}); next it "
                          "evicts keys or refuses writes, per its maxmemory-policy.",
              runbook=Runbook(
                  meaning=f"Redis has used more than {memory_ratio:.0%} of its `maxmemory` "
                          "for 10 minutes.",
                  impact="Nothing yet. At the limit Redis evicts keys (cache misses, lost "
                         "rate-limit counters) or refuses writes (backend errors), depending "
                         "on its `maxmemory-policy`.",
                  causes=("Keys without a TTL piling up (a new cache key pattern).",
                          "More traffic, hence more cached entries, than the limit was sized "
                          "for.",
                          "Large values: one big key can take most of the memory."),
                  checks=(
                      PromQL("Used share of maxmemory, and keys per database:",
                             f"{series('redis_memory_used_bytes')} / "
                             f"{series('redis_memory_max_bytes')} or {series('redis_db_keys')}"),
                      memory,
                      Panel("Whether keys grow with it:", redis_dashboard.TITLE, "Keys by db"),
                  ),
                  actions=("If keys grow without bound, find the pattern (`redis-cli --bigkeys`, "
                           "`--scan` at Redis' host) and have the backend set TTLs.",
                           "If it is growth, raise Redis' maxmemory at its host."),
                  resolves="It resolves when memory drops under the threshold (keys expire, or "
                           "the limit is raised).")),
        # Rejections come in bursts when maxclients is hit: a 10m window bridges the gaps.
        alert("RedisRejectingConnections", "increase(redis_rejected_connections_total[10m]) > 0",
              severity=Severity.WARNING, for_minutes=5,
              summary=f"Redis rejected {Value.NUMBER} connections in 10m in {ENV}",
              description=f"Redis behind {INSTANCE} in {ENV} rejected {Value.NUMBER} "
                          "connections in the last 10 minutes (maxclients reached).",
              runbook=Runbook(
                  meaning="Redis refused new connections in the last 10 minutes: it reached "
                          "`maxclients`.",
                  impact="Backend requests that needed a new Redis connection failed or went "
                         "without cache and rate limiting: sporadic errors and slow answers.",
                  causes=("A connection leak in the backend (connections opened per request, "
                          "never closed).",
                          "More backend replicas, each with its own pool, than maxclients "
                          "allows."),
                  checks=(
                      PromQL("Connected clients against the rejections:",
                             f"{series('redis_connected_clients')} or "
                             f"increase({series('redis_rejected_connections_total')}[10m])"),
                      Panel("When the clients climbed:", redis_dashboard.TITLE, "Clients"),
                      Panel("The rejections:", redis_dashboard.TITLE, "Rejected connections"),
                  ),
                  actions=("If clients climbed steadily, restart the backend to drop the leaked "
                           "connections and report the leak; if replicas were added, raise "
                           "maxclients or shrink the pools.",),
                  resolves="Ten minutes after the last rejection it resolves by itself.")),
        # Whatever the backend keeps in Redis (caches, rate-limit state) is lost when evicted.
        alert("RedisEvictingKeys", "rate(redis_evicted_keys_total[5m]) > 0",
              severity=Severity.WARNING, for_minutes=10,
              summary=f"Redis evicts {Value.NUMBER} keys/s in {ENV}",
              description=f"Redis behind {INSTANCE} in {ENV} has evicted {Value.NUMBER} keys/s "
                          "for 10 minutes: it is at maxmemory and dropping data.",
              runbook=Runbook(
                  meaning="Redis is at its maxmemory and has been deleting keys to make room "
                          "for 10 minutes.",
                  impact=f"Parts of {USES} disappear early: more cache misses (slower, more "
                         "provider and database calls) and rate-limit counters reset.",
                  causes=("The same as RedisMemoryNearMax, one step further: keys without "
                          "TTL, growth, big values.",),
                  checks=(
                      PromQL("Evictions per second, and the hit ratio they cost:",
                             f"rate({series('redis_evicted_keys_total')}[5m]) or "
                             f"rate({series('redis_keyspace_hits_total')}[5m]) / "
                             f"(rate({series('redis_keyspace_hits_total')}[5m]) + "
                             f"rate({series('redis_keyspace_misses_total')}[5m]))"),
                      memory,
                      Panel("The cost in hits:", redis_dashboard.TITLE, "Keyspace hit ratio"),
                  ),
                  actions=("Raise maxmemory at Redis' host, or find and expire what fills it "
                           "(see RedisMemoryNearMax).",),
                  resolves="Ten minutes after evictions stop it resolves by itself.")),
    ]))

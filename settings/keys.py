"""The schema: every config key the program accepts, with its type, default, description and
the rule its value must meet (bounds, the URL schemes it takes, a password's strength, the opt-in
a bind needs beyond loopback).

`Pulumi.yaml` and the README table are generated from `KEYS` (`make docs`) and checked against it
by the tests; the parser (settings/parse.py) reads the same rules. Defaults and bounds live here
once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from services import SERVICES, LokiTarget, Published, Service
from settings.model import BackendAuth, Duration, Kind, Platform, Receiver, RedisAuth, Size


class Unit(StrEnum):
    """What the numbers of a key's Bounds count."""

    COUNT = "count"
    # A duration (settings.Duration), in seconds.
    SECONDS = "seconds"
    # A Prometheus size (`20GB`, base 2), in bytes.
    BYTES = "bytes"
    # A Docker json-file size (`10m`, base 2: docker/go-units RAMInBytes), in bytes.
    LOG_BYTES = "log-bytes"


_LOG_UNITS: Final[Mapping[str, int]] = {"g": 3, "m": 2, "k": 1}


def log_size_text(count: int) -> str:
    """`count` bytes as Docker's `max-size` writes it, in the largest unit that holds it whole."""
    for unit, power in _LOG_UNITS.items():
        if count % (1 << (10 * power)) == 0:
            return f"{count >> (10 * power)}{unit}"
    return f"{count}"


@dataclass(frozen=True)
class Bounds:
    """The inclusive range a key's value must fall in."""

    minimum: int
    maximum: int
    unit: Unit = Unit.COUNT

    def __contains__(self, value: int) -> bool:
        return self.minimum <= value <= self.maximum

    def show(self, value: int) -> str:
        if self.unit is Unit.SECONDS:
            return str(Duration(value))
        if self.unit is Unit.BYTES:
            return str(Size.of_bytes(value))
        if self.unit is Unit.LOG_BYTES:
            return log_size_text(value)
        return str(value)

    def describe(self) -> str:
        return f"{self.show(self.minimum)} to {self.show(self.maximum)}"


@dataclass(frozen=True)
class Strength:
    """What a password must have: a length, and characters of more than one kind."""

    min_length: int
    min_kinds: int

    def describe(self) -> str:
        return (f"at least {self.min_length} characters, of at least {self.min_kinds} kinds "
                "(lower-case, upper-case, digits, others)")


@dataclass(frozen=True)
class ConfigKey:
    """One config key. `default=None` makes it required; `""` means unset (optional). An array
    key's `item` is an example of one item, for the messages that show how to set it.

    The rule its value meets, where it has one beyond its kind: `bounds` (integers, durations,
    sizes), `schemes` (a URL's), `strength` (a password's), `exposure` (the boolean key that
    lets a bind key publish beyond loopback). The docs say each (`documented`), and the parser
    reads it.
    """

    name: str
    kind: Kind
    default: str | int | bool | tuple[str, ...] | None
    description: str
    secret: bool = False
    item: str = ""
    bounds: Bounds | None = None
    schemes: tuple[str, ...] = ()
    strength: Strength | None = None
    exposure: str | None = None

    @property
    def documented(self) -> str:
        """The description with the key's rule, as Pulumi.yaml and the README show it."""
        parts = [self.description]
        if self.bounds is not None:
            parts.append(f"Range: {self.bounds.describe()}.")
        if self.schemes:
            parts.append("URL scheme: " + " or ".join(f"`{s}://`" for s in self.schemes) + ".")
        if self.strength is not None:
            parts.append(f"Strength: {self.strength.describe()}.")
        if self.exposure is not None:
            parts.append(f"Beyond loopback (127.0.0.0/8) only with `{self.exposure}: true`.")
        return " ".join(parts)


# Go's time.Duration holds at most 2^63-1 ns, about 292 years: prometheus/common's
# model.ParseDuration (Prometheus' retention, Loki's `retention_period`, Tempo's
# `block_retention`: model.Duration at v3.14.0, v3.7.6, v3.0.3) refuses anything longer
# ("duration out of range"), and Go's time.ParseDuration overflows at 2562047h47m16s. Whole
# hours, as the program writes them.
GO_DURATION_MAX: Final = 2562047 * 3600
# Prometheus reads `storage.tsdb.retention.size` as units.Base2Bytes, an int64: 8192PB (2^63)
# overflows and is refused at start (alecthomas/units ParseUnit; config.go "must be greater than
# or equal to 0").
PROMETHEUS_SIZE_MAX: Final = 8191 << 50
# The shortest range the rules' rate()s read (configs/rules: `[5m]`; a test holds the rules to it).
RATE_WINDOW: Final = 300
# The longest scrape or evaluation interval: a rate needs two samples in its window, and with
# window/2 one failed scrape leaves one. A quarter of the window keeps four, so a rate survives a
# missed scrape; it is the factor Grafana's `$__rate_interval` uses (4 x the scrape interval).
# Prometheus 3's range selectors are left-open, so a window holds window/interval samples, no
# more. A recorded series gets one sample per evaluation, and `for:` counts evaluations, so the
# evaluation interval has the same bound.
SAMPLE_INTERVAL: Final = Bounds(1, RATE_WINDOW // 4, Unit.SECONDS)
# At least an hour of samples: more than the longest scrape interval many times over, so no
# bound here lets retention be shorter than what it retains (a test holds the two apart).
METRICS_RETENTION: Final = Bounds(3600, GO_DURATION_MAX, Unit.SECONDS)
# Grafana's secrets: the admin password (the provider and every operator log in with it), the
# secret key (whoever guesses it forges sessions) and the /metrics password.
GRAFANA_SECRET: Final = Strength(min_length=16, min_kinds=2)

# The project's own images (toolchain/images.py): local builds of the pinned releases
# (`gatewayz-local/<service>`) and the labelled stand-ins (`gatewayz-local/<service>-standin`).
LOCAL_REPOSITORY: Final = "gatewayz-local"
STANDIN_SUFFIX: Final = "-standin"


def camel(service: Service) -> str:
    head, *rest = service.value.split("-")
    return head + "".join(part.title() for part in rest)


def _image_key(service: Service, image: str) -> ConfigKey:
    upstream = ", ".join(f"`{repository}`" for repository in UPSTREAM_REPOSITORIES[service])
    return ConfigKey(f"{camel(service)}Image", Kind.STRING, image,
                     f"Container image for {service}: {upstream}, the same under `imageMirror`, "
                     f"or `{LOCAL_REPOSITORY}/{service}[{STANDIN_SUFFIX}]`; pinned to a release "
                     "tag (`X.Y.Z`, optionally `v` before and `-<variant>` after) or a digest "
                     "(`@sha256:...`), never a moving tag such as `latest` or `main`.")


def _memory_key(service: Service, mb: int) -> ConfigKey:
    return ConfigKey(f"{camel(service)}MemoryMb", Kind.INTEGER, mb,
                     f"Memory limit of the {service} container, in MiB.",
                     bounds=Bounds(32, 65536))


def _cpu_key(service: Service, millis: int) -> ConfigKey:
    # The upper bound is a sanity bound; Docker checks the host's CPU count at create.
    return ConfigKey(f"{camel(service)}CpuMillis", Kind.INTEGER, millis,
                     f"CPU limit of the {service} container, in thousandths of a CPU (1000: one "
                     "CPU, Docker's `--cpus` times 1000), one the docker provider reads back as "
                     "written; at most the Docker host's CPUs, which "
                     "Docker checks when it creates the container.",
                     bounds=Bounds(100, 256_000))


def _bind_key(port: Published, what: str) -> ConfigKey:
    # Published on the Docker host's loopback, on the port the container listens on.
    service = port.owner.service
    return ConfigKey(port.bind_key, Kind.STRING, f"127.0.0.1:{port.container_port}",
                     f"Host address and port that publish {what} (`ip:port`, or `none`).",
                     exposure=exposure_key(service) if service in EXPOSURE_RISKS else None)


def exposure_key(service: Service) -> str:
    return f"{camel(service)}BindBeyondLoopback"


def _exposure_key(service: Service, risk: str) -> ConfigKey:
    return ConfigKey(exposure_key(service), Kind.BOOLEAN, False,
                     f"Let {service}'s bind keys publish beyond loopback. RISK: {risk}. Docker "
                     "publishes ports past the host's INPUT firewall rules (ufw's among them): "
                     "filter them in DOCKER-USER, or put an authenticating proxy in front, "
                     "before setting this.")


# Views of the rows, by what the toolchain and the parser look up.
DEFAULT_IMAGES: Final[Mapping[Service, str]] = {
    service: facts.defaults.image for service, facts in SERVICES.items()}
UPSTREAM_REPOSITORIES: Final[Mapping[Service, tuple[str, ...]]] = {
    service: facts.defaults.upstream for service, facts in SERVICES.items()}
EXPOSURE_RISKS: Final[Mapping[Service, str]] = {
    service: risk for service, facts in SERVICES.items()
    if (risk := facts.defaults.exposure_risk) is not None}

# Alertmanager peers on Kubernetes: one is no cluster, and kube-prometheus runs three; more than
# a handful only multiplies the gossip every silence and notification log entry makes.
ALERTMANAGER_REPLICAS: Final = Bounds(1, 9)
# Prometheus on Kubernetes: an HA pair scraping the same targets (kube-prometheus' two); a third
# replica is a third copy of every series and every alert.
PROMETHEUS_REPLICAS: Final = Bounds(1, 3)
# Each Loki target's replicas: the write path's replication factor is at most its writers
# (configs/loki.py), and the upper bound is a sanity bound.
LOKI_REPLICAS: Final = Bounds(1, 32)
# A volume claim's size: at least what a service needs to start and at most what a volume of a
# cloud's block storage holds (64 TiB).
STORAGE_SIZE: Final = Bounds(1 << 30, 64 << 40, Unit.BYTES)


def _replicas_key(target: LokiTarget) -> ConfigKey:
    return ConfigKey(f"loki{target.value.title()}Replicas", Kind.INTEGER, 3,
                     f"Replicas of Loki's `{target}` target on the Kubernetes platform "
                     "(simple-scalable mode, as Loki's Helm chart runs it); the Docker platform "
                     "runs one single binary.", bounds=LOKI_REPLICAS)


def storage_key(service: Service) -> str:
    return f"{camel(service)}StorageSize"


def _storage_key(service: Service, size: str) -> ConfigKey:
    derived = (" (default: `metricsRetentionSize` and a quarter more, for the WAL and the "
               "blocks a compaction writes before it deletes the old ones; set, it must exceed "
               "`metricsRetentionSize`)") if not size else ""
    return ConfigKey(storage_key(service), Kind.STRING, size,
                     f"Size of the volume each {service} pod claims on the Kubernetes platform "
                     f"(a size such as `metricsRetentionSize` takes, e.g. `10GB`){derived}; the "
                     "Docker platform's volumes grow as the host's disk allows.",
                     bounds=STORAGE_SIZE)

KEYS: Final[tuple[ConfigKey, ...]] = (
    ConfigKey("platform", Kind.STRING, Platform.DOCKER.value,
              "What runs the stack: `docker` (one Docker host) or `kubernetes` (a cluster, "
              "through the kubeconfig Pulumi's Kubernetes provider reads; README, \"Moving to "
              "Kubernetes\")."),
    ConfigKey("kubernetesNamespace", Kind.STRING, "",
              "The namespace the Kubernetes platform runs the stack in, a DNS-1123 label "
              "(lower-case letters, digits and `-`, at most 63; default: `gatewayz-<stack>`)."),
    ConfigKey("alertmanagerReplicas", Kind.INTEGER, 3,
              "Alertmanager replicas on the Kubernetes platform, meshed into one cluster "
              "(`--cluster.peer`) that notifies once; the Docker platform runs one.",
              bounds=ALERTMANAGER_REPLICAS),
    ConfigKey("prometheusReplicas", Kind.INTEGER, 2,
              "Prometheus replicas on the Kubernetes platform: an HA pair by default, each "
              "scraping every target and labelled `replica`, a label dropped from the alerts "
              "they send, so Alertmanager de-duplicates them; the Docker platform runs one.",
              bounds=PROMETHEUS_REPLICAS),
    *(_replicas_key(target) for target in LokiTarget),
    ConfigKey("kubernetesStorageClass", Kind.STRING, "",
              "StorageClass of every volume claim on the Kubernetes platform, a DNS-1123 "
              "subdomain (unset: the cluster's default class)."),
    *(_storage_key(service, facts.defaults.storage) for service, facts in SERVICES.items()
      if facts.defaults.storage is not None),
    ConfigKey("objectStorageEndpoint", Kind.STRING, "",
              "S3-compatible object storage Loki and Tempo keep their chunks and blocks in on "
              "the Kubernetes platform (`https://host[:port]`; required there).",
              schemes=("http", "https")),
    ConfigKey("objectStorageRegion", Kind.STRING, "us-east-1",
              "The object storage's region (letters, digits and `-`)."),
    ConfigKey("lokiBucket", Kind.STRING, "",
              "Bucket of Loki's chunks and index on the Kubernetes platform (an S3 bucket name: "
              "3-63 lower-case letters, digits, `.` and `-`; required there)."),
    ConfigKey("tempoBucket", Kind.STRING, "",
              "Bucket of Tempo's trace blocks on the Kubernetes platform (an S3 bucket name; "
              "required there, and not Loki's: each compactor deletes what it does not know)."),
    ConfigKey("objectStorageAccessKeyId", Kind.STRING, "",
              "Access key id for the object storage (secret; required on the Kubernetes "
              "platform).", secret=True),
    ConfigKey("objectStorageSecretAccessKey", Kind.STRING, "",
              "Secret access key for the object storage (secret; required on the Kubernetes "
              "platform).", secret=True),
    ConfigKey("grafanaIngressHost", Kind.STRING, "",
              "Host name an Ingress publishes Grafana on, on the Kubernetes platform (a DNS "
              "name; unset: no Ingress, Grafana is reached through its Service)."),
    ConfigKey("kubernetesIngressClass", Kind.STRING, "",
              "IngressClass of that Ingress, a DNS-1123 subdomain (unset: the cluster's "
              "default class)."),
    ConfigKey("environment", Kind.STRING, "",
              "Value of the `env` label on every series and of the dashboards' env variable "
              "(default: the stack name). Docker names come from the stack name, never from "
              "this, so two stacks on one host never share a network, container or volume."),
    ConfigKey("metricsRetentionTime", Kind.STRING, "15d",
              "How long Prometheus keeps samples (Prometheus duration, e.g. `15d`).",
              bounds=METRICS_RETENTION),
    ConfigKey("metricsRetentionSize", Kind.STRING, "20GB",
              "Disk budget of the Prometheus TSDB (e.g. `20GB`; units B, KB, MB, GB, TB, PB, "
              "base 2). Below the range, size retention deletes history within days.",
              bounds=Bounds(1 << 30, PROMETHEUS_SIZE_MAX, Unit.BYTES)),
    ConfigKey("logsRetention", Kind.STRING, "7d",
              "How long Loki keeps logs (duration; the shortest is what Loki's compactor needs).",
              bounds=Bounds(86400, GO_DURATION_MAX, Unit.SECONDS)),
    ConfigKey("tracesRetention", Kind.STRING, "72h",
              "How long Tempo keeps traces (duration).",
              bounds=Bounds(3600, GO_DURATION_MAX, Unit.SECONDS)),
    ConfigKey("scrapeInterval", Kind.STRING, "15s",
              "Default scrape interval of every job (the longest is a quarter of the rules' rate "
              "window, so a rate keeps its samples through a missed scrape).",
              bounds=SAMPLE_INTERVAL),
    ConfigKey("evaluationInterval", Kind.STRING, "30s",
              "How often Prometheus evaluates recording and alerting rules.",
              bounds=SAMPLE_INTERVAL),
    ConfigKey("backendMetricsUrl", Kind.STRING, None,
              "Full URL of the GatewayZ backend's metrics endpoint for this environment "
              "(required; `https://host[:port]/path`; https with `backendAuth: bearer`).",
              schemes=("http", "https")),
    ConfigKey("backendScrapeInterval", Kind.STRING, "15s",
              "Scrape interval of the backend job.", bounds=SAMPLE_INTERVAL),
    ConfigKey("backendScrapeTimeout", Kind.STRING, "10s",
              "Scrape timeout of the backend job (not longer than its interval).",
              bounds=SAMPLE_INTERVAL),
    ConfigKey("backendAuth", Kind.STRING, BackendAuth.NONE.value,
              "How Prometheus authenticates to the backend: `none` or `bearer` "
              "(then `backendBearerToken` is required, and an https `backendMetricsUrl`: over "
              "http the token crosses the network in clear)."),
    ConfigKey("backendBearerToken", Kind.STRING, "",
              "Bearer token for the backend's metrics endpoint (secret).", secret=True),
    ConfigKey("extraTargets", Kind.ARRAY, (),
              "More scrape targets, each `job=<name> url=<scheme://host/path> env=<label>` "
              "with optional `interval=<dur>` and `timeout=<dur>` (bounded as "
              "`backendScrapeInterval` and `backendScrapeTimeout`); none may scrape what the "
              "stack scrapes already (the backend, or a service of the stack).",
              item="job=worker url=https://worker.example/metrics env=staging"),
    ConfigKey("redisAddress", Kind.STRING, "",
              "Redis the exporter watches (`redis://host:port` or `rediss://host:port`); "
              "unset: no Redis is watched and no exporter runs.",
              schemes=("redis", "rediss")),
    ConfigKey("redisUser", Kind.STRING, "",
              "Redis ACL user for the exporter (empty: the default user)."),
    ConfigKey("redisAuth", Kind.STRING, RedisAuth.NONE.value,
              "`none` or `password` (then `redisPassword` is required)."),
    ConfigKey("redisPassword", Kind.STRING, "",
              "Password of the watched Redis (secret).", secret=True),
    ConfigKey("grafanaUrl", Kind.STRING, "",
              "URL the operator running Pulumi reaches Grafana on, for the Grafana provider "
              "(default: from `grafanaBind`; on Kubernetes, the Ingress's https URL, which it "
              "may only repeat, else the Service's in-cluster URL).",
              schemes=("http", "https")),
    ConfigKey("grafanaAdminUser", Kind.STRING, "admin",
              "Grafana admin login: letters, digits and `.`, `_`, `@`, `-` (a `:` would split "
              "the provider's `user:password`)."),
    ConfigKey("grafanaAdminPassword", Kind.STRING, "",
              "Grafana admin password (secret; generated when unset). No surrounding whitespace, "
              "and no `${` or `$__`, which Grafana would expand.", secret=True,
              strength=GRAFANA_SECRET),
    ConfigKey("grafanaSecretKey", Kind.STRING, "",
              "Grafana's `secret_key`, which signs its cookies and encrypts its stored secrets "
              "(secret; generated once when unset, and kept). No surrounding whitespace, and no "
              "`${` or `$__`, which Grafana would expand.", secret=True, strength=GRAFANA_SECRET),
    ConfigKey("grafanaMetricsPassword", Kind.STRING, "",
              "Password of Grafana's `/metrics` (basic auth, user `prometheus`), which "
              "Prometheus reads from a file (secret; generated when unset). No surrounding "
              "whitespace, and no `${` or `$__`, which Grafana would expand.", secret=True,
              strength=GRAFANA_SECRET),
    ConfigKey("protectData", Kind.BOOLEAN, False,
              "Protect data volumes and retain them on delete; required in production (a stack "
              "named `production`, or with `environment: production`)."),
    ConfigKey("logMaxSize", Kind.STRING, "10m",
              "json-file log rotation: size of one container log file (e.g. `10m`; units k, m, "
              "g). Smaller and a log file rotates away before anyone reads it, larger and one "
              "file fills the disk before it rotates.",
              bounds=Bounds(1 << 20, 1 << 30, Unit.LOG_BYTES)),
    ConfigKey("logMaxFile", Kind.INTEGER, 5,
              "json-file log rotation: how many files are kept per container.",
              bounds=Bounds(1, 100)),
    ConfigKey("imageMirror", Kind.STRING, "",
              "A registry path that mirrors the upstream repositories (e.g. "
              "`registry.example.com:5000/hub`): each `*Image` may then be "
              "`<imageMirror>/<upstream repository>` (a registry host dropped: "
              "`<imageMirror>/prometheus/prometheus` for `quay.io/prometheus/prometheus`)."),
    *(_image_key(service, image) for service, image in DEFAULT_IMAGES.items()),
    *(_memory_key(service, facts.defaults.memory_mb) for service, facts in SERVICES.items()),
    *(_cpu_key(service, facts.defaults.cpu_millis) for service, facts in SERVICES.items()),
    *(_bind_key(port, publication.what) for facts in SERVICES.values()
      for port, publication in facts.published.items()),
    *(_exposure_key(service, risk) for service, risk in EXPOSURE_RISKS.items()),
    ConfigKey("alertCriticalReceiver", Kind.STRING, Receiver.NONE.value,
              "Where critical alerts go: `none`, `slack` or `webhook`."),
    ConfigKey("alertWarningReceiver", Kind.STRING, Receiver.NONE.value,
              "Where warning alerts go: `none`, `slack` or `webhook`."),
    ConfigKey("alertInfoReceiver", Kind.STRING, Receiver.NONE.value,
              "Where info alerts go: `none`, `slack` or `webhook`."),
    ConfigKey("alertSlackChannel", Kind.STRING, "#gatewayz-alerts",
              "Slack channel for alerts routed to `slack`."),
    ConfigKey("alertSlackWebhookUrl", Kind.STRING, "",
              "Slack incoming-webhook URL (secret; required when a severity routes to `slack`).",
              secret=True, schemes=("https",)),
    ConfigKey("alertWebhookUrl", Kind.STRING, "",
              "Generic webhook URL, e.g. a pager (secret; required when a severity routes to "
              "`webhook`).", secret=True, schemes=("http", "https")),
    ConfigKey("alertHeartbeat", Kind.BOOLEAN, False,
              "Send the always-firing `Watchdog` alert to a dead man's switch at "
              "`alertHeartbeatUrl` (then required), which pages when the pings stop."),
    ConfigKey("alertHeartbeatUrl", Kind.STRING, "",
              "Dead man's switch the `Watchdog` pings, e.g. a healthchecks.io check or an "
              "Opsgenie or PagerDuty heartbeat URL (secret; required when `alertHeartbeat` is "
              "true).", secret=True, schemes=("http", "https")),
    ConfigKey("alertHeartbeatRepeatInterval", Kind.STRING, "5m",
              "How often the `Watchdog` pings `alertHeartbeatUrl`; give the heartbeat service "
              "this period and a grace of a few periods (any longer, and a dead alerting chain "
              "goes unnoticed for hours).", bounds=Bounds(60, 3600, Unit.SECONDS)),
    ConfigKey("alertRunbookBaseUrl", Kind.STRING, "docs/alerts.md",
              "Where each alert's `runbook_url` points, plus `#<alert name in lower case>`: the "
              "default is the runbooks' path in this repository; set the URL your team reads "
              "it at, e.g. `https://github.com/<org>/<repo>/blob/main/docs/alerts.md` (no `#`)."),
    ConfigKey("alertErrorRatioPercent", Kind.INTEGER, 5,
              "Backend 5xx share of requests that raises an alert, in percent.",
              bounds=Bounds(1, 100)),
    ConfigKey("alertLatencyP95Ms", Kind.INTEGER, 2000,
              "Backend p95 request latency that raises an alert, in ms.",
              bounds=Bounds(1, 600_000)),
    ConfigKey("alertTtfbP95Ms", Kind.INTEGER, 2000,
              "Backend p95 time to first byte that raises an alert, in ms.",
              bounds=Bounds(1, 600_000)),
    ConfigKey("alertStreamingP95Ms", Kind.INTEGER, 1500,
              "p95 streaming duration that raises an alert, in ms.",
              bounds=Bounds(1, 3_600_000)),
    ConfigKey("alertInferenceErrorRatioPercent", Kind.INTEGER, 10,
              "Failed share of model inference requests per model and provider, in percent.",
              bounds=Bounds(1, 100)),
    ConfigKey("alertInferenceP95Ms", Kind.INTEGER, 10000,
              "p95 model inference duration per model and provider, in ms.",
              bounds=Bounds(1, 3_600_000)),
    ConfigKey("alertRateLimitedPerSecond", Kind.INTEGER, 5,
              "Rate-limited requests per second that count as a surge.",
              bounds=Bounds(1, 1_000_000)),
    ConfigKey("alertRedisMemoryPercent", Kind.INTEGER, 90,
              "Redis memory use against its maxmemory, in percent.",
              bounds=Bounds(1, 100)),
    ConfigKey("alertDiskPercent", Kind.INTEGER, 85,
              "Prometheus TSDB size against `metricsRetentionSize`, in percent.",
              bounds=Bounds(1, 100)),
    ConfigKey("alertNotificationErrorPercent", Kind.INTEGER, 1,
              "Failed share of alert notifications, Prometheus to Alertmanager and Alertmanager "
              "to each integration, in percent (the upstream mixins' 1%).",
              bounds=Bounds(1, 100)),
    ConfigKey("alertLokiErrorPercent", Kind.INTEGER, 10,
              "Share of Loki requests per route answered with 5xx, in percent (loki-mixin: 10).",
              bounds=Bounds(1, 100)),
    ConfigKey("alertLokiRetentionStaleHours", Kind.INTEGER, 3,
              "Hours without a successful Loki retention run that raise an alert (the compactor "
              "runs every 10m; loki-mixin: 3).",
              bounds=Bounds(1, 168)),
)

KEYS_BY_NAME: Final[Mapping[str, ConfigKey]] = {key.name: key for key in KEYS}
# The secrets the program generates when unset (RandomPassword in __main__), all held to
# GRAFANA_SECRET. Where the random provider is absent (it cannot be built here), `make up` and the
# engine tier set them instead.
GENERATED_SECRETS: Final[tuple[ConfigKey, ...]] = tuple(
    key for key in KEYS if key.strength is GRAFANA_SECRET)

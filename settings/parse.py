"""Raw config strings -> Settings, every problem reported at once and naming its key.

A pure function: the tests, the offline runtime and the Pulumi program all parse through it.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from enum import StrEnum
from typing import Final, TypeVar
from urllib.parse import urlsplit

from services import Port, Service, container_port
from settings.keys import GRAFANA_PASSWORD_MIN_LENGTH, KEYS_BY_NAME, camel
from settings.model import (
    PROJECT,
    Alerting,
    AlertThresholds,
    BackendAuth,
    Binding,
    Duration,
    GrafanaApi,
    Receiver,
    Redis,
    RedisAuth,
    Retention,
    ScrapeTarget,
    Settings,
    SettingsError,
    Severity,
    Size,
    cpus_read_back_exact,
    provider_cpus,
)

_DURATION_UNITS: Final[Mapping[str, int]] = {
    "y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1,
}
# Prometheus' duration grammar (units in descending order, each at most once), minus `ms`:
# nothing here is meant to be shorter than a second.
_DURATION_RE: Final = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_LOG_SIZE_RE: Final = re.compile(r"^[1-9]\d*[kmg]$")
_ENV_RE: Final = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_JOB_RE: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_HOST_RE: Final = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_IPV4_RE: Final = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
_IMAGE_RE: Final = re.compile(
    r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@sha256:[a-f0-9]{64})?$"
)


_E = TypeVar("_E", bound=StrEnum)


class _Parser:
    """Reads raw string values, recording each problem instead of stopping at the first."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = raw
        self.problems: list[str] = []

    def fail(self, key: str, value: object, accepted: str) -> None:
        self.problems.append(f"{PROJECT}:{key} = {value!r}: expected {accepted}")

    def text(self, name: str) -> str:
        value = self.raw.get(name)
        if value is not None:
            return value
        default = KEYS_BY_NAME[name].default
        return default if isinstance(default, str) else ""

    def required(self, name: str) -> str:
        value = self.raw.get(name, "")
        if not value:
            self.problems.append(f"{PROJECT}:{name} is required: {KEYS_BY_NAME[name].description}")
        return value

    def integer(self, name: str, minimum: int, maximum: int) -> int:
        default = KEYS_BY_NAME[name].default
        assert isinstance(default, int)
        value = self.raw.get(name)
        if value is None:
            return default
        if not re.fullmatch(r"-?\d+", value) or not minimum <= int(value) <= maximum:
            self.fail(name, value, f"a whole number from {minimum} to {maximum}")
            return default
        return int(value)

    def boolean(self, name: str) -> bool:
        default = KEYS_BY_NAME[name].default
        assert isinstance(default, bool)
        value = self.raw.get(name)
        if value is None:
            return default
        if value not in ("true", "false"):
            self.fail(name, value, "true or false")
            return default
        return value == "true"

    def duration(self, name: str, value: str | None = None, minimum: int = 1) -> Duration:
        text = self.text(name) if value is None else value
        seconds = parse_duration(text)
        if seconds is None or seconds < minimum:
            least = f", at least {Duration(minimum)}" if minimum > 1 else ""
            self.fail(name, text, f"a duration such as 30s, 15m, 72h, 7d or 4w{least}")
            return Duration(minimum)
        return Duration(seconds)

    def size(self, name: str) -> Size:
        text = self.text(name)
        size = Size.parse(text)
        if size is None:
            self.fail(name, text, "a positive size with a unit B, KB, MB, GB, TB or PB, e.g. 20GB")
            return Size(1, "GB")
        return size

    def choice(self, name: str, enum: type[_E]) -> _E:
        text = self.text(name)
        try:
            return enum(text)
        except ValueError:
            self.fail(name, text, "one of " + ", ".join(member.value for member in enum))
            return next(iter(enum))

    def array(self, name: str) -> list[str]:
        value = self.raw.get(name)
        if value is None:
            return []
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            self.fail(name, value, "a list of strings")
            return []
        return items


def parse_duration(text: str) -> int | None:
    """Seconds in a Prometheus-style duration, or None when it is not one."""
    match = _DURATION_RE.match(text)
    if not text or match is None:
        return None
    return sum(int(count) * size
               for count, size in zip(match.groups(), _DURATION_UNITS.values(), strict=True)
               if count)


def _parse_url(parser: _Parser, key: str, text: str) -> tuple[str, str, str] | None:
    """(scheme, host[:port], path) of an http(s) metrics URL, or None after recording why not."""
    accepted = "an http:// or https:// URL with a host, e.g. https://api.example.com/metrics"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parser.fail(key, text, accepted)
        return None
    if (parts.scheme not in ("http", "https") or not parts.hostname
            or not _HOST_RE.match(parts.hostname) or parts.query or parts.fragment
            or parts.username or parts.password):
        # Credentials in a URL would land in plain YAML: they belong in a secret instead.
        parser.fail(key, text, accepted + " (no credentials, query or fragment)")
        return None
    address = parts.hostname if port is None else f"{parts.hostname}:{port}"
    return parts.scheme, address, parts.path or "/metrics"


def _parse_target(parser: _Parser, key: str, item: str,
                  defaults: ScrapeTarget) -> ScrapeTarget | None:
    fields = ("job", "url", "env", "interval", "timeout")
    accepted = "`job=<name> url=<http(s) URL> env=<label>` and optional `interval=`, `timeout=`"
    try:
        pairs = dict(token.split("=", 1) for token in shlex.split(item))
    except ValueError:
        parser.fail(key, item, accepted)
        return None
    unknown = sorted(set(pairs) - set(fields))
    missing = [field for field in ("job", "url", "env") if field not in pairs]
    if unknown or missing:
        detail = "; ".join(filter(None, (
            f"unknown field(s) {', '.join(unknown)}" if unknown else "",
            f"missing {', '.join(missing)}" if missing else "")))
        parser.fail(key, item, f"{accepted} ({detail})")
        return None
    if not _JOB_RE.match(pairs["job"]):
        parser.fail(key, item, "job names of letters, digits and underscores")
    if not _ENV_RE.match(pairs["env"]):
        parser.fail(key, item, "env labels of lower-case letters, digits, - and _")
    url = _parse_url(parser, key, pairs["url"])
    interval = parser.duration(key, pairs["interval"]) if "interval" in pairs else defaults.interval
    timeout = parser.duration(key, pairs["timeout"]) if "timeout" in pairs else defaults.timeout
    if url is None:
        return None
    return ScrapeTarget(pairs["job"], *url, env=pairs["env"], interval=interval, timeout=timeout)


def _parse_bind(parser: _Parser, port: Port) -> Binding | None:
    name = f"{port}Bind"
    text = parser.text(name)
    if text == "none":
        return None
    host, _, number = text.rpartition(":")
    octets = _IPV4_RE.match(host)
    if (octets is None or any(int(o) > 255 for o in octets.groups())
            or not number.isdigit() or not 1 <= int(number) <= 65535):
        example = f"127.0.0.1:{container_port(Port.PROMETHEUS)}"
        parser.fail(name, text, f"`<IPv4 address>:<port>` such as {example}, or `none`")
        return None
    return Binding(host, int(number))


def _valid_redis_address(text: str) -> bool:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return False
    return (parts.scheme in ("redis", "rediss") and bool(parts.hostname) and port is not None
            and _HOST_RE.match(parts.hostname or "") is not None and not parts.username
            and not parts.password and parts.path in ("", "/") and not parts.query)


def _check_image(parser: _Parser, name: str, image: str) -> None:
    match = _IMAGE_RE.match(image)
    if match is None or (match["tag"] in (None, "latest") and "@sha256:" not in image):
        parser.fail(name, image, "an image pinned to a version tag or digest, "
                                 "e.g. grafana/loki:3.7.6 (never `latest`)")


def parse_settings(stack: str, raw: Mapping[str, str], secrets_set: frozenset[str],
                   plain_secrets: frozenset[str] = frozenset(),
                   secret_values: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from raw config strings (keys without the project prefix).

    `secrets_set` names the secret keys the stack sets; `plain_secrets` those set without
    `--secret`, which would leave the value readable in the stack file. `secret_values`, where
    given (the running program), are their values, for the rules on a secret's form; the
    values never reach a problem's text.
    """
    parser = _Parser(raw)
    for name in sorted(set(raw) - set(KEYS_BY_NAME)):
        parser.problems.append(f"{PROJECT}:{name} is not a known key; known keys are listed in "
                               "Pulumi.yaml and the README")
    for name in sorted(plain_secrets):
        parser.problems.append(f"{PROJECT}:{name} is a secret: set it with "
                               f"`pulumi config set --secret {name} <value>`")

    environment = raw.get("environment") or stack
    if not _ENV_RE.match(environment):
        parser.fail("environment", environment, "lower-case letters, digits, - and _ "
                                                "(at most 32), starting with a letter")

    metrics_time = parser.duration("metricsRetentionTime", minimum=3600)
    logs = parser.duration("logsRetention", minimum=86400)
    traces = parser.duration("tracesRetention", minimum=3600)
    retention = Retention(metrics_time=metrics_time,
                          metrics_size=parser.size("metricsRetentionSize"),
                          logs=logs, traces=traces)

    auth = parser.choice("backendAuth", BackendAuth)
    backend_text = parser.required("backendMetricsUrl")
    backend_url = _parse_url(parser, "backendMetricsUrl", backend_text) if backend_text else None
    backend = ScrapeTarget(
        f"gatewayz_{environment.replace('-', '_')}", *(backend_url or ("https", "invalid", "/")),
        env=environment,
        interval=parser.duration("backendScrapeInterval"),
        timeout=parser.duration("backendScrapeTimeout"),
        auth=auth,
    )
    extra_targets = tuple(
        target for item in parser.array("extraTargets")
        if (target := _parse_target(parser, "extraTargets", item, backend)) is not None)
    for key, target in (("backendScrapeTimeout", backend),
                        *(("extraTargets", extra) for extra in extra_targets)):
        if target.timeout > target.interval:
            parser.fail(key, str(target.timeout), f"a scrape timeout no longer than job "
                                                  f"{target.job}'s interval {target.interval}")

    redis_auth = parser.choice("redisAuth", RedisAuth)
    redis_address = parser.text("redisAddress")
    redis = Redis(redis_address, parser.text("redisUser"), redis_auth) if redis_address else None
    if redis is not None and not _valid_redis_address(redis_address):
        parser.fail("redisAddress", redis_address,
                    "`redis://host:port` or `rediss://host:port`, without credentials")
    if redis is None and redis_auth is RedisAuth.PASSWORD:
        parser.problems.append(f"{PROJECT}:redisAuth is `password` but no redisAddress is set")

    receivers = {severity: parser.choice(f"alert{severity.title()}Receiver", Receiver)
                 for severity in Severity}
    heartbeat = _parse_heartbeat(parser)
    _check_required_secrets(parser, secrets_set, {
        "backendBearerToken": auth is BackendAuth.BEARER,
        "redisPassword": redis_auth is RedisAuth.PASSWORD,
        "alertSlackWebhookUrl": Receiver.SLACK in receivers.values(),
        "alertWebhookUrl": Receiver.WEBHOOK in receivers.values(),
        "alertHeartbeatUrl": heartbeat is not None,
    })

    images = {service: parser.text(f"{camel(service)}Image") for service in Service}
    for service, image in images.items():
        _check_image(parser, f"{camel(service)}Image", image)
    memory = {service: parser.integer(f"{camel(service)}MemoryMb", 32, 65536)
              for service in Service}
    cpu = {service: _parse_cpu(parser, f"{camel(service)}CpuMillis") for service in Service}
    bindings = {port: _parse_bind(parser, port) for port in Port}

    grafana_bind = bindings[Port.GRAFANA]
    default_grafana_url = (f"http://{grafana_bind.host_ip.replace('0.0.0.0', '127.0.0.1')}:"
                           f"{grafana_bind.port}" if grafana_bind else "")
    grafana_url = raw.get("grafanaUrl") or default_grafana_url
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", grafana_url):
        parser.fail("grafanaUrl", grafana_url,
                    "an http(s) URL to reach Grafana (needed when `grafanaBind` is `none`)")

    log_max_size = parser.text("logMaxSize")
    if not _LOG_SIZE_RE.match(log_max_size):
        parser.fail("logMaxSize", log_max_size, "a size with unit k, m or g, e.g. 10m")

    thresholds = AlertThresholds(
        error_ratio=parser.integer("alertErrorRatioPercent", 1, 100) / 100,
        latency_p95_seconds=parser.integer("alertLatencyP95Ms", 1, 600_000) / 1000,
        ttfb_p95_seconds=parser.integer("alertTtfbP95Ms", 1, 600_000) / 1000,
        streaming_p95_seconds=parser.integer("alertStreamingP95Ms", 1, 3_600_000) / 1000,
        inference_error_ratio=parser.integer("alertInferenceErrorRatioPercent", 1, 100) / 100,
        inference_p95_seconds=parser.integer("alertInferenceP95Ms", 1, 3_600_000) / 1000,
        rate_limited_per_second=parser.integer("alertRateLimitedPerSecond", 1, 1_000_000),
        redis_memory_ratio=parser.integer("alertRedisMemoryPercent", 1, 100) / 100,
        disk_ratio=parser.integer("alertDiskPercent", 1, 100) / 100,
        notification_error_ratio=parser.integer("alertNotificationErrorPercent", 1, 100) / 100,
        loki_error_ratio=parser.integer("alertLokiErrorPercent", 1, 100) / 100,
        loki_retention_stale_seconds=parser.integer("alertLokiRetentionStaleHours", 1, 168)
        * 3600,
    )

    settings = Settings(
        stack=stack,
        environment=environment,
        retention=retention,
        scrape_interval=parser.duration("scrapeInterval"),
        evaluation_interval=parser.duration("evaluationInterval"),
        backend=backend,
        extra_targets=extra_targets,
        redis=redis,
        grafana=GrafanaApi(grafana_url, parser.text("grafanaAdminUser") or "admin"),
        images=images,
        memory_mb=memory,
        cpu_millis=cpu,
        bindings=bindings,
        log_max_size=log_max_size,
        log_max_file=parser.integer("logMaxFile", 1, 100),
        protect_data=parser.boolean("protectData"),
        alerting=Alerting(receivers, parser.text("alertSlackChannel"), thresholds, heartbeat),
    )
    _check_unique_jobs(parser, settings)
    _check_grafana_password(parser, (secret_values or {}).get("grafanaAdminPassword"))
    if parser.problems:
        raise SettingsError(stack, parser.problems)
    return settings


def _parse_heartbeat(parser: _Parser) -> Duration | None:
    """The Watchdog's repeat interval where the stack has a dead man's switch, else None."""
    enabled = parser.boolean("alertHeartbeat")
    interval = parser.duration("alertHeartbeatRepeatInterval", minimum=60)
    if interval.seconds > 3600:
        # Longer, and a dead alerting chain goes unnoticed for hours.
        parser.fail("alertHeartbeatRepeatInterval", parser.text("alertHeartbeatRepeatInterval"),
                    "a duration from 1m to 1h")
    return interval if enabled else None


def _check_required_secrets(parser: _Parser, secrets_set: frozenset[str],
                            needed: Mapping[str, bool]) -> None:
    for name, required in needed.items():
        if required and name not in secrets_set:
            parser.problems.append(f"{PROJECT}:{name} is required by this stack's settings: "
                                   f"set it with `pulumi config set --secret {name} <value>`")


def _parse_cpu(parser: _Parser, name: str) -> int:
    """From a tenth of a CPU; the most is the host's CPU count, which Docker checks at create."""
    millis = parser.integer(name, 100, 256_000)
    if not cpus_read_back_exact(millis):
        parser.fail(name, str(millis), f"a limit the docker provider reads back as written (it "
                                       f"reads {millis / 1000:g} CPUs as "
                                       f"{provider_cpus(millis)}), e.g. a multiple of 100")
    return millis


def _check_grafana_password(parser: _Parser, password: str | None) -> None:
    """A configured Grafana admin password is long enough; its value is never shown."""
    if password is not None and len(password) < GRAFANA_PASSWORD_MIN_LENGTH:
        parser.problems.append(
            f"{PROJECT}:grafanaAdminPassword is {len(password)} characters long: expected at "
            f"least {GRAFANA_PASSWORD_MIN_LENGTH} (or unset it, and one is generated)")


def _check_unique_jobs(parser: _Parser, settings: Settings) -> None:
    """Two jobs on one endpoint double every series; two jobs of one name break Prometheus."""
    seen_jobs = {service.job for service in Service}
    seen_urls: set[str] = set()
    for target in settings.external_targets:
        if target.job in seen_jobs:
            parser.problems.append(f"{PROJECT}:extraTargets: job {target.job!r} is already used")
        if target.url in seen_urls:
            parser.problems.append(f"{PROJECT}:extraTargets: {target.url} is already scraped")
        seen_jobs.add(target.job)
        seen_urls.add(target.url)



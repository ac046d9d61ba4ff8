"""`make verify`'s vocabulary: what a check is given (`Context`: where each service answers,
what the settings say it should show), what it returns (`Result`), and the HTTP helpers that turn
failures into results."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, NamedTuple

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from configs.datasources import TYPES, Uid, datasources
from configs.mixins import dashboards, rule_files
from configs.prometheus import job_env, prometheus_config
from services import SERVICES, Listener, Published, Service
from settings import Settings

# Short enough that a stack with nothing listening is reported in seconds, long enough for a
# loaded Prometheus to answer /api/v1/targets.
TIMEOUT_SECONDS: Final = 2.0
# How long --synthetic waits for its span and line to come back: Tempo's generator writes span
# metrics on its collection interval (15 s by default), so a few of those.
SYNTHETIC_WAIT_SECONDS: Final = 60.0
POLL_SECONDS: Final = 2.0
SYNTHETIC_SERVICE: Final = "gatewayz-verify"
# The kube-prometheus name for the always-firing alert that feeds a dead man's switch.
WATCHDOG_ALERT: Final = "Watchdog"
# Labels of a probe alert for routing: a name no rule uses, so only `severity` decides.
ROUTE_PROBE: Final = "VerifyRoutingProbe"
# Tempo's span-metric and service-graph series (tempo@v3.0.3 modules/generator/processor/
# spanmetrics and servicegraphs), remote-written into Prometheus.
SPAN_METRIC: Final = "traces_spanmetrics_calls_total"
SERVICE_GRAPH_METRIC: Final = "traces_service_graph_request_total"
# Loki's compactor, on its /metrics (loki@v3.7.6 pkg/compactor/metrics.go).
LOKI_RETENTION_RUN: Final = "loki_compactor_apply_retention_last_successful_run_timestamp_seconds"
# Tempo's generator and its remote write, which goes through Prometheus' queue manager and is
# registered unprefixed on Tempo's /metrics (tempo@v3.0.3 modules/generator/storage/instance.go).
TEMPO_ACTIVE_PROCESSORS: Final = "tempo_metrics_generator_active_processors"
REMOTE_SAMPLES_SENT: Final = "prometheus_remote_storage_samples_total"
REMOTE_SAMPLES_FAILED: Final = "prometheus_remote_storage_samples_failed_total"
# Grafana's Alertmanager datasource has no backend (grafana@v13.2.0
# public/app/plugins/datasource/alertmanager/plugin.json sets no `backend`), so its health API
# has nothing to call; it is reached through Grafana's datasource proxy instead.
PROXIED_HEALTH: Final[Mapping[str, str]] = {TYPES[Uid.ALERTMANAGER]: "/api/v2/status"}
# make verify speaks HTTP, so it calls the published endpoints whose listener does (not Tempo's
# OTLP gRPC receiver).
HTTP_LISTENERS: Final = frozenset({Listener.HTTP, Listener.OTLP_HTTP})


def _url_name(endpoint: Published) -> str:
    """An endpoint's Urls field and `--<name>-url` flag: its service's job name, followed by the
    listener for any but the HTTP one (`tempo`, `tempo_otlp_http`)."""
    facts = endpoint.owner
    listener = facts.published[endpoint].listener
    if listener is Listener.HTTP:
        return facts.service.job
    return f"{facts.service.job}_{listener.value.replace('-', '_')}"


# The published endpoints make verify calls, by their Urls field, in the order of services.py's
# SERVICES table (the order `Urls` declares its fields and the report lists addresses in).
ENDPOINTS: Final[Mapping[str, Published]] = {
    _url_name(endpoint): endpoint for facts in SERVICES.values()
    for endpoint, publication in facts.published.items()
    if publication.listener in HTTP_LISTENERS}
# Stack outputs (__main__.py, each endpoint's `Publication.output`) by the Urls field they fill.
OUTPUTS: Final[Mapping[str, str]] = {
    name: output for name, endpoint in ENDPOINTS.items()
    if (output := endpoint.owner.published[endpoint].output) is not None}


class Result(NamedTuple):
    """One check: its name, whether it passed, and what it saw (or why it could not look).
    `unreachable` is the base URL that did not answer when that is why it failed: the check
    could not look at all."""

    name: str
    ok: bool
    value: str
    unreachable: str | None = None


@dataclass(frozen=True)
class Urls:
    """Where this machine reaches each endpoint of `ENDPOINTS`, a field each in its order
    (tests/test_verify.py holds the two together), then redis_exporter, which is not published:
    None means `redis_up` is read through Prometheus. Fields, not a mapping, so a check reads
    its endpoint typed (`ctx.urls.loki`) and a caller replaces one (`dataclasses.replace`)."""

    prometheus: str
    loki: str
    tempo: str
    tempo_otlp_http: str
    grafana: str
    alertmanager: str
    redis_exporter: str | None = None


# Every Urls field, in order: the `--<name>-url` flags of `make verify`.
URL_NAMES: Final = tuple(item.name for item in fields(Urls))



@dataclass(frozen=True)
class Expected:
    """What the stack's settings say a healthy deployment shows."""

    environment: str
    # Scrape job -> its `env` label, as the rendered prometheus.yml has them.
    jobs: Mapping[str, str]
    rule_groups: tuple[str, ...]
    # Severity -> receiver name (configs/alertmanager.py).
    receivers: Mapping[str, str]
    logs_retention_seconds: int
    traces_retention_seconds: int
    # Datasource uid -> plugin type.
    datasources: Mapping[str, str]
    dashboards: tuple[str, ...]
    # The services the stack runs (`Settings.services`): each one's checks run, no other's.
    services: tuple[Service, ...]
    # The stack routes a Watchdog to a heartbeat (`alertHeartbeatUrl`): then it must be firing.
    heartbeat: bool = False


@dataclass(frozen=True)
class Context:
    urls: Urls
    expected: Expected
    client: httpx.Client
    grafana_auth: tuple[str, str] | None = field(default=None, repr=False)
    synthetic_wait_seconds: float = SYNTHETIC_WAIT_SECONDS
    # Base URL -> why it did not answer, filled as the checks run: every later request to it
    # fails at once, whichever check makes it.
    unreachable: dict[str, str] = field(default_factory=dict)
    # Base URLs that answered at least once (any HTTP status).
    answered: set[str] = field(default_factory=set)


def expected_for(settings: Settings) -> Expected:
    """Expectations from the stack's settings, through the builders that render its files."""
    config: dict[str, Any] = prometheus_config(settings, [])
    files: dict[str, dict[str, Any]] = rule_files(settings)
    return Expected(
        environment=settings.environment,
        jobs={job["job_name"]: job_env(job) for job in config["scrape_configs"]},
        rule_groups=tuple(str(group["name"]) for document in files.values()
                          for group in document["groups"]),
        receivers={severity.value: receiver.value
                   for severity, receiver in settings.alerting.receivers.items()},
        logs_retention_seconds=settings.retention.logs.seconds,
        traces_retention_seconds=settings.retention.traces.seconds,
        datasources={source.uid.value: source.type for source in datasources(settings)},
        dashboards=tuple(dashboard.uid for dashboard in dashboards(settings)),
        services=settings.services,
        heartbeat=settings.alerting.heartbeat_interval is not None,
    )


def published_urls(settings: Settings) -> Urls:
    """The URLs the stack publishes on its Docker host (its `*Bind` settings), as its outputs
    compute them; an unpublished port gives the in-network URL, which fails naming it."""
    return Urls(**{name: settings.url(endpoint) for name, endpoint in ENDPOINTS.items()})


@contextlib.contextmanager
def open_context(urls: Urls, expected: Expected, *, grafana_auth: tuple[str, str] | None = None,
                 timeout: float = TIMEOUT_SECONDS,
                 synthetic_wait_seconds: float = SYNTHETIC_WAIT_SECONDS) -> Iterator[Context]:
    """A context with one HTTP client whose every request times out after `timeout` seconds."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        yield Context(urls, expected, client, grafana_auth, synthetic_wait_seconds)


# --- HTTP, and failures as results ---------------------------------------------------------


class CheckError(Exception):
    """What a check saw instead of what it wanted; the message names the URL. `unreachable` is
    the base URL that did not answer, when that is what went wrong."""

    def __init__(self, message: str, unreachable: str | None = None) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def no_answer(error: httpx.TransportError, timeout: httpx.Timeout) -> str:
    """Why a request got no answer, in words: refused, unknown host, timed out."""
    name = type(error).__name__
    text = str(error) or "no answer"
    if isinstance(error, httpx.ConnectTimeout):
        return f"no connection within {timeout.connect:g}s ({name})"
    if isinstance(error, httpx.TimeoutException):
        return f"connected, but no answer within {timeout.read:g}s ({name})"
    if isinstance(error, httpx.ConnectError):
        lowered = text.lower()
        if "refused" in lowered:
            return f"connection refused: nothing listens there ({name})"
        if any(words in lowered for words in ("name or service not known", "nodename nor",
                                              "name resolution", "no address associated")):
            return f"host name not found ({name}: {text})"
    return f"{name}: {text}"


class Endpoint:
    """One service's base URL. After the first request it cannot deliver (refused, timed out),
    every later request to that address fails at once with the same reason, so a down service
    costs one timeout, not one per check."""

    def __init__(self, ctx: Context, base: str, auth: tuple[str, str] | None = None) -> None:
        self.ctx, self.base, self.auth = ctx, base.rstrip("/"), auth

    @property
    def down(self) -> str | None:
        return self.ctx.unreachable.get(self.base)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.base}{path}"
        if self.down is not None:
            raise CheckError(f"{url}: not sent, {self.base} did not answer ({self.down})",
                             unreachable=self.base)
        try:
            response = self.ctx.client.request(method, url, auth=self.auth, **kwargs)
        except httpx.TransportError as error:
            self.ctx.unreachable[self.base] = no_answer(error, self.ctx.client.timeout)
            raise CheckError(f"{url}: {self.down}", unreachable=self.base) from error
        self.ctx.answered.add(self.base)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def ok(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET that must answer 2xx."""
        response = self.get(path, **kwargs)
        if not response.is_success:
            raise CheckError(f"{response.request.url}: HTTP {response.status_code} "
                             f"{excerpt(response.text)}")
        return response

    def json(self, path: str, **kwargs: Any) -> Any:
        response = self.ok(path, **kwargs)
        try:
            return response.json()
        except ValueError as error:
            raise CheckError(f"{response.request.url}: not JSON: {excerpt(response.text)}") \
                from error


def excerpt(text: str, limit: int = 200) -> str:
    """A response body on one line: whole up to `limit` characters, else its start and how much
    was left out (an HTML error page can be kilobytes)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... (body shortened, {len(text) - limit} more characters)"


def check(name: str, probe: Callable[[], tuple[bool, str]]) -> Result:
    """Run one probe; a failed request or an answer of the wrong shape is a FAIL, never a
    traceback."""
    try:
        ok, value = probe()
    except CheckError as error:
        return Result(name, False, str(error), error.unreachable)
    except (AttributeError, LookupError, TypeError, ValueError, yaml.YAMLError) as error:
        return Result(name, False, f"unexpected answer: {type(error).__name__}: {error}")
    return Result(name, ok, value)


def ready(endpoint: Endpoint, name: str, path: str) -> Result:
    def probe() -> tuple[bool, str]:
        response = endpoint.ok(path)
        return True, f"{response.request.url}: HTTP {response.status_code} " \
                     f"{excerpt(response.text, 60)}"
    return check(name, probe)


_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_DURATION_SECONDS: Final[Mapping[str, float]] = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400,
    "w": 7 * 86400, "y": 365 * 86400}


def duration_seconds(text: str) -> float:
    """Seconds in a duration as Loki and Tempo print their config: Prometheus' model.Duration
    (`1w`, `30d`) or Go's time.Duration (`720h0m0s`)."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * _DURATION_SECONDS[unit] for number, unit in parts)


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Samples of one metric in Prometheus' text format (counters by their `_total` name)."""
    return [(dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]


def promql_query(endpoint: Endpoint, expr: str) -> list[dict[str, Any]]:
    body = endpoint.json("/api/v1/query", params={"query": expr})
    if body.get("status") != "success":
        raise CheckError(f"{endpoint.base}/api/v1/query {expr}: {body.get('error', body)}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result

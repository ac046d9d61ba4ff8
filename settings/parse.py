"""Raw config strings -> Settings, every problem reported at once and naming its key.

A pure function: the tests, the offline runtime and the Pulumi program all parse through it.
Bounds, URL schemes, a password's strength and the opt-in a bind needs beyond loopback are the key
table's (settings/keys.py); this module applies them. Patterns are ASCII-only and matched whole
(`fullmatch`): `\\d`, `str.isdigit()` and `int()` take any script's digits, and `$` matches before
a trailing newline, neither of which any service reads the same way.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations
from typing import Final, TypeVar

from services import SERVICES, LokiTarget, Published, Service, container_name, docker_prefix
from settings.keys import (
    KEYS_BY_NAME,
    LOCAL_REPOSITORY,
    STANDIN_SUFFIX,
    UPSTREAM_REPOSITORIES,
    Bounds,
    Unit,
    camel,
    storage_key,
)
from settings.model import (
    PROJECT,
    Alerting,
    AlertThresholds,
    BackendAuth,
    Binding,
    Duration,
    GrafanaApi,
    Heartbeat,
    Kind,
    Kubernetes,
    ObjectStorage,
    Platform,
    Receiver,
    Redis,
    RedisAuth,
    Retention,
    ScrapeTarget,
    Secret,
    Settings,
    SettingsError,
    Severity,
    Size,
    cluster_url,
    cpus_read_back_exact,
    ingress_url,
    port_url,
    provider_cpus,
)

_DURATION_UNITS: Final[Mapping[str, int]] = {
    "y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1,
}
# Prometheus' duration grammar (units in descending order, each at most once), minus `ms`:
# nothing here is meant to be shorter than a second.
_DURATION_RE: Final = re.compile(
    r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_LOG_SIZE_RE: Final = re.compile(r"([1-9][0-9]*)([kmg])")
_LOG_SIZE_POWERS: Final[Mapping[str, int]] = {"k": 1, "m": 2, "g": 3}
# The longest `env` label (and backend job suffix) the stack takes.
_ENV_MAX: Final = 32
_ENV_RE: Final = re.compile(rf"[a-z][a-z0-9_-]{{0,{_ENV_MAX - 1}}}")
_JOB_RE: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# A namespace's name: a DNS-1123 label (k8s.io/apimachinery pkg/util/validation IsDNS1123Label).
_DNS_LABEL_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# A StorageClass's or IngressClass's name: a DNS-1123 subdomain (IsDNS1123Subdomain).
_DNS_SUBDOMAIN_RE: Final = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
# S3's bucket naming rules (docs.aws.amazon.com, "General purpose bucket naming rules").
_BUCKET_RE: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
# What Pulumi allows in a stack name, which every Docker name of the stack carries.
_STACK_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
# Each octet decimal without leading zeros: `010` is 8 to inet_aton and 10 to Go.
_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4_RE: Final = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_PORT_RE: Final = re.compile(r"[1-9][0-9]{0,4}")
# TCP's highest port; _PORT_RE takes five digits, this bounds them.
_PORT_MAX: Final = 65535
_PORT_RANGE: Final = f"a port from 1 to {_PORT_MAX}"
_URL_RE: Final = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>[0-9]+))?"
    r"(?P<path>/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?"
    r"(?:\?(?P<query>[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*))?")
_GRAFANA_USER_MAX: Final = 64
_GRAFANA_USER_RE: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@-]{{0,{_GRAFANA_USER_MAX - 1}}}")
# Printable ASCII but space; surrounding whitespace and control characters are refused for every
# value: a YAML block scalar ends in a newline, and `$(cat file)` or Prometheus'
# credentials_file drop it, so a service would read another value than the one set.
_CLEAN_RE: Final = re.compile(r"[^\x00-\x1f\x7f]*")
# The runbooks' base: an http(s) URL, or a relative path to a Markdown file.
_RUNBOOK_BASE_RE: Final = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?"
    r"|[A-Za-z0-9_.-][A-Za-z0-9_./-]*\.md")
# Docker's reference grammar (distribution/reference), split into its parts.
_IMAGE_RE: Final = re.compile(
    r"(?P<repository>(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?")
# A release tag, which names one build: X.Y.Z, optionally `v` before and a variant after
# (`v1.88.0-alpine`). `latest`, `main` or `3.7` move to whatever is pushed next.
_RELEASE_TAG_RE: Final = re.compile(r"v?[0-9]+\.[0-9]+\.[0-9]+(?:[-_.][A-Za-z0-9_.-]+)?")
_MIRROR_RE: Final = re.compile(
    r"[a-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_DOCKER_HUB: Final = ("docker.io/", "index.docker.io/")
_LOOPBACK: Final = "127."
_ANY: Final = "0.0.0.0"
# A namespace this near ours is ours misspelt (`gatewayz-observabilty`): its keys would be
# silently ignored.
_NAMESPACE_DISTANCE: Final = 3
_NAMESPACE_FAMILY: Final = "gatewayz"


# The secret URL each receiver delivers to, where a severity routes to it.
RECEIVER_URLS: Final[Mapping[Receiver, str]] = {Receiver.SLACK: "alertSlackWebhookUrl",
                                                Receiver.WEBHOOK: "alertWebhookUrl"}

_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True)
class Url:
    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def address(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


class _Parser:
    """Reads raw string values, recording each problem instead of stopping at the first."""

    def __init__(self, raw: Mapping[str, str], string_lists: frozenset[str] = frozenset()) -> None:
        # Array keys the stack file holds as a string (JSON text included), not as a list.
        self.string_lists = string_lists
        self.problems: list[str] = []
        self.raw: dict[str, str] = {}
        for name, value in raw.items():
            key = KEYS_BY_NAME.get(name)
            if key is not None and key.kind is not Kind.ARRAY and not clean(value):
                self.unclean(name, value)
            else:
                self.raw[name] = value

    def fail(self, key: str, value: object, accepted: str) -> None:
        self.problems.append(f"{PROJECT}:{key} = {value!r}: expected {accepted}")

    def fail_secret(self, key: str, accepted: str) -> None:
        # A secret's value never reaches a message.
        self.problems.append(f"{PROJECT}:{key} (secret, value not shown): expected {accepted}")

    def unclean(self, key: str, value: str) -> None:
        self.fail(key, value, "a value without surrounding whitespace or control characters "
                              "(a YAML block scalar `|` ends in a newline: use a plain or quoted "
                              "one)")

    def text(self, name: str) -> str:
        value = self.raw.get(name)
        if value is not None:
            return value
        default = KEYS_BY_NAME[name].default
        return default if isinstance(default, str) else ""

    def required(self, name: str) -> str:
        value = self.raw.get(name, "")
        if not value and not self.named(name):
            self.problems.append(f"{PROJECT}:{name} is required: {KEYS_BY_NAME[name].description}")
        return value

    def named(self, name: str) -> bool:
        """Whether a problem names this key already."""
        return any(problem.startswith(f"{PROJECT}:{name} ") for problem in self.problems)

    def bounds(self, name: str) -> Bounds:
        bounds = KEYS_BY_NAME[name].bounds
        assert bounds is not None, f"{name} has no bounds in settings/keys.py"
        return bounds

    def integer(self, name: str) -> int:
        default = KEYS_BY_NAME[name].default
        assert isinstance(default, int)
        bounds = self.bounds(name)
        value = self.raw.get(name)
        if value is None:
            return default
        if not re.fullmatch(r"-?[0-9]+", value) or int(value) not in bounds:
            self.fail(name, value, f"a whole number from {bounds.minimum} to {bounds.maximum}")
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

    def duration(self, name: str, value: str | None = None,
                 bounds_of: str | None = None) -> Duration:
        """A duration key's value (or `value`, read for key `name` with the bounds of key
        `bounds_of`), within its bounds."""
        text = self.text(name) if value is None else value
        bounds = self.bounds(bounds_of or name)
        seconds = parse_duration(text)
        if seconds is None or seconds not in bounds:
            self.fail(name, text, f"a duration such as 30s, 15m, 72h, 7d or 4w, "
                                  f"from {bounds.describe()}")
            return Duration(bounds.minimum)
        return Duration(seconds)

    def size(self, name: str) -> Size:
        text = self.text(name)
        bounds = self.bounds(name)
        size = Size.parse(text)
        if size is None or size.bytes not in bounds:
            self.fail(name, text, "a positive size with a unit B, KB, MB, GB, TB or PB "
                                  f"(base 2), e.g. 20GB, from {bounds.describe()}")
            return Size.of_bytes(bounds.minimum)
        return size

    def log_size(self, name: str) -> str:
        text = self.text(name)
        bounds = self.bounds(name)
        assert bounds.unit is Unit.LOG_BYTES
        match = _LOG_SIZE_RE.fullmatch(text)
        if match is None or int(match[1]) << (10 * _LOG_SIZE_POWERS[match[2]]) not in bounds:
            self.fail(name, text, f"a size with unit k, m or g, e.g. 10m, from "
                                  f"{bounds.describe()}")
        return text

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
        if (name in self.string_lists or not isinstance(items, list)
                or not all(isinstance(item, str) for item in items)):
            self.problems.append(string_list_problem(name, value) if name in self.string_lists
                                 else list_problem(name, value, items))
            return []
        for item in items:
            if not clean(item):
                self.unclean(name, item)
        return [item for item in items if clean(item)]


def clean(value: str) -> bool:
    """No surrounding whitespace, no control character (a newline, a tab) anywhere."""
    return value == value.strip() and _CLEAN_RE.fullmatch(value) is not None


def string_list_problem(name: str, value: str) -> str:
    """The problem of an array key set as one string (plain, or JSON text): the CLI's own
    refusal at `pulumi preview`, with the `--path` form that sets a list."""
    try:
        items = json.loads(value)
    except json.JSONDecodeError:
        items = None
    return list_problem(name, value, items, as_string=True)


def list_problem(name: str, value: str, items: object, *, as_string: bool = False) -> str:
    """Why an array key's value is not a list of strings, and the one CLI form that sets it:
    `pulumi config set --path '<key>[0]' '<item>'`, then `[1]`, ... (pulumi config set --help).
    A plain `pulumi config set <key> '<text>'` stores one string, JSON text included, which the
    CLI takes, then refuses at `pulumi preview` ("must be of type 'array<string>'")."""
    key = KEYS_BY_NAME[name]
    example = key.item or "<item>"
    if isinstance(items, list) and not as_string:
        # Objects (`--path '<key>[0].job'`) or numbers where each item is one string.
        what = "items that are not strings: each item is one string, not an object"
    else:
        what = ("one string, not a list: `pulumi config set " + name + " '...'` stores a string "
                "(pulumi preview refuses it: \"must be of type 'array<string>'\")")
        if isinstance(items, list) and items and isinstance(items[0], str):
            example = items[0]
        elif not isinstance(items, list):
            # A plain string is most likely one item: show it set as the first.
            example = value
    return (f"{PROJECT}:{name} = {value!r}: expected a list of strings such as "
            f"{key.item or '<item>'!r}, got {what}. Set each item by its index, in order: "
            f"`pulumi config set --path '{name}[0]' {shlex.quote(example)}`, then "
            f"`--path '{name}[1]' ...` (`pulumi config rm {name}` first clears the list)")


def parse_duration(text: str) -> int | None:
    """Seconds in a Prometheus-style duration, or None when it is not one."""
    match = _DURATION_RE.fullmatch(text)
    if not text or match is None:
        return None
    return sum(int(count) * size
               for count, size in zip(match.groups(), _DURATION_UNITS.values(), strict=True)
               if count)


def valid_host(host: str) -> bool:
    """A DNS name, or an IPv4 address in its one dotted-decimal form (no leading zeros)."""
    if re.fullmatch(r"[0-9.]+", host):
        return _IPV4_RE.fullmatch(host) is not None
    return len(host) <= 253 and _HOSTNAME_RE.fullmatch(host) is not None


def parse_url(text: str, schemes: Iterable[str], *, query: bool = False) -> Url | None:
    """The parts of a URL of one of `schemes`: host, a port of `_PORT_RANGE`, a path; a query
    only where `query`; never credentials or a fragment. None when it is not one."""
    match = _URL_RE.fullmatch(text)
    if (match is None or match["scheme"] not in schemes or not valid_host(match["host"])
            or (match["query"] is not None and not query)):
        return None
    port = match["port"]
    if port is not None and (not _PORT_RE.fullmatch(port) or int(port) > _PORT_MAX):
        return None
    path = (match["path"] or "") + (f"?{match['query']}" if match["query"] is not None else "")
    return Url(match["scheme"], match["host"].lower(), None if port is None else int(port), path)


def _url_form(schemes: Iterable[str], example: str) -> str:
    listed = " or ".join(f"{scheme}://" for scheme in schemes)
    return (f"an {listed} URL with a host (a DNS name or an IPv4 address without leading zeros), "
            f"an optional {_PORT_RANGE} and a path, e.g. {example} "
            "(no credentials, query or fragment, no spaces)")


def _parse_url(parser: _Parser, key: str, text: str) -> tuple[str, str, str] | None:
    """(scheme, host[:port], path) of an http(s) metrics URL, or None after recording why not."""
    schemes = KEYS_BY_NAME["backendMetricsUrl"].schemes
    url = parse_url(text, schemes)
    if url is None:
        # Credentials in a URL would land in plain YAML: they belong in a secret instead.
        parser.fail(key, text, _url_form(schemes, "https://api.example.com/metrics"))
        return None
    return url.scheme, url.address, url.path or "/metrics"


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
    if not _JOB_RE.fullmatch(pairs["job"]):
        parser.fail(key, item, "job names of letters, digits and underscores")
    if not _ENV_RE.fullmatch(pairs["env"]):
        parser.fail(key, item, "env labels of lower-case letters, digits, - and _")
    url = _parse_url(parser, key, pairs["url"])
    interval = (parser.duration(key, pairs["interval"], "backendScrapeInterval")
                if "interval" in pairs else defaults.interval)
    timeout = (parser.duration(key, pairs["timeout"], "backendScrapeTimeout")
               if "timeout" in pairs else defaults.timeout)
    if url is None:
        return None
    return ScrapeTarget(pairs["job"], *url, env=pairs["env"], interval=interval, timeout=timeout)


def _parse_bind(parser: _Parser, port: Published) -> Binding | None:
    name = port.bind_key
    text = parser.text(name)
    if text == "none":
        return None
    host, _, number = text.rpartition(":")
    example = f"127.0.0.1:{port.container_port}"
    if (_IPV4_RE.fullmatch(host) is None or not _PORT_RE.fullmatch(number)
            or int(number) > _PORT_MAX):
        parser.fail(name, text, f"`<IPv4 address>:<port>` such as {example} (ASCII digits, "
                                f"no leading zeros, {_PORT_RANGE}), or `none`")
        return None
    exposure = KEYS_BY_NAME[name].exposure
    if exposure is not None and not host.startswith(_LOOPBACK) and not parser.boolean(exposure):
        service = port.owner.service
        parser.fail(name, text, f"a loopback address such as {example}, or `none`: {service} "
                                f"answers anyone who reaches it; `{exposure}: true` publishes "
                                f"it beyond loopback (its description says what that risks)")
        return None
    return Binding(host, int(number))


def _check_bind_conflicts(parser: _Parser, bindings: Mapping[Published, Binding | None]) -> None:
    """Two ports on one host address: Docker refuses the second container at create, after the
    provider deleted the one it replaces."""
    published = [(port, binding) for port, binding in bindings.items() if binding is not None]
    for (port, one), (other, two) in combinations(published, 2):
        shared = one.host_ip == two.host_ip or _ANY in (one.host_ip, two.host_ip)
        if one.port == two.port and shared:
            parser.fail(other.bind_key, f"{two.host_ip}:{two.port}",
                        f"a host port no other bind key takes ({port.bind_key} publishes "
                        f"{one.host_ip}:{one.port})")


def _valid_redis_address(text: str) -> bool:
    url = parse_url(text, KEYS_BY_NAME["redisAddress"].schemes)
    return url is not None and url.port is not None and url.path in ("", "/")


def _check_image(parser: _Parser, service: Service, image: str, mirror: str) -> None:
    name = f"{camel(service)}Image"
    match = _IMAGE_RE.fullmatch(image)
    if match is None or (match["digest"] is None
                         and not _RELEASE_TAG_RE.fullmatch(match["tag"] or "")):
        parser.fail(name, image, "an image pinned to a version tag X.Y.Z or a digest, e.g. "
                                 f"{_example_image(service)} (never `latest`, `main` or another "
                                 "tag that moves)")
        return
    allowed = image_repositories(service, mirror)
    repository = match["repository"]
    for hub in _DOCKER_HUB:
        repository = repository.removeprefix(hub)
    if repository not in allowed:
        parser.fail(name, image, f"an image of {service}: one of "
                                 f"{', '.join(sorted(allowed))}")


def _example_image(service: Service) -> str:
    return str(KEYS_BY_NAME[f"{camel(service)}Image"].default)


def image_repositories(service: Service, mirror: str = "") -> frozenset[str]:
    """The repositories whose images are `service`: upstream's, the same under `mirror`, and
    the project's local builds and stand-ins (toolchain/images.py)."""
    upstream = UPSTREAM_REPOSITORIES[service]
    mirrored = ({f"{mirror}/{_without_registry(repository)}" for repository in upstream}
                if mirror else set())
    local = {f"{LOCAL_REPOSITORY}/{service}", f"{LOCAL_REPOSITORY}/{service}{STANDIN_SUFFIX}"}
    return frozenset({*upstream, *mirrored, *local})


def _without_registry(repository: str) -> str:
    head, _, rest = repository.partition("/")
    return rest if "." in head or ":" in head else repository


def _check_namespaces(parser: _Parser, foreign_keys: Iterable[str]) -> None:
    """Keys of a namespace that is ours misspelt: the program would never read them."""
    for key in sorted(foreign_keys):
        namespace, _, name = key.partition(":")
        folded = namespace.lower()
        if (folded.startswith(_NAMESPACE_FAMILY)
                or _distance(folded, PROJECT) <= _NAMESPACE_DISTANCE):
            parser.problems.append(
                f"{key} is not read: its namespace {namespace!r} is not {PROJECT!r}; set it as "
                f"`{PROJECT}:{name}` (keys listed in Pulumi.yaml and the README)")


def _distance(one: str, two: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions."""
    previous = list(range(len(two) + 1))
    for i, a in enumerate(one, 1):
        current = [i]
        for j, b in enumerate(two, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]


def _check_secret_values(parser: _Parser, values: Mapping[str, str]) -> None:
    """What the program can check of the secrets' values: their form, never shown."""
    for name, value in sorted(values.items()):
        key = KEYS_BY_NAME.get(name)
        if key is None or not value:
            continue
        if not clean(value):
            parser.fail_secret(name, "a value without surrounding whitespace or control "
                                     "characters (`$(cat file)` and Prometheus' credentials_file "
                                     "drop a trailing newline, so the service would read another "
                                     "value than the one set)")
            continue
        if key.schemes and parse_url(value, key.schemes, query=True) is None:
            listed = " or ".join(f"{scheme}://" for scheme in key.schemes)
            parser.fail_secret(name, f"an {listed} URL with a host")
        if key.strength is not None:
            _check_password(parser, name, value)


def _check_password(parser: _Parser, name: str, password: str) -> None:
    strength = KEYS_BY_NAME[name].strength
    assert strength is not None
    kinds = sum(any(test(c) for c in password) for test in (
        str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum()))
    if len(password) < strength.min_length or kinds < strength.min_kinds:
        parser.fail_secret(name, f"a value of {strength.describe()}")
    if "${" in password or "$__" in password:
        parser.fail_secret(name, "a value without `${` or `$__`: Grafana expands them "
                                 "(environment variables, `$__file{}`, `$__env{}`)")


def parse_settings(stack: str, raw: Mapping[str, str], secrets_set: frozenset[str],
                   plain_secrets: frozenset[str] = frozenset(),
                   string_lists: frozenset[str] = frozenset(), *,
                   secret_values: Mapping[str, str] | None = None,
                   foreign_keys: Iterable[str] = ()) -> Settings:
    """Build Settings from raw config strings (keys without the project prefix).

    `secrets_set` names the secret keys the stack sets; `plain_secrets` those set without
    `--secret`, which would leave the value readable in the stack file; `string_lists` the array
    keys a stack file holds as a string, which the CLI refuses even when it reads as JSON;
    `secret_values` the secrets' values where known (the program has them, a stack file does
    not), checked but never shown; `foreign_keys` the stack's config keys of other namespaces
    (`docker:host`), refused where the namespace is ours misspelt.
    """
    parser = _Parser(raw, string_lists)
    _check_keys(parser, stack, foreign_keys, plain_secrets)
    _check_secret_values(parser, secret_values or {})

    environment = parser.raw.get("environment") or stack
    if not parser.named("environment") and not _ENV_RE.fullmatch(environment):
        parser.fail("environment", environment, "lower-case letters, digits, - and _ "
                                                f"(at most {_ENV_MAX}), starting with a letter")

    metrics_time = parser.duration("metricsRetentionTime")
    logs = parser.duration("logsRetention")
    traces = parser.duration("tracesRetention")
    retention = Retention(metrics_time=metrics_time,
                          metrics_size=parser.size("metricsRetentionSize"),
                          logs=logs, traces=traces)

    platform = parser.choice("platform", Platform)
    backend = _parse_backend(parser, environment)
    extra_targets = tuple(
        target for item in parser.array("extraTargets")
        if (target := _parse_target(parser, "extraTargets", item, backend)) is not None)
    for key, target in (("backendScrapeTimeout", backend),
                        *(("extraTargets", extra) for extra in extra_targets)):
        # Not where the interval or the timeout was refused: their stand-in values would clash.
        refused = parser.named(key) or (key == "backendScrapeTimeout"
                                        and parser.named("backendScrapeInterval"))
        if target.timeout > target.interval and not refused:
            parser.fail(key, str(target.timeout), f"a scrape timeout no longer than job "
                                                  f"{target.job}'s interval {target.interval}")

    redis_auth = parser.choice("redisAuth", RedisAuth)
    redis_address = parser.text("redisAddress")
    password = Secret("redisPassword") if redis_auth is RedisAuth.PASSWORD else None
    redis = Redis(redis_address, parser.text("redisUser"), password) if redis_address else None
    if redis is not None and not _valid_redis_address(redis_address):
        parser.fail("redisAddress", redis_address,
                    f"`redis://host:port` or `rediss://host:port` ({_PORT_RANGE}), "
                    "without credentials")
    if redis is None and redis_auth is RedisAuth.PASSWORD:
        parser.problems.append(f"{PROJECT}:redisAuth is `password` but no redisAddress is set")

    receivers = {severity: parser.choice(f"alert{severity.title()}Receiver", Receiver)
                 for severity in Severity}
    heartbeat = _parse_heartbeat(parser)
    urls = {receiver: Secret(key) for receiver, key in RECEIVER_URLS.items()
            if receiver in receivers.values()}

    images = _parse_images(parser)
    memory = {service: parser.integer(f"{camel(service)}MemoryMb") for service in Service}
    cpu = {service: _parse_cpu(parser, f"{camel(service)}CpuMillis") for service in Service}
    bindings = {port: _parse_bind(parser, port) for port in Published}
    _check_bind_conflicts(parser, bindings)

    log_max_size = parser.log_size("logMaxSize")

    thresholds = AlertThresholds(
        error_ratio=parser.integer("alertErrorRatioPercent") / 100,
        latency_p95_seconds=parser.integer("alertLatencyP95Ms") / 1000,
        ttfb_p95_seconds=parser.integer("alertTtfbP95Ms") / 1000,
        streaming_p95_seconds=parser.integer("alertStreamingP95Ms") / 1000,
        inference_error_ratio=parser.integer("alertInferenceErrorRatioPercent") / 100,
        inference_p95_seconds=parser.integer("alertInferenceP95Ms") / 1000,
        rate_limited_per_second=parser.integer("alertRateLimitedPerSecond"),
        redis_memory_ratio=parser.integer("alertRedisMemoryPercent") / 100,
        disk_ratio=parser.integer("alertDiskPercent") / 100,
        notification_error_ratio=parser.integer("alertNotificationErrorPercent") / 100,
        loki_error_ratio=parser.integer("alertLokiErrorPercent") / 100,
        loki_retention_stale_seconds=parser.integer("alertLokiRetentionStaleHours") * 3600,
    )

    kubernetes = _parse_kubernetes(parser, stack, platform, retention)
    settings = Settings(
        stack=stack,
        environment=environment,
        retention=retention,
        scrape_interval=parser.duration("scrapeInterval"),
        evaluation_interval=parser.duration("evaluationInterval"),
        backend=backend,
        extra_targets=extra_targets,
        redis=redis,
        grafana=_parse_grafana(parser, bindings, platform, kubernetes),
        images=images,
        memory_mb=memory,
        cpu_millis=cpu,
        bindings=bindings,
        log_max_size=log_max_size,
        log_max_file=parser.integer("logMaxFile"),
        protect_data=parser.boolean("protectData"),
        alerting=Alerting(receivers, parser.text("alertSlackChannel"), thresholds, urls,
                          heartbeat, _parse_runbook_base(parser)),
        platform=platform,
        kubernetes=kubernetes,
    )
    _check_platform(parser, settings)
    _check_required_secrets(parser, secrets_set, settings.secrets)
    if settings.production and not settings.protect_data:
        parser.fail("protectData", parser.raw.get("protectData", "unset (false)"),
                    f"true in production (stack {stack!r}, environment {environment!r}): "
                    "without it `pulumi destroy` deletes the volumes of production's "
                    "metrics, logs, traces, dashboards and silences")
    _check_unique_jobs(parser, settings)
    if parser.problems:
        raise SettingsError(stack, parser.problems)
    return settings


def _check_keys(parser: _Parser, stack: str, foreign_keys: Iterable[str],
                plain_secrets: frozenset[str]) -> None:
    """Keys the program would not read, secrets readable in the stack file, the stack's name."""
    for name in sorted(set(parser.raw) - set(KEYS_BY_NAME)):
        parser.problems.append(f"{PROJECT}:{name} is not a known key; known keys are listed in "
                               "Pulumi.yaml and the README")
    _check_namespaces(parser, foreign_keys)
    for name in sorted(plain_secrets):
        parser.problems.append(f"{PROJECT}:{name} is a secret: set it with "
                               f"`pulumi config set --secret {name} <value>`")
    if not _STACK_RE.fullmatch(stack):
        parser.problems.append(f"stack name {stack!r}: expected letters, digits, `_`, `.` and "
                               "`-` (every Docker name of the stack carries it)")


def _parse_backend(parser: _Parser, environment: str) -> ScrapeTarget:
    auth = parser.choice("backendAuth", BackendAuth)
    text = parser.required("backendMetricsUrl")
    url = _parse_url(parser, "backendMetricsUrl", text) if text else None
    if auth is BackendAuth.BEARER and url is not None and url[0] != "https":
        parser.fail("backendMetricsUrl", text,
                    "an https:// URL while `backendAuth` is `bearer`: over http:// the bearer "
                    "token crosses the network in clear")
    return ScrapeTarget(
        f"gatewayz_{environment.replace('-', '_')}", *(url or ("https", "invalid", "/")),
        env=environment,
        interval=parser.duration("backendScrapeInterval"),
        timeout=parser.duration("backendScrapeTimeout"),
        token=Secret("backendBearerToken") if auth is BackendAuth.BEARER else None,
    )


def _parse_kubernetes(parser: _Parser, stack: str, platform: Platform,
                      retention: Retention) -> Kubernetes:
    """The Kubernetes platform's settings. Read, and their values checked, on both platforms
    (a wrong value is wrong before the move too); object storage is required only on
    Kubernetes, where Loki and Tempo keep their data in it."""
    namespace = parser.text("kubernetesNamespace") or docker_prefix(stack)
    classes = {key: parser.text(key) or None
               for key in ("kubernetesStorageClass", "kubernetesIngressClass")}
    for key, value in classes.items():
        if value is not None and not _DNS_SUBDOMAIN_RE.fullmatch(value):
            parser.fail(key, value, "a DNS-1123 subdomain: lower-case letters, digits, `-` and "
                                    "`.`, at most 253, starting and ending with a letter or digit")
    storage = {service: parser.size(storage_key(service))
               if parser.text(storage_key(service)) else _derived_volume(retention)
               for service, facts in SERVICES.items() if facts.defaults.storage is not None}
    prometheus_volume = storage[Service.PROMETHEUS]
    if prometheus_volume.bytes <= retention.metrics_size.bytes \
            and not parser.named(storage_key(Service.PROMETHEUS)) \
            and not parser.named("metricsRetentionSize"):
        parser.fail(storage_key(Service.PROMETHEUS), str(prometheus_volume),
                    f"a size above `metricsRetentionSize` ({retention.metrics_size}): size "
                    "retention deletes blocks only after the TSDB outgrows it, and its WAL "
                    "comes on top, so a volume of that size fills up first")
    host = parser.text("grafanaIngressHost") or None
    if host is not None and (not valid_host(host) or "." not in host
                             or re.fullmatch(r"[0-9.]+", host)):
        parser.fail("grafanaIngressHost", host, "a DNS name such as grafana.example.com")
    return Kubernetes(
        namespace,
        alertmanager_replicas=parser.integer("alertmanagerReplicas"),
        prometheus_replicas=parser.integer("prometheusReplicas"),
        loki_replicas={target: parser.integer(f"loki{target.value.title()}Replicas")
                       for target in LokiTarget},
        storage_class=classes["kubernetesStorageClass"],
        storage=storage,
        object_storage=_parse_object_storage(parser, platform),
        grafana_ingress_host=host,
        ingress_class=classes["kubernetesIngressClass"])


def _derived_volume(retention: Retention) -> Size:
    """Prometheus' volume where unset: its size retention and a quarter more, in whole GiB."""
    gib = 1 << 30
    return Size.of_bytes(-(-retention.metrics_size.bytes * 5 // 4 // gib) * gib)


def _parse_object_storage(parser: _Parser, platform: Platform) -> ObjectStorage | None:
    region = parser.text("objectStorageRegion")
    if not _REGION_RE.fullmatch(region):
        parser.fail("objectStorageRegion", region, "a region such as us-east-1 (lower-case "
                                                   "letters, digits and `-`)")
    buckets = {Service.LOKI: "lokiBucket", Service.TEMPO: "tempoBucket"}
    for key in buckets.values():
        name = parser.text(key)
        if name and (not _BUCKET_RE.fullmatch(name) or ".." in name
                     or _IPV4_RE.fullmatch(name)):
            parser.fail(key, name, "an S3 bucket name: 3 to 63 lower-case letters, digits, `.` "
                                   "and `-`, starting and ending with a letter or digit, not an "
                                   "IP address")
    if parser.text("lokiBucket") and parser.text("lokiBucket") == parser.text("tempoBucket"):
        parser.fail("tempoBucket", parser.text("tempoBucket"),
                    "a bucket other than `lokiBucket`'s: Loki's and Tempo's compactors each "
                    "delete what they do not recognise as theirs")
    text = parser.text("objectStorageEndpoint")
    url = parse_url(text, KEYS_BY_NAME["objectStorageEndpoint"].schemes) if text else None
    if text and (url is None or url.path not in ("", "/")):
        # No path: the buckets are named by their keys; no credentials: they are secrets.
        parser.fail("objectStorageEndpoint", text, "`https://host[:port]` (or http://), with no "
                                                   "path or credentials, e.g. "
                                                   "https://s3.eu-west-1.amazonaws.com")
        url = None
    if platform is not Platform.KUBERNETES:
        return None
    for key in ("objectStorageEndpoint", *buckets.values()):
        parser.required(key)
    # Where the endpoint is refused, a stand-in: its key pair is still asked for, at once.
    scheme, address = (url.scheme, url.address) if url is not None else ("https", "invalid")
    return ObjectStorage(scheme, address, region,
                         {service: parser.text(key) for service, key in buckets.items()},
                         access_key_id=Secret("objectStorageAccessKeyId"),
                         secret_access_key=Secret("objectStorageSecretAccessKey"))


def _kubernetes_grafana_url(parser: _Parser, configured: str, kubernetes: Kubernetes) -> str:
    """Grafana's URL on Kubernetes (its `root_url`, and where the Grafana provider calls):
    its Ingress's https URL where it has one, which grafanaUrl may only repeat (cookies and
    links carry the URL the browser uses); else grafanaUrl (a port-forward, a proxy); else its
    Service's in-cluster URL. The Docker platform's binds publish nothing here."""
    host = kubernetes.grafana_ingress_host
    schemes = KEYS_BY_NAME["grafanaUrl"].schemes
    if host is not None:
        url = ingress_url(host)
        if configured and configured.rstrip("/") != url and not parser.named("grafanaUrl"):
            parser.fail("grafanaUrl", configured,
                        f"unset or {url}: Grafana's URL is its Ingress's (`grafanaIngressHost`)")
        return url
    if configured and not parser.named("grafanaUrl") and parse_url(configured, schemes) is None:
        parser.fail("grafanaUrl", configured,
                    _url_form(schemes, "http://127.0.0.1:"
                                       f"{Published.GRAFANA.container_port}"))
    return configured or cluster_url(Service.GRAFANA, kubernetes.namespace)


def _check_platform(parser: _Parser, settings: Settings) -> None:
    """A namespace Kubernetes takes, where the stack runs there."""
    namespace = settings.kubernetes.namespace
    explicit = "kubernetesNamespace" in parser.raw
    if (explicit or settings.platform is Platform.KUBERNETES) \
            and not _DNS_LABEL_RE.fullmatch(namespace):
        parser.fail("kubernetesNamespace", namespace,
                    "a DNS-1123 label: lower-case letters, digits and `-`, at most 63, starting "
                    "and ending with a letter or digit"
                    + ("" if explicit else " (the default `gatewayz-<stack>` is not one: set it)"))


def _parse_images(parser: _Parser) -> dict[Service, str]:
    mirror = parser.text("imageMirror")
    if mirror and not _MIRROR_RE.fullmatch(mirror):
        parser.fail("imageMirror", mirror, "a registry path such as registry.example.com:5000/hub "
                                           "(lower-case, no scheme, no trailing /)")
    images = {service: parser.text(f"{camel(service)}Image") for service in Service}
    for service, image in images.items():
        if not parser.named(f"{camel(service)}Image"):
            _check_image(parser, service, image, mirror)
    return images


def _parse_grafana(parser: _Parser, bindings: Mapping[Published, Binding | None],
                   platform: Platform, kubernetes: Kubernetes) -> GrafanaApi:
    schemes = KEYS_BY_NAME["grafanaUrl"].schemes
    configured = parser.raw.get("grafanaUrl") or ""
    if platform is Platform.KUBERNETES:
        url = _kubernetes_grafana_url(parser, configured, kubernetes)
    else:
        # Where its bind publishes it; without one, grafanaUrl must say.
        default_url = port_url(bindings, Published.GRAFANA) if bindings[Published.GRAFANA] \
            else ""
        url = configured or default_url
        # A refused grafanaBind gives no default to refuse again.
        derived = "grafanaUrl" not in parser.raw and parser.named("grafanaBind")
        if not parser.named("grafanaUrl") and not derived and parse_url(url, schemes) is None:
            parser.fail("grafanaUrl", url, _url_form(schemes, "http://127.0.0.1:"
                                                     f"{Published.GRAFANA.container_port}")
                        + " (needed when `grafanaBind` is `none`)")
    admin_user = parser.text("grafanaAdminUser")
    if not parser.named("grafanaAdminUser") and not _GRAFANA_USER_RE.fullmatch(admin_user):
        parser.fail("grafanaAdminUser", admin_user,
                    f"a login of letters, digits and . _ @ - (at most {_GRAFANA_USER_MAX}, no "
                    "`:`, which splits the Grafana provider's `user:password`)")
    return GrafanaApi(url, admin_user or "admin")


def _parse_runbook_base(parser: _Parser) -> str:
    """An http(s) URL, or a relative path to a Markdown file; the alert's anchor is appended."""
    base = parser.text("alertRunbookBaseUrl")
    if not _RUNBOOK_BASE_RE.fullmatch(base):
        parser.fail("alertRunbookBaseUrl", base,
                    "an http(s) URL of docs/alerts.md as your team reads it, or a relative "
                    "path ending in .md, without `#`, `?` or spaces")
    return base


def _parse_heartbeat(parser: _Parser) -> Heartbeat | None:
    """The dead man's switch, where the stack has one."""
    enabled = parser.boolean("alertHeartbeat")
    interval = parser.duration("alertHeartbeatRepeatInterval")
    return Heartbeat(interval, Secret("alertHeartbeatUrl")) if enabled else None


def _check_required_secrets(parser: _Parser, secrets_set: frozenset[str],
                            needed: Iterable[Secret]) -> None:
    """Each secret the settings carry is one the stack sets."""
    for name in (secret.key for secret in needed):
        if name not in secrets_set:
            parser.problems.append(f"{PROJECT}:{name} is required by this stack's settings: "
                                   f"set it with `pulumi config set --secret {name} <value>`")


def _endpoint(url: str) -> str:
    """A URL as the endpoint it reaches: host case and an explicit default port dropped."""
    parsed = parse_url(url, ("http", "https"))
    if parsed is None:
        return url
    default = {"http": 80, "https": 443}[parsed.scheme]
    port = "" if parsed.port in (None, default) else f":{parsed.port}"
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path or '/'}"


def _stack_service(settings: Settings, target: ScrapeTarget) -> Service | None:
    """The stack's service an extra target reaches, if any: by its alias or container name on
    the stack's network, Prometheus' own loopback, or a host address a bind key publishes."""
    host, _, port_text = target.address.partition(":")
    port = int(port_text) if port_text else {"http": 80, "https": 443}[target.scheme]
    for service, facts in SERVICES.items():
        if host in (facts.alias, container_name(settings.stack, service)):
            return service
    if host == "localhost" or host.startswith(_LOOPBACK):
        # Inside Prometheus' container, loopback is Prometheus.
        return Service.PROMETHEUS if port == SERVICES[Service.PROMETHEUS].http_port else None
    for bound, binding in settings.bindings.items():
        if binding is not None and (binding.host_ip, binding.port) == (host, port):
            return bound.owner.service
    return None


def _parse_cpu(parser: _Parser, name: str) -> int:
    """Within its bounds, and read back as written; the most the host can give is its CPU count,
    which Docker checks at create."""
    millis = parser.integer(name)
    if not cpus_read_back_exact(millis):
        parser.fail(name, str(millis), f"a limit the docker provider reads back as written (it "
                                       f"reads {millis / 1000:g} CPUs as "
                                       f"{provider_cpus(millis)}), e.g. a multiple of 100")
    return millis



def _check_unique_jobs(parser: _Parser, settings: Settings) -> None:
    """Two jobs on one endpoint double every series; two jobs of one name break Prometheus."""
    seen_jobs = {service.job for service in Service}
    seen_urls: set[str] = set()
    for target in settings.external_targets:
        key = "backendMetricsUrl" if target is settings.backend else "extraTargets"
        endpoint = _endpoint(target.url)
        if target.job in seen_jobs:
            parser.problems.append(f"{PROJECT}:{key}: job {target.job!r} is already used")
        if endpoint in seen_urls:
            parser.problems.append(f"{PROJECT}:{key}: {target.url} is already scraped")
        elif (service := _stack_service(settings, target)) is not None:
            parser.problems.append(
                f"{PROJECT}:{key}: {target.url} is {service}, which the stack scrapes already "
                f"(job {service.job}): expected a target outside the stack")
        seen_jobs.add(target.job)
        seen_urls.add(endpoint)

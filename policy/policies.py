"""The mandatory policies of the GatewayZ observability stack, as plain validator functions.

Validators read a resource the way pulumi-policy 1.21 hands it over: camelCase inputs with secret
values already unwrapped, resource options without retainOnDelete, and the provider as a resource.
`POLICIES` wraps each validator in a `ResourceValidationPolicy` for the pack in `__main__.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, Protocol

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

CONTAINER: Final = "docker:index/container:Container"
REMOTE_IMAGE: Final = "docker:index/remoteImage:RemoteImage"
VOLUME: Final = "docker:index/volume:Volume"
GRAFANA_PROVIDER: Final = "pulumi:providers:grafana"

# Stacks whose data volumes must survive `pulumi destroy`. The program refuses `protectData:
# false` there first (settings.PRODUCTION), and also where `environment` says production, which
# this pack cannot see.
PRODUCTION_STACKS: Final = frozenset({"production"})
# Recognised by the Docker name's last part (`gatewayz-<stack>-<service>`): a container's `image` is
# the id of the pulled image (`sha256:...`), which names no repository.
STATEFUL_SERVICES: Final = ("prometheus", "loki", "tempo", "grafana", "alertmanager")
RESTART_POLICIES: Final = frozenset({"unless-stopped", "always"})
# Drivers that rotate with max-size/max-file; anything else fills the disk or loses the logs.
LOG_DRIVERS: Final = frozenset({"json-file", "local"})
LOG_ROTATION: Final = ("max-size", "max-file")

# What every running container is hardened with (components/service.py).
NO_NEW_PRIVILEGES: Final = frozenset({"no-new-privileges", "no-new-privileges:true"})
_ROOT_USERS: Final = frozenset({"", "0", "root"})

_IMAGE_ID_RE: Final = re.compile(r"^sha256:[0-9a-f]{64}$")
_DIGEST_RE: Final = re.compile(r"@sha256:[0-9a-f]{64}$")
# Parts of an env var name that mark its value as a credential. `API_URL` and `WEBHOOK` because a
# Slack or pager webhook URL is itself the credential.
_SECRET_WORDS: Final = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "APIKEY",
                        "API_KEY", "ACCESS_KEY", "PRIVATE_KEY", "API_URL", "WEBHOOK")
_SECRET_TOKENS: Final = frozenset({"KEY", "PASS", "DSN"})
_URL_PASSWORD_RE: Final = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@", re.IGNORECASE)
# Grafana reads booleans with Go's strconv.ParseBool.
_GO_TRUE: Final = frozenset({"1", "t", "true"})
_DEFAULT_PROVIDER_RE: Final = re.compile(r"^default(_|$)")


class Report(Protocol):
    """pulumi-policy's `report_violation`: the urn is ignored for resource policies."""

    def __call__(self, message: str, urn: str | None = None) -> None: ...


def stack_of(urn: str) -> str:
    """The stack in `urn:pulumi:<stack>::<project>::<type>::<name>`.

    The URN, not `pulumi.get_stack()`: pulumi-policy only configures the runtime's stack when the
    CLI exports PULUMI_STACK, while every resource carries its own URN.
    """
    return str(urn).removeprefix("urn:pulumi:").split("::", 1)[0]


def image_pin_problem(reference: str) -> str | None:
    """Why an image reference is not pinned, or None when it has a digest or a version tag."""
    if _DIGEST_RE.search(reference):
        return None
    # The tag follows the last `:` of the last path part; an earlier `:` is a registry port.
    _, has_tag, tag = reference.rsplit("/", 1)[-1].partition(":")
    if not has_tag or not tag:
        return "has no tag, so Docker pulls `latest`"
    if tag == "latest":
        return "is tagged `latest`"
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> Sequence[Any]:
    # pulumi-policy wraps lists in a Sequence proxy, so test for Sequence, not list.
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def _envs(props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """A container's `envs` entries (`NAME=value`) as (name, value) pairs."""
    for entry in _items(props.get("envs")):
        name, _, value = str(entry).partition("=")
        yield name, value


def _container_name(args: ResourceValidationArgs) -> str:
    return str(args.props.get("name") or args.name)


def validate_pinned_images(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type == REMOTE_IMAGE:
        reference = str(args.props.get("name", ""))
        problem = image_pin_problem(reference)
        if problem is not None:
            report_violation(f"image {reference!r} {problem}: pin a version tag or a digest, "
                             "e.g. grafana/loki:3.7.6")
    elif args.resource_type == CONTAINER:
        # The program runs the id of a pulled RemoteImage, which is checked above. During the
        # first preview that id is unknown and pulumi-policy reports this check as not run.
        image = str(args.props.get("image", ""))
        problem = None if _IMAGE_ID_RE.match(image) else image_pin_problem(image)
        if problem is not None:
            report_violation(f"container {_container_name(args)} runs image {image!r}, which "
                             f"{problem}: run a RemoteImage's image_id or a pinned reference")


def _never_started(props: Mapping[str, Any]) -> bool:
    """A container created and never started (`start: false`) holds files only: nothing runs."""
    return props.get("start") is False


def validate_container_baseline(args: ResourceValidationArgs,
                                report_violation: Report) -> None:
    if args.resource_type != CONTAINER or _never_started(args.props):
        return
    props = args.props
    name = _container_name(args)
    restart = props.get("restart")
    if restart not in RESTART_POLICIES:
        report_violation(f"container {name} has restart {restart!r}: use one of "
                         f"{sorted(RESTART_POLICIES)} so it comes back after a crash or reboot")
    tests = [str(part) for part in _items(_mapping(props.get("healthcheck")).get("tests"))]
    if len(tests) < 2 or tests[0] not in ("CMD", "CMD-SHELL"):
        report_violation(f"container {name} has no healthcheck (tests {tests}): give it a "
                         "[CMD, ...] the image can run, so a deploy waits for it to be healthy")
    memory = props.get("memory")
    if isinstance(memory, bool) or not isinstance(memory, int | float) or memory <= 0:
        report_violation(f"container {name} has no memory limit (memory {memory!r}): set one in "
                         "MB so one service cannot starve the host")
    driver = props.get("logDriver")
    if driver not in LOG_DRIVERS:
        report_violation(f"container {name} logs with {driver!r}: use one of "
                         f"{sorted(LOG_DRIVERS)} with rotation")
    log_opts = _mapping(props.get("logOpts"))
    missing = [option for option in LOG_ROTATION if not log_opts.get(option)]
    if missing:
        report_violation(f"container {name} logs without {' and '.join(missing)} in logOpts: "
                         "unrotated logs fill the disk")


def validate_container_hardening(args: ResourceValidationArgs,
                                 report_violation: Report) -> None:
    if args.resource_type != CONTAINER or _never_started(args.props):
        return
    props = args.props
    name = _container_name(args)
    drops = [str(cap) for cap in _items(_mapping(props.get("capabilities")).get("drops"))]
    if "ALL" not in drops:
        report_violation(f"container {name} keeps the engine's default capabilities (drops "
                         f"{drops}): drop ALL and add back only what the service needs")
    if not NO_NEW_PRIVILEGES & {str(opt) for opt in _items(props.get("securityOpts"))}:
        report_violation(f"container {name} lets its processes gain privileges: set "
                         "security_opts no-new-privileges:true")
    if props.get("readOnly") is not True:
        report_violation(f"container {name} has a writable root filesystem: set read_only and "
                         "give it tmpfs or volumes where it writes")
    cpus = props.get("cpus")
    try:
        limited = float(str(cpus)) > 0
    except ValueError:
        limited = False
    if not limited:
        report_violation(f"container {name} has no CPU limit (cpus {cpus!r}): set one beside "
                         "its memory limit")
    user = str(props.get("user") or "")
    if user.partition(":")[0] in _ROOT_USERS:
        report_violation(f"container {name} runs as {user or 'the image default'!r}: state the "
                         "image's non-root user as uid:gid")


def validate_stateful_data(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type == VOLUME:
        # retainOnDelete is not in pulumi-policy 1.21's PolicyResourceOptions (nor in the engine's
        # AnalyzerResourceOptions), so only `protect` can be checked here; tests/test_program.py
        # checks retainOnDelete on the program itself.
        if stack_of(args.urn) in PRODUCTION_STACKS and not args.opts.protect:
            report_violation(f"volume {args.props.get('name') or args.name} in stack "
                             f"{stack_of(args.urn)} is not protected: production data volumes "
                             "need protect=True (and retain_on_delete=True)")
        return
    if args.resource_type != CONTAINER:
        return
    name = _container_name(args)
    service = next((s for s in STATEFUL_SERVICES if name == s or name.endswith(f"-{s}")), None)
    if service is None:
        return
    named_volumes = 0
    for volume in map(_mapping, _items(args.props.get("volumes"))):
        if volume.get("hostPath"):
            report_violation(f"container {name} bind-mounts {volume.get('hostPath')} at "
                             f"{volume.get('containerPath')}: {service} data belongs on a named "
                             "volume")
        elif volume.get("volumeName"):
            named_volumes += 1
    for mount in map(_mapping, _items(args.props.get("mounts"))):
        if mount.get("type") == "bind":
            report_violation(f"container {name} bind-mounts {mount.get('source')} at "
                             f"{mount.get('target')}: {service} data belongs on a named volume")
        elif mount.get("type") == "volume" and mount.get("source"):
            named_volumes += 1
    if named_volumes == 0:
        report_violation(f"container {name} runs {service} without a named volume: its data "
                         "would be lost with the container")


def _looks_secret(env_name: str) -> bool:
    upper = env_name.upper()
    return (any(word in upper for word in _SECRET_WORDS)
            or not _SECRET_TOKENS.isdisjoint(upper.split("_")))


def validate_no_plain_secrets(args: ResourceValidationArgs,
                              report_violation: Report) -> None:
    # pulumi-policy 1.21 unwraps secret values before a validator sees them (Analyze deserializes
    # without its Secret proxy), so a secret Output in `envs` looks like plain text here: the
    # check goes by what the name says and by credentials written into URLs.
    if args.resource_type != CONTAINER:
        return
    name = _container_name(args)
    for env_name, value in _envs(args.props):
        if env_name.upper().endswith("_FILE"):
            if _looks_secret(env_name) and not value.startswith("/"):
                report_violation(f"container {name}: {env_name} must point at a file (an "
                                 "absolute path), not hold the secret")
        elif _looks_secret(env_name):
            report_violation(f"container {name} sets {env_name} in its environment, readable "
                             f"with `docker inspect`: upload the secret as a file and set "
                             f"{env_name}_FILE (or the image's own *_FILE variable)")
        if _URL_PASSWORD_RE.search(value):
            report_violation(f"container {name}: {env_name} holds a URL with a password in it: "
                             "pass the credential as a file")


def validate_grafana_auth(args: ResourceValidationArgs, report_violation: Report) -> None:
    # Every container, not only the one named grafana: GF_* variables mean something to Grafana
    # alone, and a renamed Grafana must not slip through.
    if args.resource_type != CONTAINER:
        return
    name = _container_name(args)
    env = dict(_envs(args.props))
    if env.get("GF_AUTH_ANONYMOUS_ENABLED", "").strip().lower() in _GO_TRUE:
        report_violation(f"container {name} enables anonymous Grafana access "
                         "(GF_AUTH_ANONYMOUS_ENABLED): set it to false")
    if env.get("GF_AUTH_ANONYMOUS_ORG_ROLE", "").strip().lower() == "admin":
        report_violation(f"container {name} gives anonymous Grafana users the Admin role "
                         "(GF_AUTH_ANONYMOUS_ORG_ROLE)")
    if "GF_SECURITY_ADMIN_PASSWORD" in env:
        report_violation(f"container {name} sets GF_SECURITY_ADMIN_PASSWORD in plain: upload the "
                         "password as a file and set GF_SECURITY_ADMIN_PASSWORD__FILE")


def validate_grafana_provider(args: ResourceValidationArgs,
                              report_violation: Report) -> None:
    # The default provider would take its URL and credentials from `grafana:` stack config instead
    # of the program, which derives them from the Grafana it deploys.
    if not str(args.resource_type).startswith("grafana:"):
        return
    provider = args.provider
    if provider is None:
        report_violation(f"{args.name} names no provider: pass the explicit Grafana provider")
    elif provider.resource_type != GRAFANA_PROVIDER:
        report_violation(f"{args.name} uses provider {provider.urn} of type "
                         f"{provider.resource_type}, not {GRAFANA_PROVIDER}")
    elif _DEFAULT_PROVIDER_RE.match(str(provider.name)):
        report_violation(f"{args.name} uses the default Grafana provider ({provider.name}): pass "
                         "the explicit provider built in __main__.py")


POLICIES: Final[list[ResourceValidationPolicy]] = [
    ResourceValidationPolicy(
        name="pinned-images",
        description="Images are pinned: a RemoteImage names a version tag (not `latest`) or a "
                    "digest, and a container runs an image id or a pinned reference.",
        validate=validate_pinned_images),
    ResourceValidationPolicy(
        name="container-baseline",
        description="Every container restarts on its own (unless-stopped or always), has a "
                    "healthcheck, a memory limit and rotated json-file or local logs.",
        validate=validate_container_baseline),
    ResourceValidationPolicy(
        name="container-hardening",
        description="Every container that runs drops all capabilities, cannot gain "
                    "privileges, has a read-only root filesystem and a CPU limit, and runs as a "
                    "stated non-root user.",
        validate=validate_container_hardening),
    ResourceValidationPolicy(
        name="stateful-data-on-volumes",
        description="Prometheus, Loki, Tempo, Grafana and Alertmanager keep their data on named "
                    "volumes, never bind mounts; in production every Docker volume is protected.",
        validate=validate_stateful_data),
    ResourceValidationPolicy(
        name="no-secrets-in-env",
        description="No credential sits in a container's environment: secret-looking variables "
                    "must be *_FILE pointers to uploaded files, and no URL carries a password.",
        validate=validate_no_plain_secrets),
    ResourceValidationPolicy(
        name="grafana-no-anonymous-admin",
        description="Grafana allows no anonymous access, never gives anonymous users Admin, and "
                    "reads its admin password from a file (GF_SECURITY_ADMIN_PASSWORD__FILE).",
        validate=validate_grafana_auth),
    ResourceValidationPolicy(
        name="grafana-explicit-provider",
        description="Every Grafana resource goes through the program's explicit "
                    "pulumi:providers:grafana provider, never a default provider.",
        validate=validate_grafana_provider),
]

__all__ = [
    "POLICIES",
    "image_pin_problem",
    "stack_of",
    "validate_container_baseline",
    "validate_container_hardening",
    "validate_grafana_auth",
    "validate_grafana_provider",
    "validate_no_plain_secrets",
    "validate_pinned_images",
    "validate_stateful_data",
]

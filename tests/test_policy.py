"""The policy pack: each policy on good and bad resources, then on the whole program per stack.

Validators are called with the arguments pulumi-policy would build (tests/support/policy_args.py);
one test also boots the pack the way the CLI does and asks it over the analyzer protocol.
"""

from __future__ import annotations

import copy
import dataclasses
import select
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import grpc  # type: ignore[import-untyped]  # no stubs in requirements-dev
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import PolicyProviderResource, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from policy.policies import POLICIES
from review.mock_runtime import SECRET_SIG, SECRET_SIG_VALUE, ProgramRun, Registration
from tests.support.policy_args import provider_of, registration_args, resource_args

POLICY_DIR: Final = Path(__file__).resolve().parent.parent / "policy"
BY_NAME: Final[Mapping[str, ResourceValidationPolicy]] = {p.name: p for p in POLICIES}
CONTAINER: Final = "docker:index/container:Container"
REMOTE_IMAGE: Final = "docker:index/remoteImage:RemoteImage"
VOLUME: Final = "docker:index/volume:Volume"
DATASOURCE: Final = "grafana:oss/dataSource:DataSource"
IMAGE_ID: Final = "sha256:" + "ab" * 32
GRAFANA_API_URN: Final = ("urn:pulumi:staging::gatewayz-observability::"
                          "pulumi:providers:grafana::grafana-api")


def violations(policy: str, args: ResourceValidationArgs) -> list[str]:
    found: list[str] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        found.append(message)

    assert BY_NAME[policy].validate(args, report_violation) is None  # all are synchronous
    return found


def all_violations(args: ResourceValidationArgs) -> dict[str, list[str]]:
    """Every policy that fires on `args`, with its messages."""
    return {name: found for name in BY_NAME if (found := violations(name, args))}


def container(name: str = "gatewayz-staging-loki", **changes: Any) -> ResourceValidationArgs:
    """A container as the program builds one; a change of None removes that input."""
    props: dict[str, Any] = {
        "name": name,
        "image": IMAGE_ID,
        "restart": "unless-stopped",
        "memory": 1024.0,
        "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "5"},
        "healthcheck": {"tests": ["CMD", "/usr/bin/loki", "-health"], "interval": "15s"},
        "volumes": [{"volumeName": f"{name}-data", "containerPath": "/loki"}],
        "capabilities": {"drops": ["ALL"]},
        "securityOpts": ["no-new-privileges:true"],
        "readOnly": True,
        "cpus": "1.0",
        "user": "10001:10001",
    }
    props.update(changes)
    return resource_args(CONTAINER, {k: v for k, v in props.items() if v is not None}, name=name)


def with_env(*envs: str, name: str = "gatewayz-staging-grafana") -> ResourceValidationArgs:
    return container(name, envs=list(envs))


def provider(name: str, type_: str = "pulumi:providers:grafana") -> PolicyProviderResource:
    return PolicyProviderResource(type_, {}, f"urn:pulumi:staging::p::{type_}::{name}", name)


# --- pinned-images ---------------------------------------------------------------------------

@pytest.mark.parametrize("reference", [
    "grafana/loki:3.7.6",
    "prom/prometheus:v3.14.0",
    "registry.example:5000/team/loki:3.7.6",
    "grafana/loki@sha256:" + "0" * 64,
    "grafana/loki:latest@sha256:" + "0" * 64,
])
def test_a_version_tag_or_digest_pins_an_image(reference: str) -> None:
    assert violations("pinned-images", resource_args(REMOTE_IMAGE, {"name": reference})) == []


@pytest.mark.parametrize(("reference", "problem"), [
    ("grafana/loki", "has no tag, so Docker pulls `latest`"),
    ("grafana/loki:latest", "is tagged `latest`"),
    # The port of a registry is no tag.
    ("registry.example:5000/loki", "has no tag, so Docker pulls `latest`"),
])
def test_an_unpinned_image_is_refused(reference: str, problem: str) -> None:
    assert violations("pinned-images", resource_args(REMOTE_IMAGE, {"name": reference})) == [
        f"image {reference!r} {problem}: pin a version tag or a digest, e.g. grafana/loki:3.7.6"]


def test_a_container_runs_a_pulled_image_id_or_a_pinned_reference() -> None:
    assert violations("pinned-images", container(image=IMAGE_ID)) == []
    assert violations("pinned-images", container(image="grafana/loki:3.7.6")) == []
    assert violations("pinned-images", container(image="grafana/loki")) == [
        "container gatewayz-staging-loki runs image 'grafana/loki', which has no tag, so Docker "
        "pulls `latest`: run a RemoteImage's image_id or a pinned reference"]


def test_an_image_id_unknown_in_preview_stops_only_the_image_check() -> None:
    """pulumi-policy turns UnknownValueError into a "can't run during preview" note."""
    args = container(image=UNKNOWN_STRING_VALUE)
    with pytest.raises(UnknownValueError):
        violations("pinned-images", args)
    assert violations("container-baseline", args) == []


# --- container-baseline ----------------------------------------------------------------------

def test_the_programs_container_shape_passes_the_baseline() -> None:
    assert violations("container-baseline", container()) == []
    assert violations("container-baseline", container(restart="always", logDriver="local")) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"restart": "no"}, "container gatewayz-staging-loki has restart 'no': use one of "
                        "['always', 'unless-stopped'] so it comes back after a crash or reboot"),
    ({"restart": None}, "container gatewayz-staging-loki has restart None: use one of "
                        "['always', 'unless-stopped'] so it comes back after a crash or reboot"),
    ({"healthcheck": None}, "container gatewayz-staging-loki has no healthcheck (tests []): give "
                            "it a [CMD, ...] the image can run, so a deploy waits for it to be "
                            "healthy"),
    ({"healthcheck": {"tests": ["NONE"]}},
     "container gatewayz-staging-loki has no healthcheck (tests ['NONE']): give it a [CMD, ...] "
     "the image can run, so a deploy waits for it to be healthy"),
    ({"memory": 0}, "container gatewayz-staging-loki has no memory limit (memory 0): set one in "
                    "MB so one service cannot starve the host"),
    ({"memory": None}, "container gatewayz-staging-loki has no memory limit (memory None): set "
                       "one in MB so one service cannot starve the host"),
    ({"logDriver": "syslog"}, "container gatewayz-staging-loki logs with 'syslog': use one of "
                              "['json-file', 'local'] with rotation"),
    ({"logOpts": {"max-size": "10m"}}, "container gatewayz-staging-loki logs without max-file in "
                                       "logOpts: unrotated logs fill the disk"),
    ({"logOpts": None}, "container gatewayz-staging-loki logs without max-size and max-file in "
                        "logOpts: unrotated logs fill the disk"),
])
def test_a_container_missing_part_of_the_baseline_is_refused(changes: dict[str, Any],
                                                             message: str) -> None:
    assert violations("container-baseline", container(**changes)) == [message]


def test_a_container_that_never_starts_needs_no_baseline_or_hardening() -> None:
    # The files container (components/service.py): created, never started.
    args = resource_args(CONTAINER, {"name": "gatewayz-staging-loki-files", "image": IMAGE_ID,
                                     "start": False, "mustRun": False, "networkMode": "none"},
                         name="gatewayz-staging-loki-files")
    assert all_violations(args) == {}


# --- container-hardening ---------------------------------------------------------------------

def test_the_programs_container_shape_passes_the_hardening() -> None:
    assert violations("container-hardening", container()) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"capabilities": None}, "container gatewayz-staging-loki keeps the engine's default "
                             "capabilities (drops []): drop ALL and add back only what the "
                             "service needs"),
    ({"capabilities": {"drops": ["NET_RAW"]}},
     "container gatewayz-staging-loki keeps the engine's default capabilities (drops "
     "['NET_RAW']): drop ALL and add back only what the service needs"),
    ({"securityOpts": None}, "container gatewayz-staging-loki lets its processes gain "
                             "privileges: set security_opts no-new-privileges:true"),
    ({"readOnly": False}, "container gatewayz-staging-loki has a writable root filesystem: set "
                          "read_only and give it tmpfs or volumes where it writes"),
    ({"cpus": None}, "container gatewayz-staging-loki has no CPU limit (cpus None): set one "
                     "beside its memory limit"),
    ({"cpus": "0"}, "container gatewayz-staging-loki has no CPU limit (cpus '0'): set one "
                    "beside its memory limit"),
    ({"user": None}, "container gatewayz-staging-loki runs as 'the image default': state the "
                     "image's non-root user as uid:gid"),
    ({"user": "0:0"}, "container gatewayz-staging-loki runs as '0:0': state the image's "
                      "non-root user as uid:gid"),
])
def test_a_container_missing_part_of_the_hardening_is_refused(changes: dict[str, Any],
                                                              message: str) -> None:
    assert violations("container-hardening", container(**changes)) == [message]


# --- stateful-data-on-volumes ----------------------------------------------------------------

def test_stateless_containers_need_no_volume() -> None:
    args = container("gatewayz-production-redis-exporter", volumes=None)
    assert violations("stateful-data-on-volumes", args) == []


def test_stateful_data_on_a_named_volume_or_volume_mount_passes() -> None:
    assert violations("stateful-data-on-volumes", container()) == []
    mounts = [{"type": "volume", "source": "prometheus-data", "target": "/prometheus"}]
    args = container("gatewayz-staging-prometheus", volumes=None, mounts=mounts)
    assert violations("stateful-data-on-volumes", args) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"volumes": [{"hostPath": "/srv/loki", "containerPath": "/loki"}]},
     "container gatewayz-staging-loki bind-mounts /srv/loki at /loki: loki data belongs on a "
     "named volume"),
    ({"volumes": None, "mounts": [{"type": "bind", "source": "/srv/loki", "target": "/loki"}]},
     "container gatewayz-staging-loki bind-mounts /srv/loki at /loki: loki data belongs on a "
     "named volume"),
])
def test_stateful_data_on_a_bind_mount_is_refused(changes: dict[str, Any], message: str) -> None:
    assert violations("stateful-data-on-volumes", container(**changes)) == [
        message, "container gatewayz-staging-loki runs loki without a named volume: its data "
                 "would be lost with the container"]


def test_a_stateful_container_without_a_volume_is_refused() -> None:
    assert violations("stateful-data-on-volumes", container("gatewayz-staging-tempo",
                                                            volumes=None)) == [
        "container gatewayz-staging-tempo runs tempo without a named volume: its data would be "
        "lost with the container"]


@pytest.mark.parametrize(("stack", "protect", "expected"), [
    ("staging", False, []),
    ("production", True, []),
    ("production", False, ["volume gatewayz-production-loki-data in stack production is not "
                           "protected: production data volumes need protect=True (and "
                           "retain_on_delete=True)"]),
])
def test_production_volumes_are_protected(stack: str, protect: bool, expected: list[str]) -> None:
    args = resource_args(VOLUME, {"name": f"gatewayz-{stack}-loki-data"}, stack=stack,
                         name="loki-data", protect=protect)
    assert violations("stateful-data-on-volumes", args) == expected


# --- no-secrets-in-env -----------------------------------------------------------------------

def test_pointers_to_secret_files_and_plain_settings_pass() -> None:
    args = with_env("GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/secrets/admin_password",
                    "REDIS_PASSWORD_FILE=/etc/redis_exporter/passwords.json",
                    "REDIS_ADDR=redis://redis.example:6379", "GF_SERVER_ROOT_URL=http://x:3000",
                    "GF_AUTH_ANONYMOUS_ENABLED=false", "MONKEY_BUSINESS=1")
    assert violations("no-secrets-in-env", args) == []


@pytest.mark.parametrize("env_name", [
    "REDIS_PASSWORD", "GF_DATABASE_PASSWORD", "API_TOKEN", "GF_SECURITY_SECRET_KEY",
    "SLACK_API_URL", "PAGER_WEBHOOK", "AWS_ACCESS_KEY_ID", "SENTRY_DSN",
])
def test_a_secret_looking_variable_is_refused(env_name: str) -> None:
    assert violations("no-secrets-in-env", with_env(f"{env_name}=hunter2")) == [
        f"container gatewayz-staging-grafana sets {env_name} in its environment, readable with "
        f"`docker inspect`: upload the secret as a file and set {env_name}_FILE (or the image's "
        "own *_FILE variable)"]


def test_a_file_pointer_must_point_at_a_file() -> None:
    assert violations("no-secrets-in-env", with_env("REDIS_PASSWORD_FILE=hunter2")) == [
        "container gatewayz-staging-grafana: REDIS_PASSWORD_FILE must point at a file (an "
        "absolute path), not hold the secret"]


def test_a_url_with_a_password_is_refused_whatever_its_name() -> None:
    assert violations("no-secrets-in-env", with_env("REDIS_ADDR=redis://:hunter2@r:6379")) == [
        "container gatewayz-staging-grafana: REDIS_ADDR holds a URL with a password in it: pass "
        "the credential as a file"]


def test_secret_values_reach_policies_unwrapped() -> None:
    """Why no-secrets-in-env judges names: a secret Output's value arrives as plain text."""
    secret = {SECRET_SIG: SECRET_SIG_VALUE, "value": "GREETING=hello"}
    args = resource_args(CONTAINER, {"name": "gatewayz-staging-grafana", "envs": [secret]})
    assert list(args.props["envs"]) == ["GREETING=hello"]
    assert violations("no-secrets-in-env", args) == []


# --- grafana-no-anonymous-admin --------------------------------------------------------------

def test_grafana_with_login_only_passes() -> None:
    args = with_env("GF_AUTH_ANONYMOUS_ENABLED=false", "GF_AUTH_ANONYMOUS_ORG_ROLE=Viewer",
                    "GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/secrets/admin_password")
    assert violations("grafana-no-anonymous-admin", args) == []


@pytest.mark.parametrize(("env", "message"), [
    ("GF_AUTH_ANONYMOUS_ENABLED=true", "container gatewayz-staging-grafana enables anonymous "
                                       "Grafana access (GF_AUTH_ANONYMOUS_ENABLED): set it to "
                                       "false"),
    # Grafana parses booleans like Go's strconv.ParseBool.
    ("GF_AUTH_ANONYMOUS_ENABLED=1", "container gatewayz-staging-grafana enables anonymous "
                                    "Grafana access (GF_AUTH_ANONYMOUS_ENABLED): set it to false"),
    ("GF_AUTH_ANONYMOUS_ORG_ROLE=Admin", "container gatewayz-staging-grafana gives anonymous "
                                         "Grafana users the Admin role "
                                         "(GF_AUTH_ANONYMOUS_ORG_ROLE)"),
    ("GF_SECURITY_ADMIN_PASSWORD=hunter2", "container gatewayz-staging-grafana sets "
                                           "GF_SECURITY_ADMIN_PASSWORD in plain: upload the "
                                           "password as a file and set "
                                           "GF_SECURITY_ADMIN_PASSWORD__FILE"),
])
def test_grafana_open_to_anonymous_or_with_a_plain_password_is_refused(env: str,
                                                                       message: str) -> None:
    assert violations("grafana-no-anonymous-admin", with_env(env)) == [message]


# --- grafana-explicit-provider ---------------------------------------------------------------

def test_grafana_resources_through_the_explicit_provider_pass() -> None:
    args = resource_args(DATASOURCE, {"uid": "prometheus"}, provider=provider("grafana-api"))
    assert violations("grafana-explicit-provider", args) == []
    # Other packages may use their default providers.
    args = resource_args(VOLUME, {"name": "v"}, provider=provider("default", "pulumi:providers:d"))
    assert violations("grafana-explicit-provider", args) == []


@pytest.mark.parametrize(("given", "message"), [
    (None, "resource names no provider: pass the explicit Grafana provider"),
    (provider("default"), "resource uses the default Grafana provider (default): pass the "
                          "explicit provider built in __main__.py"),
    (provider("default_2_44_0"), "resource uses the default Grafana provider (default_2_44_0): "
                                 "pass the explicit provider built in __main__.py"),
    (provider("grafana-api", "pulumi:providers:docker"),
     "resource uses provider urn:pulumi:staging::p::pulumi:providers:docker::grafana-api of type "
     "pulumi:providers:docker, not pulumi:providers:grafana"),
])
def test_grafana_resources_through_another_provider_are_refused(
        given: PolicyProviderResource | None, message: str) -> None:
    args = resource_args(DATASOURCE, {"uid": "prometheus"}, provider=given)
    assert violations("grafana-explicit-provider", args) == [message]


# --- the whole program -----------------------------------------------------------------------

def test_the_program_passes_every_policy(program: ProgramRun) -> None:
    found = {resource.urn: fired for resource in program.resources
             if (fired := all_violations(registration_args(resource, program)))}
    assert found == {}


Mutate = Callable[[Registration], Registration]


def inputs(**changes: Any) -> Mutate:
    """Set (or, with None, remove) top-level inputs of a registration."""
    def mutate(resource: Registration) -> Registration:
        edited = copy.deepcopy(dict(resource.inputs))
        for key, value in changes.items():
            if value is None:
                edited.pop(key, None)
            else:
                edited[key] = value
        return dataclasses.replace(resource, inputs=edited)
    return mutate


def add_env(entry: str) -> Mutate:
    def mutate(resource: Registration) -> Registration:
        return inputs(envs=[*resource.inputs.get("envs", []), entry])(resource)
    return mutate


@dataclasses.dataclass(frozen=True)
class Regression:
    resource: str  # a resource name, or a type for its first resource
    mutate: Mutate
    fires: frozenset[str]


REGRESSIONS: Final[Mapping[str, Regression]] = {
    "healthcheck dropped": Regression(
        "loki-container", inputs(healthcheck=None), frozenset({"container-baseline"})),
    "memory limit dropped": Regression(
        "tempo-container", inputs(memory=None), frozenset({"container-baseline"})),
    "log rotation dropped": Regression(
        "alertmanager-container", inputs(logOpts={"max-size": "10m"}),
        frozenset({"container-baseline"})),
    "restart off": Regression(
        "prometheus-container", inputs(restart="no"), frozenset({"container-baseline"})),
    "writable root filesystem": Regression(
        "grafana-container", inputs(readOnly=False), frozenset({"container-hardening"})),
    "capabilities kept": Regression(
        "alertmanager-container", inputs(capabilities=None), frozenset({"container-hardening"})),
    "image latest": Regression(
        "grafana-image", inputs(name="grafana/grafana:latest"), frozenset({"pinned-images"})),
    "container runs a bare tag": Regression(
        "prometheus-container", inputs(image="prom/prometheus"), frozenset({"pinned-images"})),
    "data on a bind mount": Regression(
        "loki-container", inputs(volumes=[{"hostPath": "/srv/loki", "containerPath": "/loki"}]),
        frozenset({"stateful-data-on-volumes"})),
    "plain secret env": Regression(
        "grafana-container", add_env("GF_DATABASE_PASSWORD=hunter2"),
        frozenset({"no-secrets-in-env"})),
    "anonymous grafana": Regression(
        "grafana-container", add_env("GF_AUTH_ANONYMOUS_ENABLED=true"),
        frozenset({"grafana-no-anonymous-admin"})),
    "plain admin password": Regression(
        "grafana-container", add_env("GF_SECURITY_ADMIN_PASSWORD=hunter2"),
        frozenset({"no-secrets-in-env", "grafana-no-anonymous-admin"})),
    "dashboard on the default provider": Regression(
        "grafana:oss/dashboard:Dashboard",
        lambda resource: dataclasses.replace(resource, provider=""),
        frozenset({"grafana-explicit-provider"})),
}
PRODUCTION_REGRESSIONS: Final[Mapping[str, Regression]] = {
    "production volume unprotected": Regression(
        "grafana-data", lambda resource: dataclasses.replace(resource, protect=False),
        frozenset({"stateful-data-on-volumes"})),
}


@pytest.fixture
def both(program: ProgramRun, content: ProgramRun) -> ProgramRun:
    """The stack's resources and its Grafana content's: the pack runs on both projects."""
    return dataclasses.replace(program, resources=[*program.resources, *content.resources])


def _target(program: ProgramRun, resource: str) -> Registration:
    if ":" in resource:
        return program.of_type(resource)[0]
    return program.named(resource)


def _mutated(program: ProgramRun, regression: Regression) -> tuple[Registration, ProgramRun]:
    target = _target(program, regression.resource)
    changed = regression.mutate(target)
    resources = [changed if resource is target else resource for resource in program.resources]
    return changed, dataclasses.replace(program, resources=resources)


@pytest.mark.parametrize(("stack", "regression"), [
    *((stack, name) for stack in ("staging", "production") for name in REGRESSIONS),
    *(("production", name) for name in PRODUCTION_REGRESSIONS),
], indirect=["stack"])
def test_a_regression_in_the_program_fires_exactly_its_policies(both: ProgramRun,
                                                                regression: str) -> None:
    case = REGRESSIONS.get(regression) or PRODUCTION_REGRESSIONS[regression]
    changed, mutated = _mutated(both, case)
    fired = {(resource.urn, policy) for resource in mutated.resources
             for policy in all_violations(registration_args(resource, mutated))}
    assert fired == {(changed.urn, policy) for policy in case.fires}


# --- the pack as the CLI runs it -------------------------------------------------------------

@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack, started as `pulumi-analyzer-policy-python` does: `python -m pulumi.policy`
    from inside the pack's directory, which prints the port it serves the analyzer on."""
    stderr = tmp_path_factory.mktemp("policy-pack") / "stderr"
    with stderr.open("w") as errors:
        pack = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
            cwd=POLICY_DIR, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        assert pack.stdout is not None
        ready, _, _ = select.select([pack.stdout], [], [], 60)
        line = pack.stdout.readline() if ready else ""
        assert line.strip().isdigit(), f"the pack did not start: {stderr.read_text()}"
        with grpc.insecure_channel(f"127.0.0.1:{int(line)}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        pack.terminate()
        pack.wait(timeout=30)


def test_the_pack_serves_every_policy_as_mandatory(
        analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "gatewayz-observability"
    assert [(p.name, p.description) for p in info.policies] == [
        (p.name, p.description) for p in POLICIES]
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}


def _analyze(analyzer: analyzer_pb2_grpc.AnalyzerStub, resource: Registration,
             run: ProgramRun) -> list[tuple[str, str]]:
    """What the served pack reports for `resource` (policy, message), sent as the engine would."""
    def struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
        return json_format.ParseDict(dict(props), struct_pb2.Struct())

    request = analyzer_pb2.AnalyzeRequest(
        type=resource.type, urn=resource.urn, name=resource.name,
        properties=struct(resource.inputs),
        options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect,
                                                     parent=resource.parent))
    given = provider_of(resource, run)
    if given is not None:
        # A default provider is not registered by the program, and has no inputs here.
        registered = {r.urn: r.inputs for r in run.resources}.get(given.urn, {})
        request.provider.CopyFrom(analyzer_pb2.AnalyzerProviderResource(
            type=given.resource_type, urn=given.urn, name=given.name,
            properties=struct(registered)))
    return [(d.policyName, d.message) for d in analyzer.Analyze(request).diagnostics]


def test_the_served_pack_agrees_with_the_adapter(analyzer: analyzer_pb2_grpc.AnalyzerStub,
                                                  both: ProgramRun) -> None:
    """The adapter is only worth trusting if the real analyzer judges the same, secrets and all."""
    regressions = [*REGRESSIONS.values()]
    if both.stack == "production":
        regressions += PRODUCTION_REGRESSIONS.values()
    cases = [(resource, both) for resource in both.resources]
    cases += [_mutated(both, regression) for regression in regressions]
    for resource, run in cases:
        # The analyzer prefixes each message with the policy's description.
        expected = [(name, f"{BY_NAME[name].description}\n{message}")
                    for name, messages in all_violations(registration_args(resource, run)).items()
                    for message in messages]
        assert _analyze(analyzer, resource, run) == expected, resource.urn

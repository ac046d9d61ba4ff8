"""What a user relies on whichever platform runs the stack, checked on the cluster stack under
mocks beside the Docker stack it carries to Kubernetes (production): no secret in a plain input
or a ConfigMap, and `protectData` keeping the data when the stack or a workload goes."""

from __future__ import annotations

from typing import Any, Final

import pytest

from review.mock_runtime import FAKE_SECRET_PREFIX, ProgramRun, run_program, stack_config
from settings.keys import GENERATED_SECRETS
from settings.stack_file import file_settings
from tests.test_program import plain_strings

CLUSTER: Final = "cluster"
DOCKER_TWIN: Final = "production"
NAMESPACE: Final = "kubernetes:core/v1:Namespace"
STATEFUL_SET: Final = "kubernetes:apps/v1:StatefulSet"


def run(stack: str, **overrides: Any) -> ProgramRun:
    config, secret_keys = stack_config(stack, overrides=overrides)
    return run_program(stack, config, secret_keys)


@pytest.fixture(scope="module")
def cluster() -> ProgramRun:
    return run(CLUSTER)


@pytest.mark.parametrize("stack", [DOCKER_TWIN, CLUSTER])
def test_no_secret_value_sits_in_a_plain_input_on_either_platform(stack: str) -> None:
    program = run(stack)
    leaks = [(resource.name, path) for resource in program.resources
             for path, text in plain_strings(resource.inputs) if FAKE_SECRET_PREFIX in text]
    assert leaks == []


def test_every_secret_value_reaches_kubernetes_in_a_secret_never_a_config_map(
        cluster: ProgramRun) -> None:
    config_maps = [r for r in cluster.resources if r.type == "kubernetes:core/v1:ConfigMap"]
    assert config_maps
    for config_map in config_maps:
        assert FAKE_SECRET_PREFIX not in str(config_map.inputs), config_map.name
    stored = " ".join(str(r.inputs) for r in cluster.of_type("kubernetes:core/v1:Secret"))
    # Each secret the cluster stack's settings carry (receivers, Redis, object storage) and
    # Grafana's three (set here, else generated) is stored in a Secret.
    config, _ = stack_config(CLUSTER)
    expected = {secret.key for secret in file_settings(CLUSTER).secrets} | {
        key.name for key in GENERATED_SECRETS}
    missing = sorted(key for key in expected
                     if config[f"gatewayz-observability:{key}"] not in stored)
    assert missing == [], f"secrets no Kubernetes Secret holds: {missing}"


def test_protect_data_protects_and_retains_the_namespace_and_every_claim(
        cluster: ProgramRun) -> None:
    (namespace,) = cluster.of_type(NAMESPACE)
    assert (namespace.protect, namespace.retain_on_delete) == (True, True)
    sets = cluster.of_type(STATEFUL_SET)
    assert sets
    for stateful_set in sets:
        spec = stateful_set.plain_inputs()["spec"]
        if spec.get("volumeClaimTemplates"):
            assert spec["persistentVolumeClaimRetentionPolicy"] == {
                "whenDeleted": "Retain", "whenScaled": "Retain"}, stateful_set.name


def test_without_protect_data_destroy_takes_the_claims_too() -> None:
    # A stack labelled other than production may leave its data unprotected.
    unprotected = run(CLUSTER, environment="loadtest", protectData="false")
    (namespace,) = unprotected.of_type(NAMESPACE)
    assert (namespace.protect, namespace.retain_on_delete) == (False, False)
    claims = [s.plain_inputs()["spec"] for s in unprotected.of_type(STATEFUL_SET)
              if s.plain_inputs()["spec"].get("volumeClaimTemplates")]
    assert claims
    for spec in claims:
        assert spec["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": "Delete", "whenScaled": "Delete"}


def test_the_cluster_stack_refuses_to_leave_production_data_unprotected() -> None:
    with pytest.raises(Exception, match="protectData = 'false': expected true in production"):
        run(CLUSTER, protectData="false")

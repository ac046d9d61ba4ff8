"""Grafana's datasources as the content project creates them: linked, resolvable, one default."""

from __future__ import annotations

import json
from typing import Any

import pytest

from configs.datasources import TYPES, Uid, linked_uids
from review.mock_runtime import SECRET_SIG, ProgramRun, Registration, stack_settings
from settings import PROJECT
from tests.conftest import STACKS

DATASOURCE = "grafana:oss/dataSource:DataSource"
DATASOURCE_LINKS = "grafana:oss/dataSourceConfig:DataSourceConfig"
DASHBOARD = "grafana:oss/dashboard:Dashboard"

# Which kind of datasource each link must point at.
LINK_TYPES = {
    ("exemplarTraceIdDestinations", "datasourceUid"): "tempo",
    ("derivedFields", "datasourceUid"): "tempo",
    ("tracesToLogsV2", "datasourceUid"): "loki",
    ("tracesToMetrics", "datasourceUid"): "prometheus",
    ("serviceMap", "datasourceUid"): "prometheus",
}


@pytest.fixture(params=(*STACKS, "cluster"))
def stack(request: pytest.FixtureRequest) -> str:
    """Each stack, the one on Kubernetes too: the content project reads its outputs and
    settings as it reads a Docker stack's."""
    return str(request.param)


def sources(content: ProgramRun) -> dict[str, Registration]:
    return {r.plain_inputs()["uid"]: r for r in content.of_type(DATASOURCE)}


def links(content: ProgramRun) -> dict[str, tuple[Registration, dict[str, Any]]]:
    found = {}
    for link in content.of_type(DATASOURCE_LINKS):
        inputs = link.plain_inputs()
        found[inputs["uid"]] = (link, json.loads(inputs["jsonDataEncoded"]))
    return found


def test_every_datasource_has_its_fixed_uid_and_type(content: ProgramRun) -> None:
    assert {uid: r.plain_inputs()["type"] for uid, r in sources(content).items()} == {
        uid.value: kind for uid, kind in TYPES.items()}


def test_only_prometheus_is_the_default(content: ProgramRun) -> None:
    defaults = [uid for uid, r in sources(content).items() if r.plain_inputs().get("isDefault")]
    assert defaults == [Uid.PROMETHEUS.value]


def _link_targets(json_data: dict[str, Any]) -> list[tuple[str, str]]:
    """(setting, linked uid) for every link, whether the setting holds one or a list."""
    found = []
    for setting, value in json_data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and "datasourceUid" in item:
                found.append((setting, item["datasourceUid"]))
    return found


def test_every_link_names_a_provisioned_datasource_of_the_right_type(
        content: ProgramRun) -> None:
    provisioned = {uid: r.plain_inputs()["type"] for uid, r in sources(content).items()}
    checked = 0
    for uid, (_, json_data) in links(content).items():
        assert uid in provisioned
        for setting, target in _link_targets(json_data):
            assert provisioned.get(target) == LINK_TYPES[(setting, "datasourceUid")], (
                uid, setting, target)
            checked += 1
    assert checked == len(LINK_TYPES)


def test_metrics_logs_and_traces_link_both_ways(content: ProgramRun) -> None:
    linked = {uid: linked_uids(json_data) for uid, (_, json_data) in links(content).items()}
    assert Uid.TEMPO.value in linked[Uid.PROMETHEUS.value]
    assert Uid.TEMPO.value in linked[Uid.LOKI.value]
    assert {Uid.LOKI.value, Uid.PROMETHEUS.value} <= linked[Uid.TEMPO.value]


def test_links_wait_for_the_datasources_they_name(content: ProgramRun) -> None:
    by_uid = sources(content)
    for uid, (link, json_data) in links(content).items():
        for target in linked_uids(json_data):
            assert by_uid[target].urn in link.dependencies, (uid, target)
        # A datasource never waits on a link: that would be the cycle the split avoids.
        assert link.urn not in by_uid[uid].dependencies


def test_trace_ids_in_log_lines_open_tempo(content: ProgramRun) -> None:
    _, loki = links(content)[Uid.LOKI.value]
    (field,) = loki["derivedFields"]
    # Sent through the API: `$$` escaping belongs to provisioning files only.
    assert field["url"] == "${__value.raw}"
    assert field["matcherRegex"].count("(") == 1


def test_a_dashboard_for_redis_only_where_redis_is_watched(content: ProgramRun) -> None:
    uids = {json.loads(r.plain_inputs()["configJson"])["uid"]
            for r in content.of_type(DASHBOARD)}
    # A stack that watches no Redis deploys no exporter, rules or dashboard for it.
    assert ("gatewayz-redis" in uids) == (stack_settings(content.stack).redis is not None)
    assert {"gatewayz-fastapi", "gatewayz-prometheus", "gatewayz-loki", "gatewayz-tempo"} <= uids


def test_loki_line_limit_is_sent_as_the_string_grafana_stores(content: ProgramRun) -> None:
    # Grafana's Loki options type `maxLines` as a string; a number is not what its UI reads.
    _, loki = links(content)[Uid.LOKI.value]
    assert loki["maxLines"] == "1000"


def test_content_logs_in_with_the_observability_stacks_secret_password(
        program: ProgramRun, content: ProgramRun) -> None:
    (provider,) = content.of_type("pulumi:providers:grafana")
    settings = stack_settings(content.stack)
    password, secret = program.outputs["grafanaAdminPassword"]
    assert secret
    # The password stays secret on its way through the stack reference into the provider.
    assert SECRET_SIG in provider.inputs["auth"]
    assert provider.plain_inputs()["auth"] == f"{settings.grafana.admin_user}:{password}"
    assert provider.plain_inputs()["url"] == settings.grafana.url
    # The observability stack of the same name, in the same organization.
    assert content.outputs["observabilityStack"][0].endswith(f"/{PROJECT}/{content.stack}")


def test_content_goes_through_the_explicit_provider_only(content: ProgramRun) -> None:
    (provider,) = content.of_type("pulumi:providers:grafana")
    managed = [r for r in content.resources if r.type.startswith("grafana:")]
    assert managed
    for resource in managed:
        assert resource.provider.startswith(provider.urn), resource.name
        # Fixed uids: the old object goes before its replacement is created.
        assert resource.delete_before_replace, resource.name


def test_the_observability_stack_runs_no_grafana_content(program: ProgramRun) -> None:
    # Its preview and up need no Grafana plugin, and a dashboard edit never touches a container.
    assert not [r for r in program.resources if r.type.startswith(("grafana:",
                                                                   "pulumi:providers:grafana"))]

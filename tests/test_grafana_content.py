"""Grafana's datasources as the program creates them: linked, resolvable, one default."""

from __future__ import annotations

import json
from typing import Any

from configs.datasources import TYPES, Uid, linked_uids
from review.mock_runtime import ProgramRun, Registration

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


def sources(program: ProgramRun) -> dict[str, Registration]:
    return {r.plain_inputs()["uid"]: r for r in program.of_type(DATASOURCE)}


def links(program: ProgramRun) -> dict[str, tuple[Registration, dict[str, Any]]]:
    found = {}
    for link in program.of_type(DATASOURCE_LINKS):
        inputs = link.plain_inputs()
        found[inputs["uid"]] = (link, json.loads(inputs["jsonDataEncoded"]))
    return found


def test_every_datasource_has_its_fixed_uid_and_type(program: ProgramRun) -> None:
    assert {uid: r.plain_inputs()["type"] for uid, r in sources(program).items()} == {
        uid.value: kind for uid, kind in TYPES.items()}


def test_only_prometheus_is_the_default(program: ProgramRun) -> None:
    defaults = [uid for uid, r in sources(program).items() if r.plain_inputs().get("isDefault")]
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
        program: ProgramRun) -> None:
    provisioned = {uid: r.plain_inputs()["type"] for uid, r in sources(program).items()}
    checked = 0
    for uid, (_, json_data) in links(program).items():
        assert uid in provisioned
        for setting, target in _link_targets(json_data):
            assert provisioned.get(target) == LINK_TYPES[(setting, "datasourceUid")], (
                uid, setting, target)
            checked += 1
    assert checked == len(LINK_TYPES)


def test_metrics_logs_and_traces_link_both_ways(program: ProgramRun) -> None:
    linked = {uid: linked_uids(json_data) for uid, (_, json_data) in links(program).items()}
    assert Uid.TEMPO.value in linked[Uid.PROMETHEUS.value]
    assert Uid.TEMPO.value in linked[Uid.LOKI.value]
    assert {Uid.LOKI.value, Uid.PROMETHEUS.value} <= linked[Uid.TEMPO.value]


def test_links_wait_for_the_datasources_they_name(program: ProgramRun) -> None:
    by_uid = sources(program)
    for uid, (link, json_data) in links(program).items():
        for target in linked_uids(json_data):
            assert by_uid[target].urn in link.dependencies, (uid, target)
        # A datasource never waits on a link: that would be the cycle the split avoids.
        assert link.urn not in by_uid[uid].dependencies


def test_trace_ids_in_log_lines_open_tempo(program: ProgramRun) -> None:
    _, loki = links(program)[Uid.LOKI.value]
    (field,) = loki["derivedFields"]
    # Sent through the API: `$$` escaping belongs to provisioning files only.
    assert field["url"] == "${__value.raw}"
    assert field["matcherRegex"].count("(") == 1


def test_a_dashboard_for_redis_only_where_redis_is_watched(program: ProgramRun) -> None:
    uids = {json.loads(r.plain_inputs()["configJson"])["uid"]
            for r in program.of_type(DASHBOARD)}
    # Staging watches no Redis (Pulumi.staging.yaml), so it deploys no exporter, rules or dashboard.
    assert ("gatewayz-redis" in uids) == (program.stack == "production")
    assert {"gatewayz-fastapi", "gatewayz-prometheus", "gatewayz-loki", "gatewayz-tempo"} <= uids


def test_loki_line_limit_is_sent_as_the_string_grafana_stores(program: ProgramRun) -> None:
    # Grafana's Loki options type `maxLines` as a string; a number is not what its UI reads.
    _, loki = links(program)[Uid.LOKI.value]
    assert loki["maxLines"] == "1000"

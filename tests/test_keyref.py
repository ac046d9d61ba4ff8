"""The key checkers, and the committed Loki, Tempo and Grafana references they run against."""

from __future__ import annotations

from pathlib import Path

import pytest

from review.keyref import (
    KeyReference,
    grafana_env_name,
    load_ini_reference,
    load_key_reference,
    unknown_grafana_env,
    unknown_keys,
)
from settings.stack_file import ROOT

REFERENCE_DIR = ROOT / "references"
LOKI_REF = REFERENCE_DIR / "loki-v3.7.6-keys.txt"
TEMPO_REF = REFERENCE_DIR / "tempo-v3.0.3-keys.txt"


@pytest.fixture(scope="module")
def loki() -> KeyReference:
    return load_key_reference(LOKI_REF)


@pytest.fixture(scope="module")
def tempo() -> KeyReference:
    return load_key_reference(TEMPO_REF)


def small_ref(tmp_path: Path, *lines: str) -> KeyReference:
    path = tmp_path / "keys.txt"
    path.write_text("# header\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return load_key_reference(path)


# --------------------------------------------------------------------------- the references


@pytest.mark.parametrize(
    ("path", "tag", "required", "minimum"),
    [
        (
            LOKI_REF,
            "v3.7.6",
            {
                "auth_enabled",
                "server.http_listen_port",
                "common.path_prefix",
                "common.storage.filesystem.chunks_directory",
                "common.storage.filesystem.rules_directory",
                "compactor.working_directory",
                "compactor.retention_enabled",
                "compactor.delete_request_store",
                "limits_config.retention_period",
                "limits_config.retention_stream",
                "limits_config.retention_stream[].selector",
                "schema_config.configs[].index.prefix",
                "schema_config.configs[].store",
                "pattern_ingester.enabled",
                "ruler",
            },
            2000,
        ),
        (
            TEMPO_REF,
            "v3.0.3",
            {
                "stream_over_http_enabled",
                "server.http_listen_port",
                "distributor.receivers.otlp.protocols.grpc.endpoint",
                "distributor.receivers.otlp.protocols.http.endpoint",
                "storage.trace.backend",
                "storage.trace.local.path",
                "storage.trace.wal.path",
                "metrics_generator.storage.path",
                "metrics_generator.storage.remote_write[].url",
                "metrics_generator.storage.remote_write[].send_exemplars",
                "metrics_generator.processor.service_graphs.dimensions",
                "metrics_generator.processor.span_metrics.dimensions",
                "metrics_generator.registry.external_labels.*",
                "overrides.defaults.metrics_generator.processors",
                "overrides.defaults.compaction.block_retention",
                "backend_worker.compaction.block_retention",
                "usage_report.reporting_enabled",
            },
            900,
        ),
    ],
)
def test_reference_is_the_pinned_release_and_non_trivial(
    path: Path, tag: str, required: set[str], minimum: int
) -> None:
    text = path.read_text(encoding="utf-8")
    assert f"# Tag: {tag} (commit " in text
    ref = load_key_reference(path)
    assert required <= ref.paths, sorted(required - ref.paths)
    assert len(ref.paths) >= minimum


@pytest.mark.parametrize("path", [LOKI_REF, TEMPO_REF])
def test_reference_sections_are_sorted_without_duplicates(path: Path) -> None:
    sections: list[list[str]] = [[]]
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            sections.append([])
        elif not line.startswith("#"):
            sections[-1].append(line.split("#", 1)[0].strip())
    everything = [key for section in sections for key in section]
    assert len(everything) == len(set(everything))
    for section in sections:
        assert section == sorted(section)


@pytest.mark.parametrize(
    ("path", "gone"),
    [
        (LOKI_REF, ["compactor.shared_store", "compactor.shared_store_key_prefix"]),
        (
            TEMPO_REF,
            [
                "compactor",
                "ingester",
                "ingester_client",
                "metrics_generator.processor.service_graphs.enabled",
                "metrics_generator.processor.span_metrics.enabled",
                "overrides.metrics_generator_processors",
                "query_frontend.search.query_ingesters_until",
            ],
        ),
    ],
)
def test_reference_omits_removed_keys(path: Path, gone: list[str]) -> None:
    ref = load_key_reference(path)
    for key in gone:
        assert not any(p == key or p.startswith(key + ".") for p in ref.paths), key


# --------------------------------------------------------------------------- Loki


def test_loki_flags_compactor_shared_store_removed_in_3x(loki: KeyReference) -> None:
    config = {
        "compactor": {
            "working_directory": "/loki/compactor",
            "retention_enabled": True,
            "delete_request_store": "filesystem",
            "shared_store": "filesystem",
        }
    }
    assert unknown_keys(config, loki) == ["compactor.shared_store"]


def test_loki_flags_misspelt_nested_key(loki: KeyReference) -> None:
    config = {"limits_config": {"retention_period": "720h", "retention_perod": "720h"}}
    assert unknown_keys(config, loki) == ["limits_config.retention_perod"]


def test_loki_checks_keys_inside_lists(loki: KeyReference) -> None:
    config = {
        "schema_config": {
            "configs": [
                {
                    "from": "2024-01-01",
                    "store": "tsdb",
                    "object_store": "filesystem",
                    "schema": "v13",
                    "index": {"prefix": "index_", "period": "24h"},
                },
                {"from": "2025-01-01", "stroe": "tsdb", "index": {"prefx": "i_"}},
            ]
        },
        "limits_config": {
            "retention_stream": [
                {"selector": '{level="debug"}', "priority": 1, "period": "24h"},
                {"selektor": '{level="info"}'},
            ]
        },
    }
    assert unknown_keys(config, loki) == [
        "schema_config.configs[].stroe",
        "schema_config.configs[].index.prefx",
        "limits_config.retention_stream[].selektor",
    ]


def test_loki_accepts_a_single_binary_config(loki: KeyReference) -> None:
    config = {
        "auth_enabled": False,
        "server": {"http_listen_port": 3100, "grpc_listen_port": 9096, "log_level": "info"},
        "common": {
            "path_prefix": "/loki",
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}, "instance_addr": "127.0.0.1"},
            "storage": {
                "filesystem": {
                    "chunks_directory": "/loki/chunks",
                    "rules_directory": "/loki/rules",
                }
            },
        },
        "compactor": {
            "working_directory": "/loki/compactor",
            "compaction_interval": "10m",
            "retention_enabled": True,
            "retention_delete_delay": "2h",
            "delete_request_store": "filesystem",
        },
        "limits_config": {"retention_period": "720h", "allow_structured_metadata": True},
        "pattern_ingester": {"enabled": True},
        "ruler": {"alertmanager_url": "http://alertmanager:9093"},
        "analytics": {"reporting_enabled": False},
    }
    assert unknown_keys(config, loki) == []


def test_loki_free_form_maps_take_any_child(loki: KeyReference) -> None:
    config = {
        "limits_config": {"policy_enforced_labels": {"team-a": ["app"], "anything": ["x"]}},
        "storage_config": {
            "named_stores": {"aws": {"my-store": {"bucketnames": "b", "bucketname": "typo"}}}
        },
    }
    # A map of blocks takes any name, but the block under each name is still checked.
    assert unknown_keys(config, loki) == ["storage_config.named_stores.aws.my-store.bucketname"]


# --------------------------------------------------------------------------- Tempo


def test_tempo_flags_keys_that_30_rejects(tempo: KeyReference) -> None:
    config = {
        "compactor": {"compaction": {"block_retention": "720h"}},
        "ingester": {"max_block_duration": "5m"},
        "metrics_generator": {
            "processor": {"service_graphs": {"enabled": True, "dimensions": ["cluster"]}}
        },
        "overrides": {"metrics_generator_processors": ["service-graphs"]},
    }
    assert unknown_keys(config, tempo) == [
        "compactor",
        "ingester",
        "metrics_generator.processor.service_graphs.enabled",
        "overrides.metrics_generator_processors",
    ]


def test_tempo_accepts_a_monolithic_config(tempo: KeyReference) -> None:
    config = {
        "stream_over_http_enabled": True,
        "server": {"http_listen_port": 3200, "grpc_listen_port": 9095, "log_level": "info"},
        "distributor": {
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": "0.0.0.0:4317"},
                        "http": {"endpoint": "0.0.0.0:4318"},
                    }
                }
            }
        },
        "storage": {
            "trace": {
                "backend": "local",
                "local": {"path": "/var/tempo/traces"},
                "wal": {"path": "/var/tempo/wal"},
            }
        },
        "metrics_generator": {
            "registry": {"external_labels": {"source": "tempo", "env": "production"}},
            "storage": {
                "path": "/var/tempo/generator/wal",
                "remote_write": [
                    {"url": "http://prometheus:9090/api/v1/write", "send_exemplars": True}
                ],
            },
            "processor": {
                "service_graphs": {"dimensions": ["cluster"]},
                "span_metrics": {"dimensions": ["service.namespace"]},
            },
        },
        "overrides": {
            "defaults": {
                "metrics_generator": {"processors": ["service-graphs", "span-metrics"]},
                "compaction": {"block_retention": "720h"},
            }
        },
        "usage_report": {"reporting_enabled": False},
    }
    assert unknown_keys(config, tempo) == []


def test_tempo_checks_receiver_and_remote_write_keys(tempo: KeyReference) -> None:
    config = {
        "distributor": {"receivers": {"otlp": {"protocols": {"grpc": {"endpont": "x"}}}}},
        "metrics_generator": {"storage": {"remote_write": [{"url": "u", "send_exemplar": True}]}},
    }
    assert unknown_keys(config, tempo) == [
        "distributor.receivers.otlp.protocols.grpc.endpont",
        "metrics_generator.storage.remote_write[].send_exemplar",
    ]


# --------------------------------------------------------------------------- checker semantics


def test_trailing_wildcard_allows_anything_below(tmp_path: Path) -> None:
    ref = small_ref(tmp_path, "labels.*", "server.port")
    config = {"labels": {"a": "1", "b": {"deep": ["x", {"y": 1}]}}, "server": {"port": 1}}
    assert unknown_keys(config, ref) == []


def test_inner_wildcard_matches_one_key_only(tmp_path: Path) -> None:
    ref = small_ref(tmp_path, "stores.*.bucket")
    config = {"stores": {"one": {"bucket": "b"}, "two": {"bucket": "c", "region": "r"}}}
    assert unknown_keys(config, ref) == ["stores.two.region"]


def test_children_of_a_leaf_and_of_list_items_are_flagged(tmp_path: Path) -> None:
    ref = small_ref(tmp_path, "a.b", "items[].name", "tags  # list of strings")
    config = {
        "a": {"b": {"c": 1}},
        "items": [{"name": "x"}, {"nam": "y"}],
        "tags": ["x", "y"],
        "rules": [{"x": 1}],
    }
    assert unknown_keys(config, ref) == ["a.b.c", "items[].nam", "rules"]


def test_list_of_mappings_where_the_reference_has_no_items(tmp_path: Path) -> None:
    ref = small_ref(tmp_path, "tags")
    assert unknown_keys({"tags": [{"k": "v"}]}, ref) == ["tags[].k"]


def test_empty_reference_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no key paths"):
        load_key_reference(path)


# --- Grafana's GF_* variables ----------------------------------------------------------------

GRAFANA_REF = REFERENCE_DIR / "grafana-keys.txt"


def test_grafana_env_names_follow_grafanas_env_key() -> None:
    assert grafana_env_name("security", "cookie_samesite") == "GF_SECURITY_COOKIE_SAMESITE"
    assert grafana_env_name("auth.anonymous", "enabled") == "GF_AUTH_ANONYMOUS_ENABLED"
    assert grafana_env_name("unified-alerting", "x") == "GF_UNIFIED_ALERTING_X"


def test_grafana_reference_flags_a_misspelt_or_unknown_variable() -> None:
    reference = load_ini_reference(GRAFANA_REF)
    names = ["GF_SECURITY_COOKIE_SAMESITE", "GF_SECURITY_SECRET_KEY__FILE",
             "GF_SECURITY_COOKIE_SAMESIDE", "GF_METRICS_BASIC_AUTH_PASSWORD_FILE",
             "GF_NO_SUCH_SECTION_ENABLED", "PATH"]
    assert unknown_grafana_env(names, reference) == [
        "GF_SECURITY_COOKIE_SAMESIDE", "GF_METRICS_BASIC_AUTH_PASSWORD_FILE",
        "GF_NO_SUCH_SECTION_ENABLED"]


def test_grafana_reference_is_sorted_without_duplicates() -> None:
    entries = [line for line in GRAFANA_REF.read_text().splitlines()
               if line and not line.startswith("#")]
    assert entries == sorted(set(entries))
    assert len(load_ini_reference(GRAFANA_REF)) == len(entries) > 100


def test_an_ini_reference_line_of_another_form_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("security.cookie_secure\n")
    with pytest.raises(ValueError, match="not `\\[section\\] key`"):
        load_ini_reference(path)

"""Prometheus v3.14.0 accepts what we render: every config key, flag and feature is one it knows.

The references are derived from the release's Go sources by tools/derive_prometheus_reference.py;
Prometheus exits on an unknown key or flag, but only warns on an unknown --enable-feature value.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from configs.prometheus import CONFIG_PATH
from tools.derive_prometheus_reference import FlagReference, load_flag_reference
from tools.keyref import KeyReference, load_key_reference, unknown_keys
from tools.mock_runtime import ProgramRun

TAG = "v3.14.0"
REFERENCE_DIR = Path(__file__).parent / "reference"
KEYS = REFERENCE_DIR / f"prometheus-{TAG}-keys.txt"
FLAGS = REFERENCE_DIR / f"prometheus-{TAG}-flags.txt"

# Deprecated in v3.14.0 for storage.tsdb.retention in the config file, yet still read as its
# default (cmd/prometheus/main.go:732-742). Kept: the pinned promtool 2.42 rejects that section.
ACCEPTED_DEPRECATED = frozenset({"storage.tsdb.retention.time", "storage.tsdb.retention.size"})


@pytest.fixture(scope="module")
def keys() -> KeyReference:
    return load_key_reference(KEYS)


@pytest.fixture(scope="module")
def flags() -> FlagReference:
    return load_flag_reference(FLAGS)


def flag_problems(command: Sequence[str], ref: FlagReference,
                  accepted: frozenset[str] = ACCEPTED_DEPRECATED) -> list[str]:
    """Why the release would refuse, ignore or frown on each argument ([] if none would)."""
    problems: list[str] = []
    agent = "--agent" in command
    for arg in command:
        name, _, value = arg.removeprefix("--").partition("=")
        attributes = ref.flags.get(name) if arg.startswith("--") else None
        if attributes is None:
            problems.append(f"{arg}: not a {TAG} flag, Prometheus exits")
            continue
        wrong_mode = "server-only" if agent else "agent-only"
        if wrong_mode in attributes:
            problems.append(f"{arg}: {wrong_mode}, Prometheus exits in this mode")
        if "deprecated" in attributes and name not in accepted:
            problems.append(f"{arg}: deprecated in {TAG}")
        if name == "enable-feature":
            problems += _feature_problems(arg, value, ref)
    return problems


def _feature_problems(arg: str, value: str, ref: FlagReference) -> list[str]:
    problems = []
    for feature in value.split(","):
        status = ref.features.get(feature)
        if status is None:
            problems.append(f"{arg}: {feature!r} is not a {TAG} feature (only a warning)")
        elif status:
            problems.append(f"{arg}: {feature!r} is {', '.join(sorted(status))} in {TAG}")
    return problems


def prometheus_command(program: ProgramRun) -> list[str]:
    command = program.containers()["prometheus"].plain_inputs()["command"]
    assert isinstance(command, list)
    return [str(arg) for arg in command]


# --------------------------------------------------------------------------- the references


@pytest.mark.parametrize("path", [KEYS, FLAGS])
def test_reference_is_of_the_pinned_release(path: Path) -> None:
    head = path.read_text(encoding="utf-8").splitlines()[:3]
    assert head[1] == "# Repository: https://github.com/prometheus/prometheus"
    assert head[2].startswith(f"# Tag: {TAG} (commit ")


def test_image_is_the_release_the_references_describe(program: ProgramRun) -> None:
    pulled = {image.plain_inputs()["name"] for image in
              program.of_type("docker:index/remoteImage:RemoteImage")}
    prometheus = {name for name in pulled if name.startswith("prom/prometheus:")}
    assert prometheus == {f"prom/prometheus:{TAG}"}, "regenerate tests/reference/prometheus-*"


def test_key_reference_has_the_keys_prometheus_documents(keys: KeyReference) -> None:
    expected = {
        "global.scrape_interval",
        "global.external_labels.*",
        "rule_files",
        "alerting.alertmanagers[].static_configs[].targets",
        "scrape_configs[].authorization.credentials_file",
        "scrape_configs[].static_configs[].labels.*",
        "scrape_configs[].kubernetes_sd_configs[].namespaces.names",
        "scrape_configs[].http_headers.*.values",
        "remote_write[].queue_config.max_shards",
        "remote_write[].sigv4.region",
        "storage.tsdb.retention.time",  # new in 3.x: the retention flags' replacement
    }
    assert expected <= keys.paths
    assert len(keys.paths) > 4000


def test_flag_reference_has_the_flags_and_features_prometheus_documents(
    flags: FlagReference,
) -> None:
    assert {"config.file", "web.listen-address", "log.level", "agent", "help"} <= set(flags.flags)
    assert flags.flags["storage.tsdb.path"] == {"server-only"}
    assert flags.flags["storage.agent.path"] == {"agent-only"}
    assert flags.features["exemplar-storage"] == frozenset()
    assert flags.features["native-histograms"] == {"no-op"}  # a default since 3.0


# --------------------------------------------------------------------------- what we render


def test_rendered_config_has_only_keys_the_release_knows(
    program: ProgramRun, keys: KeyReference,
) -> None:
    config = yaml.safe_load(program.containers()["prometheus"].files()[CONFIG_PATH])
    assert isinstance(config, dict)
    assert unknown_keys(config, keys) == []


def test_command_has_only_flags_and_features_the_release_knows(
    program: ProgramRun, flags: FlagReference,
) -> None:
    command = prometheus_command(program)
    assert any(arg.startswith("--enable-feature=") for arg in command)
    assert flag_problems(command, flags) == []


# --------------------------------------------------------------------------- the checks bite


@pytest.mark.parametrize(
    ("config", "unknown"),
    [
        ({"scrape_configs": [{"job_name": "j", "bearer_tokenn": "t"}]},
         ["scrape_configs[].bearer_tokenn"]),
        ({"scrape_configs": [{"job_name": "j", "static_configs": [{"target": ["a:1"]}]}]},
         ["scrape_configs[].static_configs[].target"]),
        ({"global": {"scrape_interval": "15s", "retention": "30d"}}, ["global.retention"]),
        ({"alerting": {"alertmanagers": [{"static_config": []}]}},
         ["alerting.alertmanagers[].static_config"]),
        ({"scrape_configs": [{"job_name": "j", "bearer_token": "t"}]}, []),
    ],
)
def test_key_reference_rejects_a_wrong_key(
    keys: KeyReference, config: dict[str, object], unknown: list[str],
) -> None:
    assert unknown_keys(config, keys) == unknown


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        # A 2.x alias (deprecated there), gone in 3.x.
        (["--storage.tsdb.retention=30d"], "not a v3.14.0 flag"),
        (["--config.fil=/x"], "not a v3.14.0 flag"),
        (["config.file=/x"], "not a v3.14.0 flag"),
        (["--enable-feature=no-such-feature"], "'no-such-feature' is not a v3.14.0 feature"),
        (["--enable-feature=exemplar-storage,native-histograms"], "'native-histograms' is no-op"),
        (["--enable-feature=auto-reload-config"], "'auto-reload-config' is deprecated"),
        (["--storage.agent.path=/a"], "agent-only"),
        (["--agent", "--storage.tsdb.path=/p"], "server-only"),
    ],
)
def test_flag_check_rejects_a_wrong_flag(
    flags: FlagReference, command: list[str], problem: str,
) -> None:
    (found,) = flag_problems(command, flags)
    assert problem in found


def test_flag_check_names_a_deprecated_flag_not_accepted(flags: FlagReference) -> None:
    (found,) = flag_problems(["--storage.tsdb.retention.time=1d"], flags, accepted=frozenset())
    assert found.endswith("deprecated in v3.14.0")

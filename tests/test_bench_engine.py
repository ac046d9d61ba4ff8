"""The pure parts of `make bench-engine` (review/bench_engine.py) and of the docker compose build
it runs first (toolchain/compose.py): how a downtime is read from the probe's samples, what a
gRPC debug log says, which replacements a figure accepts, when a cached build counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from review import bench_engine
from review.bench_engine import BenchError, downtime, grpc_profile
from toolchain import compose
from toolchain.cache import install


def test_downtime_runs_from_the_last_answer_to_the_first_after_the_outage() -> None:
    samples = [(0.0, True), (0.5, True), (1.0, False), (1.5, False), (2.25, True), (3.0, True)]
    assert downtime(samples) == 1.75


def test_downtime_is_zero_without_an_outage_and_counts_from_the_start_without_an_answer() -> None:
    assert downtime([(0.0, True), (1.0, True)]) == 0.0
    # Down from the first sample: from there.
    assert downtime([(1.0, False), (2.0, False), (4.0, True)]) == 3.0


def test_downtime_refuses_a_service_that_never_came_back() -> None:
    with pytest.raises(BenchError, match="did not answer again"):
        downtime([(0.0, True), (1.0, False), (2.0, False)])


def test_only_prometheus_may_be_replaced_by_the_change() -> None:
    before = {"prometheus": "a", "grafana": "b"}
    bench_engine.require_only_prometheus_replaced("ours", before, {"prometheus": "c",
                                                                   "grafana": "b"})
    with pytest.raises(BenchError, match=r"\['grafana', 'prometheus'\]"):
        bench_engine.require_only_prometheus_replaced("ours", before, {"prometheus": "c",
                                                                       "grafana": "d"})
    with pytest.raises(BenchError, match=r"replaced \[\]"):
        bench_engine.require_only_prometheus_replaced("compose", before, before)


def _entry(method: str, mode: str, stamp: str, duration: int | None = None,
           urn: str = "") -> str:
    entry: dict[str, object] = {"method": f"/pulumirpc.{method}", "metadata": {"mode": mode},
                                "timestamp": stamp, "request": {"urn": urn} if urn else {}}
    if duration is not None:
        entry["duration"] = duration
    return json.dumps(entry)


def test_grpc_profile_counts_the_clis_completed_calls_and_their_time(tmp_path: Path) -> None:
    log = tmp_path / "grpc.jsonl"
    started = bench_engine._timestamp("2026-01-02T03:04:05Z")
    assert started is not None
    log.write_text("\n".join([
        _entry("ResourceProvider/Check", "client", "2026-01-02T03:04:06.5Z"),
        _entry("ResourceProvider/Check", "client", "2026-01-02T03:04:06.75Z", 250_000_000),
        _entry("ResourceProvider/Check", "client", "2026-01-02T03:04:07Z", 500_000_000),
        _entry("ResourceProvider/Delete", "client", "2026-01-02T03:04:07Z", 2_000_000_000,
               "urn:pulumi:s::p::gatewayz:observability:Loki$docker:index/volume:Volume::v"),
        # The engine's own server side: no real duration, not counted; Go's zero time skipped.
        _entry("ResourceMonitor/RegisterResource", "server", "0001-01-01T00:00:00Z",
               9223372036854775807),
        "not json",
    ]) + "\n")
    profile = grpc_profile(log, started, started + 3.0)
    assert profile["calls"] == {"ResourceProvider/Check": {"calls": 2, "ms": 750.0},
                                "ResourceProvider/Delete": {"calls": 1, "ms": 2000.0}}
    assert profile["by_type"] == {"Delete volume": {"calls": 1, "ms": 2000.0}}
    assert profile["wall"] == 3.0
    assert profile["before_first_call"] == pytest.approx(1.5)
    assert profile["after_last_call"] == pytest.approx(1.0)


def test_a_compose_build_counts_only_with_its_stamp_and_reported_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAYZ_CACHE", str(tmp_path / "cache"))
    assert compose.binary_path() is None
    for reported, counts in ((compose.REPORTED.replace("5.6", "5.5"), False),
                             (compose.REPORTED, True)):
        staged = tmp_path / "staged"
        staged.mkdir()
        (staged / compose.BINARY).write_text("#!/bin/sh\n")
        install(staged, compose.compose_dir(), {"reported": reported})
        assert (compose.binary_path() is not None) is counts, reported
    assert compose.compose_dir().name == "github.com_docker_compose_v5@v5.6.0"

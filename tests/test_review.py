"""The review tools: offline render, render diff and `make validate`, as a reviewer uses them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from configs.render import to_yaml
from ops.tunnel import VERIFY_PORTS, ssh_command
from review import config_docs
from review import diff as review_diff
from review.diff import changed_files, diff_trees
from review.mock_runtime import FAKE_SECRET_PREFIX, ProgramRun, stack_settings
from review.render import CLUSTER_SCOPED, MASK, render
from review.validate import validate
from services import Service
from settings.stack_file import ROOT
from tests.support.tools import require_tool


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("render")
    for stack in ("staging", "production"):
        render(stack, base / stack)
    return {stack: base / stack for stack in ("staging", "production")}


def _render_in_subprocess(stack: str, out: Path, seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    subprocess.run([sys.executable, "-m", "review.render", "--stack", stack, "--out", str(out)],
                   cwd=ROOT, env=env, check=True, capture_output=True)


def test_render_is_byte_for_byte_deterministic_whatever_the_hash_seed(tmp_path: Path) -> None:
    _render_in_subprocess("production", tmp_path / "one", "1")
    _render_in_subprocess("production", tmp_path / "two", "4242")
    assert list(diff_trees(tmp_path / "one", tmp_path / "two")) == []
    assert len(list((tmp_path / "one").rglob("*.json"))) > 10


def test_render_shows_every_container_file_dashboard_and_datasource(
        trees: dict[str, Path]) -> None:
    tree = trees["production"]
    assert (tree / "files/prometheus/etc/prometheus/prometheus.yml").is_file()
    assert (tree / "files/loki/etc/loki/config.yaml").is_file()
    assert (tree / "files/tempo/etc/tempo/tempo.yaml").is_file()
    assert len(list((tree / "grafana/dashboards").glob("*.json"))) == 8
    assert {p.stem for p in (tree / "grafana/datasources").glob("*.json")} == {
        "grafana_prometheus", "grafana_loki", "grafana_tempo", "grafana_alertmanager"}
    tempo = json.loads((tree / "grafana/datasources/grafana_tempo.json").read_text())
    assert tempo["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "grafana_loki"


def test_render_masks_secrets_outside_the_files_that_carry_them(trees: dict[str, Path]) -> None:
    tree = trees["staging"]
    for path in [*tree.glob("*.json"), *tree.glob("containers/*.json"), *tree.glob("grafana/**/*")]:
        if path.is_file():
            assert FAKE_SECRET_PREFIX not in path.read_text(), path
    outputs = json.loads((tree / "outputs.json").read_text())
    assert outputs["grafanaAdminPassword"] == MASK
    resources = json.loads((tree / "grafana" / "resources.json").read_text())
    provider = next(r for r in resources if r["type"] == "pulumi:providers:grafana")
    assert provider["inputs"]["auth"] == MASK


def test_diff_is_empty_for_identical_trees_and_names_the_changed_file(
        trees: dict[str, Path], tmp_path: Path) -> None:
    assert list(diff_trees(trees["staging"], trees["staging"])) == []
    changed = _broken_copy(trees["staging"], tmp_path)
    loki = changed / "files/loki/etc/loki/config.yaml"
    config = yaml.safe_load(loki.read_text())
    before = config["limits_config"]["retention_period"]
    config["limits_config"]["retention_period"] = "999h"
    loki.write_text(to_yaml(config))
    lines = "".join(diff_trees(trees["staging"], changed)).splitlines()
    assert [line for line in lines if line.startswith(("--- ", "+++ "))] == [
        "--- a/files/loki/etc/loki/config.yaml", "+++ b/files/loki/etc/loki/config.yaml"]
    assert [line.strip() for line in lines if line.startswith(("-  ", "+  "))] == [
        f"-  retention_period: {before}", "+  retention_period: 999h"]


def test_diff_says_when_there_is_no_difference(capsys: pytest.CaptureFixture[str]) -> None:
    # HEAD renders what the working tree renders unless the tree changed what lands on the host.
    tree_changed = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                                  capture_output=True, text=True, check=True).stdout
    assert review_diff.main(["--stack", "staging", "--base", "HEAD"]) == 0
    out, err = capsys.readouterr()
    if out:
        pytest.skip(f"the working tree renders differently from HEAD ({tree_changed.split()})")
    assert err.strip() == "staging: no difference: the working tree renders exactly what HEAD " \
                          "renders"


def test_diff_names_the_files_that_differ(trees: dict[str, Path], tmp_path: Path) -> None:
    changed = _broken_copy(trees["staging"], tmp_path)
    (changed / "files/loki/etc/loki/config.yaml").write_text("changed: true\n")
    names = changed_files(trees["staging"], changed)
    assert names == ["files/loki/etc/loki/config.yaml"]
    assert review_diff.summary("staging", "origin/main", names) == (
        "staging: 1 rendered file(s) differ from origin/main: files/loki/etc/loki/config.yaml")


# The example stack on Kubernetes (Pulumi.cluster.yaml).
CLUSTER = "cluster"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProgramRun, Path]:
    out = tmp_path_factory.mktemp("render") / CLUSTER
    return render(CLUSTER, out), out


def _manifests(tree: Path) -> dict[str, Any]:
    return {str(path.relative_to(tree / "kubernetes")): yaml.safe_load(path.read_text())
            for path in sorted((tree / "kubernetes").rglob("*")) if path.is_file()}


def test_render_writes_each_kubernetes_object_to_a_yaml_file_of_its_own(
        cluster: tuple[ProgramRun, Path]) -> None:
    run, tree = cluster
    registered = {(r.plain_inputs()["metadata"].get("namespace", CLUSTER_SCOPED),
                   r.plain_inputs()["kind"], r.plain_inputs()["metadata"]["name"]): r
                  for r in run.resources if r.custom and r.type.startswith("kubernetes:")}
    manifests = _manifests(tree)
    assert len(manifests) == len(registered) > 1
    for path, manifest in manifests.items():
        namespace, kind, name = path.removesuffix(".yaml").split("/")
        assert (manifest["kind"], manifest["metadata"]["name"]) == (kind, name), path
        assert manifest["metadata"].get("namespace", CLUSTER_SCOPED) == namespace, path
        # The group and version the provider's type token names (core's is "v1").
        group_version = registered[namespace, kind, name].type.split(":")[1]
        assert manifest["apiVersion"] == group_version.removeprefix("core/"), path
    # As the provider sends it: the program's numbers are integers, not protobuf's doubles.
    (stateful_set,) = [m for m in manifests.values() if m["kind"] == "StatefulSet"
                       and m["metadata"]["name"] == str(Service.ALERTMANAGER)]
    replicas = stack_settings(CLUSTER).kubernetes.alertmanager_replicas
    assert stateful_set["spec"]["replicas"] == replicas
    assert isinstance(stateful_set["spec"]["replicas"], int)


def test_render_of_kubernetes_objects_masks_every_secret_value(
        cluster: tuple[ProgramRun, Path]) -> None:
    _, tree = cluster
    leaking = [str(path.relative_to(tree)) for path in sorted(tree.rglob("*"))
               if path.is_file() and FAKE_SECRET_PREFIX in path.read_text()]
    assert leaking == []
    secrets = [m for m in _manifests(tree).values() if m["kind"] == "Secret"]
    assert secrets, "the cluster stack keeps its receivers' URLs in a Secret"
    for secret in secrets:
        # The keys (the files a pod mounts) stay readable; every value is masked.
        values = [value for field in ("data", "stringData")
                  for value in secret.get(field, {}).values()]
        assert values, secret["metadata"]["name"]
        assert set(values) == {MASK}, secret["metadata"]["name"]


def test_cluster_render_is_byte_for_byte_deterministic_whatever_the_hash_seed(
        tmp_path: Path) -> None:
    _render_in_subprocess(CLUSTER, tmp_path / "one", "1")
    _render_in_subprocess(CLUSTER, tmp_path / "two", "4242")
    assert list(diff_trees(tmp_path / "one", tmp_path / "two")) == []
    assert list((tmp_path / "one" / "kubernetes").rglob("*.yaml"))


def test_diff_of_the_alertmanager_replicas_shows_only_what_counts_them(
        cluster: tuple[ProgramRun, Path], tmp_path: Path) -> None:
    _, tree = cluster
    replicas = stack_settings(CLUSTER).kubernetes.alertmanager_replicas
    render(CLUSTER, tmp_path / "changed", overrides={"alertmanagerReplicas": replicas + 1})
    changed = changed_files(tree, tmp_path / "changed")
    manifests = [yaml.safe_load((tmp_path / "changed" / path).read_text()) for path in changed]
    # Its StatefulSet, and Prometheus' rules (AlertmanagerClusterMemberMissing counts the
    # replicas) with the Prometheus pods that restart on them.
    assert sorted((m["kind"], m["metadata"]["name"]) for m in manifests) == [
        ("ConfigMap", "prometheus-rules"), ("StatefulSet", "alertmanager"),
        ("StatefulSet", "prometheus")], changed


def test_docs_says_it_rewrote_nothing_or_what(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    for name in ("Pulumi.yaml", "README.md"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    monkeypatch.setattr(config_docs, "ROOT", tmp_path)
    assert config_docs.main() == 0
    assert capsys.readouterr().out == (
        "make docs: all up to date (Pulumi.yaml, README.md, docs/alerts.md, docs/stacks.md, "
        "docs/dashboards/), nothing rewritten\n")
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("| `logsRetention` |", "| `logsRetentionX` |"))
    assert config_docs.main() == 0
    assert capsys.readouterr().out == "make docs: rewrote README.md (the config table)\n"
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text()


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_validate_passes_on_the_rendered_stack(trees: dict[str, Path], stack: str) -> None:
    require_tool("promtool")
    require_tool("amtool")
    assert [str(failure) for failure in validate(trees[stack])] == []


def _broken_copy(tree: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "broken"
    shutil.copytree(tree, copy)
    return copy


@pytest.mark.parametrize(("file", "break_it", "reported"), [
    ("files/loki/etc/loki/config.yaml",
     lambda d: d["compactor"].update(shared_store="filesystem"), "compactor.shared_store"),
    ("files/tempo/etc/tempo/tempo.yaml",
     lambda d: d["metrics_generator"].update(processor={"span_metrics": {"enabled": True}}),
     "span_metrics.enabled"),
    ("files/prometheus/etc/prometheus/prometheus.yml",
     lambda d: d["scrape_configs"][0].update(bearer_tokenn="x"), "bearer_tokenn"),
    ("files/alertmanager/etc/alertmanager/alertmanager.yml",
     lambda d: d["route"].update(receiver="nobody-by-this-name"), "nobody-by-this-name"),
])
def test_validate_reports_a_broken_file_by_name(
        trees: dict[str, Path], tmp_path: Path, file: str,
        break_it: Callable[[Any], None], reported: str) -> None:
    require_tool("promtool")
    require_tool("amtool")
    tree = _broken_copy(trees["production"], tmp_path)
    document = yaml.safe_load((tree / file).read_text())
    break_it(document)
    (tree / file).write_text(yaml.safe_dump(document, sort_keys=False))
    failures = validate(tree)
    assert {f.file for f in failures} == {file}
    assert all(reported in f.message for f in failures)


@pytest.mark.parametrize(("service", "flag", "reported"), [
    ("prometheus", "--storage.tsdb.retension.time=15d", "unknown long flag"),
    ("prometheus", "--storage.tsdb.retention.time=15d", "deprecated"),
    ("alertmanager", "--cluster.listen-adress=", "unknown long flag"),
])
def test_validate_reports_a_flag_the_pinned_binary_refuses_or_deprecates(
        trees: dict[str, Path], tmp_path: Path, service: str, flag: str, reported: str) -> None:
    for tool in ("promtool", "amtool", "prometheus", "alertmanager"):
        require_tool(tool)
    tree = _broken_copy(trees["production"], tmp_path)
    path = tree / "containers" / f"{service}.json"
    container = json.loads(path.read_text())
    container["command"].append(flag)
    path.write_text(json.dumps(container))
    failures = validate(tree)
    assert [f.file for f in failures] == [f"containers/{service}.json"]
    assert reported in failures[0].message


def test_validate_reports_a_dashboard_query_promtool_cannot_parse(
        trees: dict[str, Path], tmp_path: Path) -> None:
    require_tool("promtool")
    require_tool("amtool")
    tree = _broken_copy(trees["staging"], tmp_path)
    path = tree / "grafana/dashboards/gatewayz-fastapi.json"
    model = json.loads(path.read_text())
    target = next(t for p in model["panels"] for t in p.get("targets", []) if "expr" in t)
    target["expr"] = "sum(rate(fastapi_requests_total[5m]"
    path.write_text(json.dumps(model))
    assert [f.file for f in validate(tree)] == ["grafana/dashboards/gatewayz-fastapi.json"]


def test_tunnel_forwards_grafana_from_an_ssh_docker_host() -> None:
    config = {"docker:host": "ssh://deploy@obs.example.com:2222",
              "gatewayz-observability:grafanaBind": "127.0.0.1:3300",
              "gatewayz-observability:backendMetricsUrl": "https://api.gatewayz.ai/metrics",
              "gatewayz-observability:protectData": True}
    assert ssh_command("production", config) == [
        "ssh", "-f", "-N", "-o", "ExitOnForwardFailure=yes", "-p", "2222",
        "-L", "3300:127.0.0.1:3300", "deploy@obs.example.com"]
    assert ssh_command("production", {**config, "docker:host": "unix:///var/run/docker.sock"}) \
        is None


def test_tunnel_for_verify_forwards_every_published_http_port() -> None:
    config = {"docker:host": "ssh://deploy@obs.example.com",
              "gatewayz-observability:lokiBind": "none",
              "gatewayz-observability:backendMetricsUrl": "https://api.gatewayz.ai/metrics",
              "gatewayz-observability:protectData": True}
    command = ssh_command("production", config, VERIFY_PORTS)
    assert command is not None
    forwards = [command[i + 1] for i, arg in enumerate(command) if arg == "-L"]
    # Loki is published as `none`, so there is nothing of it to forward.
    assert forwards == ["9090:127.0.0.1:9090", "9093:127.0.0.1:9093", "3200:127.0.0.1:3200",
                        "4318:127.0.0.1:4318", "3000:127.0.0.1:3000"]

"""The Kubernetes layer's Prometheus and redis_exporter under mocks, beside production's Docker
run: what a user relies on holds on both platforms (the same rule files, one job per target with
`env` on each, the same retention and flags, credentials only as owner-only files at the same
paths), and what only Kubernetes has holds too (an HA pair whose replicas are told apart in
alerts' source but not in the alerts, every Alertmanager discovered, discovery read-only in the
namespace alone, Pod Security `restricted`, NetworkPolicies that let in and out what each
scrapes and is scraped by)."""

from __future__ import annotations

import os
import posixpath
import subprocess
from pathlib import Path
from string import Template
from typing import Any, Final

import pytest
import yaml

from configs.prometheus import REPLICA_LABEL, job_env
from configs.redis_exporter import PASSWORD_FILE
from review.mock_runtime import FAKE_SECRET_PREFIX, ProgramRun
from services import NAME_LABEL, SERVICES, Service, config_path
from tests.kubernetes.test_alertmanager_objects import (
    DOCKER_TWIN,
    NETWORK_POLICY,
    STATEFUL_SET,
    _rules,
    docker_run,
    kubernetes_run,
    named,
)
from tests.support.stack import containers, files
from tests.support.tools import require_tool

NAME: Final = str(Service.PROMETHEUS)
EXPORTER: Final = str(Service.REDIS_EXPORTER)
FACTS: Final = SERVICES[Service.PROMETHEUS]
CONFIG: Final = config_path(Service.PROMETHEUS)
DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
SECRET: Final = "kubernetes:core/v1:Secret"
CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
SERVICE: Final = "kubernetes:core/v1:Service"
RBAC: Final = "kubernetes:rbac.authorization.k8s.io/v1"


@pytest.fixture(scope="module")
def runs() -> tuple[ProgramRun, ProgramRun]:
    return docker_run(DOCKER_TWIN), kubernetes_run()


def _pod(run: ProgramRun, type_: str = STATEFUL_SET, name: str = NAME) -> dict[str, Any]:
    spec: dict[str, Any] = named(run, type_, name).plain_inputs()["spec"]["template"]["spec"]
    return spec


def _container(run: ProgramRun, type_: str = STATEFUL_SET, name: str = NAME) -> dict[str, Any]:
    (only,) = _pod(run, type_, name)["containers"]
    assert isinstance(only, dict)
    return only


def _mounted(run: ProgramRun) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each file of Prometheus' projected volume by its path in the container: its source
    (`configMap` or `secret`, with its name) and its item (key, mode)."""
    (volume,) = [v for v in _pod(run)["volumes"] if "projected" in v]
    mount = {m["name"]: m for m in _container(run)["volumeMounts"]}[volume["name"]]
    assert mount["readOnly"] is True
    found = {}
    for source in volume["projected"]["sources"]:
        ((kind, projection),) = source.items()
        for item in projection["items"]:
            found[posixpath.join(mount["mountPath"], item["path"])] = (
                {"kind": kind, "name": projection["name"]}, item)
    return found


def _file(run: ProgramRun, path: str) -> str:
    """A mounted file's content, from the ConfigMap or Secret it projects."""
    source, item = _mounted(run)[path]
    type_ = CONFIG_MAP if source["kind"] == "configMap" else SECRET
    (found,) = [r.plain_inputs() for r in run.of_type(type_)
                if r.plain_inputs()["metadata"]["name"] == source["name"]]
    content: str = found["data" if type_ == CONFIG_MAP else "stringData"][item["key"]]
    return content


def _config(run: ProgramRun) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(_file(run, CONFIG))
    return config


def _docker_config(docker: ProgramRun) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(files(containers(docker)[NAME])[CONFIG])
    return config


def test_the_mounted_files_pass_promtool(runs: tuple[ProgramRun, ProgramRun],
                                         tmp_path: Path) -> None:
    # Every file of the projected volume laid under tmp_path, so promtool finds the rule files
    # and credentials the config names; POD_NAME as the downward API sets it.
    _, kubernetes = runs
    config_dir = posixpath.dirname(CONFIG)
    for path in _mounted(kubernetes):
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_file(kubernetes, path).replace(config_dir, f"{tmp_path}{config_dir}"))
    result = subprocess.run(
        [require_tool("promtool"), "check", "config", "--lint=all",
         str(tmp_path / CONFIG.lstrip("/"))],
        capture_output=True, text=True, check=False,
        env={**os.environ, "POD_NAME": f"{NAME}-0"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replicas.yml" in result.stdout


# --- the same Prometheus on both platforms -----------------------------------------------------

def test_credentials_are_owner_only_files_at_the_docker_paths(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, kubernetes = runs
    uploaded = {upload["file"] for upload in containers(docker)[NAME].plain_inputs()["uploads"]
                if upload["permissions"] == "0400"}
    secrets = {path: item for path, (source, item) in _mounted(kubernetes).items()
               if source["kind"] == "secret"}
    assert set(secrets) == uploaded
    assert {item["mode"] for item in secrets.values()} == {0o400}
    assert _pod(kubernetes)["securityContext"]["fsGroup"] == FACTS.group_id
    # Every file the config reads a credential from is one of them.
    config = _config(kubernetes)
    named_files = {auth[key] for job in config["scrape_configs"]
                   for auth in (job.get("basic_auth", {}), job.get("authorization", {}))
                   for key in ("password_file", "credentials_file") if key in auth}
    assert named_files <= set(secrets)
    # Nothing secret anywhere else: not in the environment, the config or a ConfigMap.
    assert [env["name"] for env in _container(kubernetes)["env"]] == ["POD_NAME"]
    for config_map in kubernetes.of_type(CONFIG_MAP):
        assert FAKE_SECRET_PREFIX not in str(config_map.plain_inputs()["data"])


def test_a_backend_token_is_a_credentials_file_as_on_docker() -> None:
    run = kubernetes_run(backendAuth="bearer")
    (job,) = [job for job in _config(run)["scrape_configs"]
              if job["job_name"] == "gatewayz_production"]
    path = job["authorization"]["credentials_file"]
    assert FAKE_SECRET_PREFIX in _file(run, path)
    assert _mounted(run)[path][1]["mode"] == 0o400


def test_both_platforms_mount_the_same_rule_files(runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, kubernetes = runs
    on_docker = {path: text for path, text in files(containers(docker)[NAME]).items()
                 if path in _docker_config(docker)["rule_files"]}
    config = _config(kubernetes)
    mounted = set(_mounted(kubernetes))
    # Every file the config names is mounted, and every Docker rule file is there too, at its
    # path; Kubernetes adds the replicas' and the rings' rules.
    assert set(config["rule_files"]) <= mounted
    assert set(on_docker) <= set(config["rule_files"])
    extra = {posixpath.basename(path) for path in set(config["rule_files"]) - set(on_docker)}
    assert extra == {"replicas.yml", "loki-rings.yml", "tempo-rings.yml"}
    alerts = {rule["alert"] for group in yaml.safe_load(
        _file(kubernetes, posixpath.join(posixpath.dirname(next(iter(on_docker))),
                                         "replicas.yml")))["groups"]
        for rule in group["rules"]}
    assert alerts == {"PrometheusReplicaDown", "AlertmanagerClusterMemberMissing"}
    # The recording rules are the same text on both.
    recording = next(path for path in on_docker if path.endswith("/recording.yml"))
    assert _file(kubernetes, recording) == on_docker[recording]


def test_one_job_per_target_each_labelling_env(runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, kubernetes = runs
    docker_jobs = [job["job_name"] for job in _docker_config(docker)["scrape_configs"]]
    jobs = _config(kubernetes)["scrape_configs"]
    assert [job["job_name"] for job in jobs] == docker_jobs
    assert {job["job_name"]: job_env(job) for job in jobs} == dict.fromkeys(docker_jobs,
                                                                            "production")
    namespace = named(kubernetes, "kubernetes:core/v1:Namespace", "gatewayz-production")
    for job in jobs:
        if "kubernetes_sd_configs" not in job:
            continue  # the backend and extraTargets stay static
        (sd,) = job["kubernetes_sd_configs"]
        assert sd == {"role": "pod", "namespaces": {
            "names": [namespace.plain_inputs()["metadata"]["name"]]}}
        service = next(s for s in Service if s.job == job["job_name"])
        keeps = {rule["source_labels"][0]: rule["regex"] for rule in job["relabel_configs"]
                 if rule.get("action") == "keep"}
        # The service's pods, by the label its workload selects them by, on its HTTP port.
        label = "__meta_kubernetes_pod_label_" + NAME_LABEL.replace(".", "_").replace("/", "_")
        assert keeps == {label: str(service),
                         "__meta_kubernetes_pod_container_port_number":
                             str(SERVICES[service].http_port)}


@pytest.mark.parametrize("size", ["20GB", "80GB"])
def test_retention_and_flags_are_dockers(size: str) -> None:
    overrides = {"metricsRetentionSize": size, "metricsRetentionTime": "15d"}
    docker, kubernetes = docker_run(DOCKER_TWIN, **overrides), kubernetes_run(**overrides)
    assert _container(kubernetes)["args"] == containers(docker)[NAME].plain_inputs()["command"]
    retention = _config(kubernetes)["storage"]["tsdb"]["retention"]
    assert retention == _docker_config(docker)["storage"]["tsdb"]["retention"]
    assert retention["size"] == size
    # Each replica's claim holds its TSDB, at the data dir the flags name.
    (claim,) = named(kubernetes, STATEFUL_SET, NAME).plain_inputs()["spec"]["volumeClaimTemplates"]
    (data,) = [m for m in _container(kubernetes)["volumeMounts"]
               if m["name"] == claim["metadata"]["name"]]
    assert f"--storage.tsdb.path={data['mountPath']}" in _container(kubernetes)["args"]


# --- the HA pair ---------------------------------------------------------------------------

@pytest.mark.parametrize("replicas", [2, 3])
def test_each_replica_labels_its_alerts_apart_and_alertmanager_sees_one(replicas: int) -> None:
    run = kubernetes_run(prometheusReplicas=str(replicas))
    stateful_set = named(run, STATEFUL_SET, NAME).plain_inputs()
    assert stateful_set["spec"]["replicas"] == replicas
    config = _config(run)
    template = Template(config["global"]["external_labels"][REPLICA_LABEL])
    # The pod's own name, from the downward API: distinct for each pod of the StatefulSet.
    (env,) = _container(run)["env"]
    assert env["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    pods = [f"{stateful_set['metadata']['name']}-{ordinal}" for ordinal in range(replicas)]
    values = {template.substitute({env["name"]: pod}) for pod in pods}
    assert values == set(pods)
    # Dropped before alerts leave, so Alertmanager de-duplicates the pair's alerts.
    assert config["alerting"]["alert_relabel_configs"] == [
        {"action": "labeldrop", "regex": REPLICA_LABEL}]


def test_docker_has_no_replica_label(runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, _ = runs
    config = _docker_config(docker)
    assert "external_labels" not in config["global"]
    assert "alert_relabel_configs" not in config["alerting"]


def test_every_alertmanager_replica_is_discovered(runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    ((manager,),) = [_config(kubernetes)["alerting"]["alertmanagers"]]
    (sd,) = manager["kubernetes_sd_configs"]
    assert sd["role"] == "endpointslice"
    keeps = {rule["source_labels"][0]: rule["regex"] for rule in manager["relabel_configs"]}
    # A Service of the Alertmanager pods by that name, whose endpoints list each replica on
    # the port kept.
    service = named(kubernetes, SERVICE, keeps["__meta_kubernetes_service_name"]).plain_inputs()
    assert service["spec"]["selector"][NAME_LABEL] == str(Service.ALERTMANAGER)
    assert int(keeps["__meta_kubernetes_endpointslice_port"]) in {
        port["port"] for port in service["spec"]["ports"]}


def test_services_name_the_pair_and_each_pod(runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    stateful_set = named(kubernetes, STATEFUL_SET, NAME).plain_inputs()["spec"]
    pods = named(kubernetes, SERVICE, stateful_set["serviceName"]).plain_inputs()["spec"]
    assert stateful_set["serviceName"] == f"{NAME}-pods"
    assert pods["clusterIP"] == "None"
    # The Docker alias, so services.internal_url reaches either replica on both platforms.
    both = named(kubernetes, SERVICE, NAME).plain_inputs()["spec"]
    assert both["type"] == "ClusterIP"
    assert {p["port"] for p in both["ports"]} == {p["port"] for p in pods["ports"]} == {
        FACTS.http_port}
    budget = named(kubernetes, "kubernetes:policy/v1:PodDisruptionBudget", NAME).plain_inputs()
    assert budget["spec"]["maxUnavailable"] == 1


# --- discovery's permissions ---------------------------------------------------------------

def test_discovery_reads_its_namespace_alone(runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    assert not [r for r in kubernetes.resources if r.type.startswith(f"{RBAC}:Cluster")]
    (role,) = [r.plain_inputs() for r in kubernetes.of_type(f"{RBAC}:Role")]
    (binding,) = [r.plain_inputs() for r in kubernetes.of_type(f"{RBAC}:RoleBinding")]
    namespace = role["metadata"]["namespace"]
    assert {rule_verb for rule in role["rules"] for rule_verb in rule["verbs"]} == {
        "get", "list", "watch"}
    assert {(group, kind) for rule in role["rules"] for group in rule["apiGroups"]
            for kind in rule["resources"]} == {
        ("", "pods"), ("", "services"), ("", "endpoints"),
        ("discovery.k8s.io", "endpointslices")}
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    (subject,) = binding["subjects"]
    assert subject["namespace"] == namespace
    assert _pod(kubernetes)["serviceAccountName"] == subject["name"]
    # Discovery asks for that namespace only.
    config = _config(kubernetes)
    sds = [sd for job in [*config["scrape_configs"], *config["alerting"]["alertmanagers"]]
           for sd in job.get("kubernetes_sd_configs", [])]
    assert sds
    assert {tuple(sd["namespaces"]["names"]) for sd in sds} == {(namespace,)}


def test_only_prometheus_mounts_a_service_account_token(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    templates = {r.name: r.plain_inputs()["spec"]["template"]["spec"]
                 for type_ in (STATEFUL_SET, DEPLOYMENT) for r in kubernetes.of_type(type_)}
    assert {name for name, spec in templates.items()
            if spec.get("automountServiceAccountToken") is not False} == {NAME}


@pytest.mark.parametrize(("type_", "name"), [(STATEFUL_SET, NAME), (DEPLOYMENT, EXPORTER)])
def test_pods_meet_pod_security_restricted(runs: tuple[ProgramRun, ProgramRun], type_: str,
                                           name: str) -> None:
    _, kubernetes = runs
    pod = _pod(kubernetes, type_, name)
    container = _container(kubernetes, type_, name)
    facts = SERVICES[Service(name)]
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": facts.user_id, "runAsGroup": facts.group_id,
        "fsGroup": facts.group_id, "seccompProfile": {"type": "RuntimeDefault"}}
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"] == container["resources"]["requests"]
    # Probed as its Docker healthcheck checks it.
    for kind in ("livenessProbe", "readinessProbe"):
        probe = container[kind]
        if facts.health_command is not None:
            assert probe["exec"]["command"] == list(facts.health_command)
        else:
            assert (probe["httpGet"]["path"], probe["httpGet"]["port"]) == (
                facts.health_path, facts.http_port)


# --- redis_exporter ------------------------------------------------------------------------

def test_redis_password_is_an_owner_only_file_where_the_exporter_reads_it(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    docker, kubernetes = runs
    env = {e["name"]: e.get("value") for e in _container(kubernetes, DEPLOYMENT, EXPORTER)["env"]}
    assert env["REDIS_PASSWORD_FILE"] == PASSWORD_FILE
    assert FAKE_SECRET_PREFIX not in str(env)
    docker_env = dict(item.split("=", 1)
                      for item in containers(docker)[EXPORTER].plain_inputs()["envs"])
    assert env == docker_env
    (volume,) = _pod(kubernetes, DEPLOYMENT, EXPORTER)["volumes"]
    (mount,) = _container(kubernetes, DEPLOYMENT, EXPORTER)["volumeMounts"]
    (item,) = volume["secret"]["items"]
    assert posixpath.join(mount["mountPath"], item["path"]) == PASSWORD_FILE
    assert item["mode"] == 0o400
    assert mount["readOnly"] is True
    secret = named(kubernetes, SECRET, volume["secret"]["secretName"]).plain_inputs()
    assert FAKE_SECRET_PREFIX in secret["stringData"][item["key"]]
    assert named(kubernetes, DEPLOYMENT, EXPORTER).plain_inputs()["spec"]["replicas"] == 1


def test_no_redis_no_exporter_and_no_job() -> None:
    run = kubernetes_run(redisAddress=None, redisAuth=None, redisPassword=None)
    assert not [r for r in run.resources if isinstance(r.inputs.get("metadata"), dict)
                and str(r.plain_inputs()["metadata"].get("name", "")).startswith(EXPORTER)]
    assert Service.REDIS_EXPORTER.job not in {
        job["job_name"] for job in _config(run)["scrape_configs"]}


# --- network policies ----------------------------------------------------------------------

def _policy(run: ProgramRun, service: Service) -> dict[str, Any]:
    (own,) = [p.plain_inputs() for p in run.of_type(NETWORK_POLICY)
              if p.plain_inputs()["spec"]["podSelector"].get("matchLabels", {}).get(
                  NAME_LABEL) == str(service)]
    return own


def test_prometheus_reaches_what_it_scrapes_and_lets_in_its_readers(
        runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    policy = _policy(kubernetes, Service.PROMETHEUS)
    port = FACTS.http_port
    assert _rules(policy, "ingress") == {(peer, port, "TCP")
                                         for peer in ("prometheus", "grafana", "tempo")}
    scraped = {(str(service), SERVICES[service].http_port, "TCP")
               for service in Service}
    # The backend on https, the API server as a Service and as itself, DNS.
    assert _rules(policy, "egress") == {*scraped, ("*", 443, "TCP"), ("*", 6443, "TCP"),
                                        ("dns", 53, "UDP"), ("dns", 53, "TCP")}


def test_an_extra_target_opens_its_port() -> None:
    run = kubernetes_run(
        extraTargets=["job=edge url=http://edge.example:8081/metrics env=production"])
    assert ("*", 8081, "TCP") in _rules(_policy(run, Service.PROMETHEUS), "egress")


def test_redis_exporter_reaches_the_redis_alone(runs: tuple[ProgramRun, ProgramRun]) -> None:
    _, kubernetes = runs
    policy = _policy(kubernetes, Service.REDIS_EXPORTER)
    assert _rules(policy, "ingress") == {
        ("prometheus", SERVICES[Service.REDIS_EXPORTER].http_port, "TCP")}
    assert _rules(policy, "egress") == {("*", 6379, "TCP"), ("dns", 53, "UDP"),
                                        ("dns", 53, "TCP")}

"""Prometheus: the configuration file (scrapes, rules, alerting, retention) and its flags.

One job per endpoint: the GatewayZ backend (`gatewayz_<env>`), extra targets, and each service the
stack runs (`Settings.services`; on Docker Prometheus scrapes itself on localhost, the others
over the stack's network; on Kubernetes every pod of each service, found in the stack's
namespace). Every target carries `env` as a target label, so even `up` has it.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from configs.grafana import METRICS_USER as GRAFANA_METRICS_USER
from services import (
    NAME_LABEL,
    SERVICES,
    Service,
    config_path,
    data_dir,
    internal_address,
    on_docker_host,
    secrets_dir,
)
from settings import BackendAuth, Duration, Platform, ScrapeTarget, Settings

CONFIG_PATH: Final = config_path(Service.PROMETHEUS)
SECRETS_DIR: Final = secrets_dir(Service.PROMETHEUS)
DATA_DIR: Final = data_dir(Service.PROMETHEUS)
# Prometheus' own default; capped by the interval because a longer timeout is a config error.
DEFAULT_SCRAPE_TIMEOUT: Final = Duration(10)

# Grafana's /metrics is behind basic auth (configs/grafana.py); its password is a file here.
GRAFANA_PASSWORD_FILE: Final = f"{SECRETS_DIR}/grafana_metrics.password"


def credentials_file(target: ScrapeTarget) -> str:
    """Where the bearer token of a job is uploaded; the YAML names only this path."""
    return f"{SECRETS_DIR}/{target.job}.token"


def scrapes_docker_host(settings: Settings) -> bool:
    """Whether a job scrapes the Docker host itself (a backend running beside a dev stack)."""
    return any(on_docker_host(target.url) for target in settings.external_targets)


# --- Kubernetes -------------------------------------------------------------------------------
# The external label that tells the replicas of an HA pair apart, in the alerts each sends (and
# in anything federated or remote-read), named as prometheus-operator names it
# (prometheus-operator/prometheus-operator pkg/prometheus/promcfg.go,
# `defaultReplicaExternalLabelName`). Every pod evaluates the same rules, so the label is dropped
# from alerts again (`alert_relabel_configs`): Alertmanager sees one alert from both and
# notifies once.
REPLICA_LABEL: Final = "prometheus_replica"
# The pod's own name, from the downward API (components/kubernetes/prometheus.py). Prometheus
# expands `${VAR}` in external label values with os.Expand at every load, no feature flag
# needed since v3 (prometheus/prometheus v3.14.0 config/config.go `Load`); the Docker config
# has no `$` to expand.
POD_NAME_ENV: Final = "POD_NAME"
# Failed and completed pods keep their labels but serve nothing; prometheus-operator drops them
# from pod discovery alike (pkg/prometheus/promcfg.go, `__meta_kubernetes_pod_phase`).
_FINISHED_PHASES: Final = "Failed|Succeeded"


def _pod_label(name: str) -> str:
    """The discovered meta label of a pod label: Prometheus replaces every character a label
    name cannot hold with `_` (prometheus/prometheus v3.14.0 discovery/kubernetes/kubernetes.go
    `addObjectMetaLabels`, strutil.SanitizeLabelName)."""
    return f"__meta_kubernetes_pod_label_{re.sub(r'[^a-zA-Z0-9_]', '_', name)}"


def _namespace(settings: Settings) -> dict[str, object]:
    """Discovery in the stack's namespace only, which is all its Role lets it list."""
    return {"names": [settings.kubernetes.namespace]}


def _pods_of(settings: Settings, service: Service) -> dict[str, object]:
    """Each pod of `service` in the namespace, on its HTTP port. By pod, not by Service: every
    replica is a target of its own whether it is Ready or not (a Prometheus that cannot start
    shows `up` 0 on its twin), whatever Services front it. `instance` is the pod's name, which
    a StatefulSet keeps across restarts."""
    return {
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": _namespace(settings)}],
        "relabel_configs": [
            {"source_labels": [_pod_label(NAME_LABEL)], "regex": str(service),
             "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_container_port_number"],
             "regex": str(SERVICES[service].http_port), "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": _FINISHED_PHASES,
             "action": "drop"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "instance"},
            {"target_label": "env", "replacement": settings.environment},
        ],
    }


def _alertmanagers(settings: Settings) -> list[dict[str, object]]:
    """On Docker the one Alertmanager by its alias; on Kubernetes every endpoint of the
    `alertmanager` Service on its HTTP port, so each replica receives every alert (the
    replicas then gossip which one notifies), as prometheus-operator discovers them."""
    if settings.platform is not Platform.KUBERNETES:
        return [{"static_configs": [{"targets": [internal_address(Service.ALERTMANAGER)]}]}]
    return [{
        "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": _namespace(settings)}],
        "relabel_configs": [
            {"source_labels": ["__meta_kubernetes_service_name"],
             "regex": str(Service.ALERTMANAGER), "action": "keep"},
            {"source_labels": ["__meta_kubernetes_endpointslice_port"],
             "regex": str(SERVICES[Service.ALERTMANAGER].http_port), "action": "keep"},
        ],
    }]


def _service_job(settings: Settings, service: Service) -> dict[str, object]:
    job: dict[str, object] = {"job_name": service.job}
    if service is Service.GRAFANA:
        job["basic_auth"] = {"username": GRAFANA_METRICS_USER,
                             "password_file": GRAFANA_PASSWORD_FILE}
    if settings.platform is Platform.KUBERNETES:
        return {**job, **_pods_of(settings, service)}
    address = (f"localhost:{SERVICES[service].http_port}" if service is Service.PROMETHEUS
               else internal_address(service))
    job["static_configs"] = [{"targets": [address], "labels": {"env": settings.environment}}]
    return job


def _target_job(target: ScrapeTarget) -> dict[str, object]:
    job: dict[str, object] = {
        "job_name": target.job,
        "scheme": target.scheme,
        "metrics_path": target.metrics_path,
        "scrape_interval": str(target.interval),
        "scrape_timeout": str(target.timeout),
    }
    if target.auth is BackendAuth.BEARER:
        job["authorization"] = {"type": "Bearer", "credentials_file": credentials_file(target)}
    job["static_configs"] = [{"targets": [target.address], "labels": {"env": target.env}}]
    return job


def job_env(job: Mapping[str, Any]) -> str:
    """The `env` a rendered job gives its targets: its static label, or on Kubernetes the
    relabelling that sets it on every discovered pod."""
    if "static_configs" in job:
        return str(job["static_configs"][0]["labels"]["env"])
    (env,) = [rule["replacement"] for rule in job["relabel_configs"]
              if rule.get("target_label") == "env"]
    return str(env)


def prometheus_config(settings: Settings, rule_files: Iterable[str]) -> dict[str, object]:
    """The prometheus.yml document; `rule_files` are container paths of uploaded rule files."""
    on_kubernetes = settings.platform is Platform.KUBERNETES
    alerting: dict[str, object] = {"alertmanagers": _alertmanagers(settings)}
    if on_kubernetes:
        alerting["alert_relabel_configs"] = [{"action": "labeldrop", "regex": REPLICA_LABEL}]
    return {
        "global": {
            "scrape_interval": str(settings.scrape_interval),
            "scrape_timeout": str(min(DEFAULT_SCRAPE_TIMEOUT, settings.scrape_interval)),
            "evaluation_interval": str(settings.evaluation_interval),
            **({"external_labels": {REPLICA_LABEL: f"${{{POD_NAME_ENV}}}"}}
               if on_kubernetes else {}),
        },
        # In the file, not as flags: v3.14.0 deprecates `--storage.tsdb.retention.*` for this
        # (prometheus/prometheus v3.14.0 cmd/prometheus/main.go), and a reload applies it.
        "storage": {"tsdb": {"retention": {"time": str(settings.retention.metrics_time),
                                           "size": str(settings.retention.metrics_size)}}},
        "rule_files": sorted(rule_files),
        "alerting": alerting,
        "scrape_configs": [
            *(_target_job(target) for target in settings.external_targets),
            *(_service_job(settings, service) for service in settings.services),
        ],
    }


RESEND_DELAY_FLAG: Final = "--rules.alert.resend-delay"


def prometheus_command(settings: Settings) -> list[str]:
    """Flags for what the file cannot say: where it and the data are, Tempo's remote write in,
    exemplars, and how soon a firing alert is sent again.

    A firing alert is sent again once its resend delay has passed (prometheus/prometheus
    v3.14.0 rules/alerting.go `needsSending`), and a send before the notifier has discovered
    the Alertmanager goes nowhere (notifier/manager.go `Send` hands it only to the send loops
    of Alertmanagers already discovered). After every start, a config change included, the
    alerts of the first evaluation, the Watchdog among them, would reach Alertmanager only
    after the default 1m. At the evaluation interval, each evaluation resends what fires, so a
    lost send costs one interval; Alertmanager then resolves an alert Prometheus stopped
    sending after 4 intervals, not 4 minutes.
    """
    return [
        f"--config.file={CONFIG_PATH}",
        f"--storage.tsdb.path={DATA_DIR}",
        "--web.enable-remote-write-receiver",
        "--enable-feature=exemplar-storage",
        f"{RESEND_DELAY_FLAG}={settings.evaluation_interval}",
    ]

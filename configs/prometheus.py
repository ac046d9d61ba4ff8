"""Prometheus: the configuration file (scrapes, rules, alerting, retention) and its flags.

One job per endpoint: the GatewayZ backend (`gatewayz_<env>`), extra targets, and each service the
stack runs (`Settings.services`; Prometheus scrapes itself on localhost, the others over the
stack's network). Every target carries `env` as a target label, so even `up` has it.
"""

from collections.abc import Iterable
from typing import Final

from configs.grafana import METRICS_USER as GRAFANA_METRICS_USER
from services import (
    SERVICES,
    Service,
    config_path,
    data_dir,
    internal_address,
    on_docker_host,
    secrets_dir,
)
from settings import BackendAuth, Duration, ScrapeTarget, Settings

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


def _service_job(settings: Settings, service: Service) -> dict[str, object]:
    address = (f"localhost:{SERVICES[service].http_port}" if service is Service.PROMETHEUS
               else internal_address(service))
    job: dict[str, object] = {"job_name": service.job}
    if service is Service.GRAFANA:
        job["basic_auth"] = {"username": GRAFANA_METRICS_USER,
                             "password_file": GRAFANA_PASSWORD_FILE}
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


def prometheus_config(settings: Settings, rule_files: Iterable[str]) -> dict[str, object]:
    """The prometheus.yml document; `rule_files` are container paths of uploaded rule files."""
    return {
        "global": {
            "scrape_interval": str(settings.scrape_interval),
            "scrape_timeout": str(min(DEFAULT_SCRAPE_TIMEOUT, settings.scrape_interval)),
            "evaluation_interval": str(settings.evaluation_interval),
        },
        # In the file, not as flags: v3.14.0 deprecates `--storage.tsdb.retention.*` for this
        # (prometheus/prometheus v3.14.0 cmd/prometheus/main.go), and a reload applies it.
        "storage": {"tsdb": {"retention": {"time": str(settings.retention.metrics_time),
                                           "size": str(settings.retention.metrics_size)}}},
        "rule_files": sorted(rule_files),
        "alerting": {"alertmanagers": [
            {"static_configs": [{"targets": [internal_address(Service.ALERTMANAGER)]}]},
        ]},
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

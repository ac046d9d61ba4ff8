"""Alertmanager's configuration: the Watchdog first, to the heartbeat receiver alone (or to
`none`), then one route per severity to the receiver the stack settings choose (`none` is a
receiver without integrations, so those alerts are dropped on purpose), and a critical alert
muting the warning and info alerts of the same name and scope.

Secrets never enter the YAML: Slack, webhook and heartbeat URLs are read from files under
`SECRETS_DIR` that the Alertmanager component uploads (`SECRET_FILES`, `HEARTBEAT_URL_FILE`).
"""

from collections.abc import Mapping, Sequence
from typing import Final

from configs.rules import watchdog
from services import Service, config_path, data_dir, secrets_dir
from settings import Alerting, Duration, Receiver, Severity

SECRETS_DIR: Final = secrets_dir(Service.ALERTMANAGER)
# Slack's `api_url_file` (alertmanager@v0.34.0 config/notifiers.go, since v0.22) and the
# webhook's `url_file` (notify/webhook/config.go at v0.34.0; in config/notifiers.go since v0.26).
SECRET_FILES: Final[Mapping[Receiver, str]] = {
    Receiver.SLACK: f"{SECRETS_DIR}/slack_api_url",
    Receiver.WEBHOOK: f"{SECRETS_DIR}/webhook_url",
}
# The dead man's switch: not a `Receiver` a severity may choose, so it never gets their alerts.
HEARTBEAT: Final = watchdog.HEARTBEAT
HEARTBEAT_URL_FILE: Final = f"{SECRETS_DIR}/heartbeat_url"
# Ticks at which the Watchdog's group is looked at. A repeat is sent at the first tick after
# `repeat_interval` has passed since the last one was logged (alertmanager@v0.34.0
# notify/dedup_stage.go `needsUpdate`, nflog/nflog.go `Log` stamps the time after sending), so
# pings come every repeat interval plus at most this; with it equal to the repeat interval they
# would come every other tick.
HEARTBEAT_GROUP_INTERVAL: Final = Duration(30)

# One notification per alert name, environment and severity; the rules' own scope labels stay
# inside it, listed by the templates below.
GROUP_BY: Final = ("alertname", "env", "severity")
# The labels an alert's critical and warning versions share (configs/rules/ gives them the same
# alert name); a label absent from both sides counts as equal, so one list serves every rule.
INHIBIT_EQUAL: Final = ("alertname", "env", "job", "instance", "model", "provider")

_SLACK_TITLE: Final = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}]'
    " {{ .CommonLabels.severity | toUpper }} {{ .CommonLabels.alertname }}"
    " ({{ .CommonLabels.env }})")
# Each alert's runbook on a line of its own (Slack links a URL it finds in the text; the default
# base is a path in this repository, shown as it is), so the person paged knows what to do next.
_SLACK_TEXT: Final = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
    "env: {{ .Labels.env }}, severity: {{ .Labels.severity }}\n"
    "{{ if .Annotations.runbook_url }}runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
    "{{ end }}")
_SLACK_COLOR: Final = (
    '{{ if eq .Status "firing" }}{{ if eq .CommonLabels.severity "critical" }}danger'
    "{{ else }}warning{{ end }}{{ else }}good{{ end }}")


def _matcher(name: str, value: str) -> str:
    return f'{name}="{value}"'


def _receiver(receiver: Receiver, alerting: Alerting) -> dict[str, object]:
    if receiver is Receiver.SLACK:
        return {"name": receiver.value, "slack_configs": [{
            "api_url_file": SECRET_FILES[receiver],
            "channel": alerting.slack_channel,
            "send_resolved": True,
            "title": _SLACK_TITLE,
            "text": _SLACK_TEXT,
            "color": _SLACK_COLOR,
        }]}
    if receiver is Receiver.WEBHOOK:
        return {"name": receiver.value, "webhook_configs": [{
            "url_file": SECRET_FILES[receiver],
            "send_resolved": True,
        }]}
    # No integration at all: Alertmanager accepts the alert and notifies nobody.
    return {"name": receiver.value}


def _watchdog_route(interval: Duration | None) -> dict[str, object]:
    """First of the routes, and `continue: false`: the Watchdog reaches no human receiver."""
    route: dict[str, object] = {"matchers": [_matcher("alertname", watchdog.WATCHDOG)],
                                "receiver": HEARTBEAT if interval else Receiver.NONE.value,
                                "continue": False}
    if interval is not None:
        # A group of its own, pinged on its own clock rather than the 4h of real alerts.
        route.update({"group_by": ["alertname"],
                      "group_interval": str(HEARTBEAT_GROUP_INTERVAL),
                      "repeat_interval": str(interval)})
    return route


def _heartbeat_receiver() -> dict[str, object]:
    return {"name": HEARTBEAT, "webhook_configs": [{
        "url_file": HEARTBEAT_URL_FILE,
        # A heartbeat service counts any request as a ping: a "resolved" sent when the
        # Watchdog stops (Prometheus gone) must not look like one.
        "send_resolved": False,
    }]}


def alertmanager_config(alerting: Alerting) -> dict[str, object]:
    """The whole alertmanager.yml, routing by the `severity` label every rule sets."""
    receivers = alerting.receivers
    heartbeat = alerting.heartbeat_interval
    # An alert without a known severity is a rule bug: send it where warnings go, to be seen.
    fallback = receivers[Severity.WARNING]
    used = set(receivers.values()) | (set() if heartbeat else {Receiver.NONE})
    return {
        "route": {
            "receiver": fallback.value,
            "group_by": list(GROUP_BY),
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [_watchdog_route(heartbeat),
                       *({"matchers": [_matcher("severity", severity.value)],
                          "receiver": receivers[severity].value}
                         for severity in Severity)],
        },
        "inhibit_rules": [{
            "source_matchers": [_matcher("severity", Severity.CRITICAL.value)],
            "target_matchers": [
                f'severity=~"{Severity.WARNING.value}|{Severity.INFO.value}"'],
            "equal": list(INHIBIT_EQUAL),
        }],
        "receivers": [*(_receiver(receiver, alerting) for receiver in sorted(used)),
                      *([_heartbeat_receiver()] if heartbeat else [])],
    }


# Where replicas gossip (silences, the notification log): `--cluster.listen-address`'s default
# port, over TCP and UDP (memberlist; alertmanager@v0.34.0 cmd/alertmanager/main.go).
CLUSTER_PORT: Final = 9094
# The variable a replica's own IP arrives in (the Kubernetes layer sets it from the pod's
# status); Kubernetes expands `$(NAME)` in a container's args from its env.
POD_IP_ENV: Final = "POD_IP"


def alertmanager_cluster_command(peers: Sequence[str]) -> list[str]:
    """Flags of one replica of a cluster: gossip on CLUSTER_PORT, advertised on the replica's
    own IP (Alertmanager refuses to guess one on a public address), and every peer listed, itself
    among them, as prometheus-operator lists them: each replica dials the others, so any one
    that starts first still finds the rest."""
    return [f"--config.file={config_path(Service.ALERTMANAGER)}",
            f"--storage.path={data_dir(Service.ALERTMANAGER)}",
            f"--cluster.listen-address=0.0.0.0:{CLUSTER_PORT}",
            f"--cluster.advertise-address=[$({POD_IP_ENV})]:{CLUSTER_PORT}",
            *(f"--cluster.peer={peer}:{CLUSTER_PORT}" for peer in sorted(peers))]


def alertmanager_command() -> list[str]:
    """Flags: where the file and the data are; a single node, so gossip is off, or it waits for
    peers that never come."""
    return [f"--config.file={config_path(Service.ALERTMANAGER)}",
            f"--storage.path={data_dir(Service.ALERTMANAGER)}",
            "--cluster.listen-address="]


__all__ = [
    "CLUSTER_PORT",
    "GROUP_BY",
    "HEARTBEAT",
    "HEARTBEAT_URL_FILE",
    "INHIBIT_EQUAL",
    "POD_IP_ENV",
    "SECRETS_DIR",
    "SECRET_FILES",
    "alertmanager_cluster_command",
    "alertmanager_command",
    "alertmanager_config",
]

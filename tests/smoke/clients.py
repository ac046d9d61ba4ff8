"""What the smoke test talks to: Prometheus and Alertmanager over their HTTP APIs (httpx), the
webhook catcher that stands in for Slack and the pager, and a remote-write probe."""

from __future__ import annotations

import json
import re
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import cramjam
import httpx

TIMEOUT: Final = httpx.Timeout(5.0)


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=TIMEOUT)

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; ValueError with Prometheus' message when the query is refused."""
        form = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        body = self.http.post("/api/v1/query", data=form).json()
        if body.get("status") != "success":
            raise ValueError(body.get("error", body))
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def alerts(self, name: str) -> list[dict[str, Any]]:
        return [alert for alert in self.get("/api/v1/alerts")["alerts"]
                if alert["labels"].get("alertname") == name]


class Alertmanager:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=TIMEOUT)

    def alerts(self, name: str) -> list[dict[str, Any]]:
        response = self.http.get("/api/v2/alerts", params={"filter": f'alertname="{name}"'})
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found


# --- the webhook catcher ---------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str
    alertname: str
    severity: str
    env: str


# The stack's Slack title (configs/alertmanager.py): `[FIRING:1] CRITICAL RedisDown (production)`.
_SLACK_TITLE: Final = re.compile(
    r"^\[(?P<status>FIRING|RESOLVED)(?::\d+)?\] (?P<severity>\S+) (?P<alertname>\S+) "
    r"\((?P<env>[^)]*)\)$")


def parse_notification(receiver: str, payload: Mapping[str, Any]) -> list[Notification]:
    """Alertmanager's webhook JSON or a Slack message; ValueError for anything else."""
    if "alerts" in payload:
        return [Notification(receiver, alert["status"], alert["labels"].get("alertname", ""),
                             alert["labels"].get("severity", ""), alert["labels"].get("env", ""))
                for alert in payload["alerts"]]
    found = []
    for attachment in payload.get("attachments", []):
        match = _SLACK_TITLE.match(attachment.get("title", ""))
        if match is None:
            raise ValueError(f"Slack title not understood: {attachment.get('title')!r}")
        found.append(Notification(receiver, match["status"].lower(), match["alertname"],
                                  match["severity"].lower(), match["env"]))
    if not found:
        raise ValueError(f"neither a webhook nor a Slack payload: {sorted(payload)}")
    return found


class Catcher:
    """Records every notification POSTed to it, by the receiver named in the path. A path under
    `/refuse/` answers 500, as a receiver with a wrong URL would."""

    def __init__(self, host: str, port: int) -> None:
        self.notifications: list[Notification] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Silent: the tests report what arrived."""

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length", 0)), 1 << 20)
                body = self.rfile.read(length)
                if self.path.startswith("/refuse/"):
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    found = parse_notification(self.path.strip("/"), json.loads(body))
                except ValueError as error:
                    with catcher.lock:
                        catcher.errors.append(str(error))
                else:
                    with catcher.lock:
                        catcher.notifications.extend(found)
                # Slack's API answers `ok`; Alertmanager's Slack notifier checks for it.
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.2,), daemon=True)
        self.thread.start()

    def received(self, **labels: str) -> list[Notification]:
        with self.lock:
            return [n for n in self.notifications
                    if all(getattr(n, key) == value for key, value in labels.items())]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- remote write ----------------------------------------------------------------------------


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def remote_write_body(labels: Mapping[str, str], value: float, timestamp_ms: int) -> bytes:
    """One sample as Prometheus' remote-write 1.0 WriteRequest (prompb/remote.proto: a
    TimeSeries of Labels and one Sample), snappy block-compressed, as Tempo's generator sends."""
    series = b"".join(_field(1, _field(1, name.encode()) + _field(2, label.encode()))
                      for name, label in sorted(labels.items()))
    sample = b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(timestamp_ms)
    return bytes(cramjam.snappy.compress_raw(_field(1, series + _field(2, sample))))



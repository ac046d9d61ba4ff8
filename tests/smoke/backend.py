"""A stand-in GatewayZ backend for the smoke test: serves every metric the backend exports today
(the names in configs/metric_names.py) with its labels, fed by synthetic traffic from a
background thread; `POST /control?error_ratio=&latency=&rps=` changes the traffic, a bearer token
guards /metrics when given. It listens on the address given (the smoke network's gateway) and
exits by itself after `--max-seconds`.
"""

from __future__ import annotations

import argparse
import hmac
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

TICK_SECONDS: Final = 0.1
# Per tick, so a mistaken `rps` cannot pin a core: 20 000 requests/s at most.
MAX_REQUESTS_PER_TICK: Final = 2000
# Routes the backend serves, by share of traffic; streaming ones also feed the TTFB histograms.
ROUTES: Final = (("POST", "/v1/chat/completions", 0.6), ("POST", "/v1/messages", 0.15),
                 ("GET", "/v1/models", 0.15), ("GET", "/health", 0.1))
MODELS: Final = (("gpt-4o", "openai"), ("claude-3-5-sonnet", "anthropic"),
                 ("llama-3.1-70b", "openrouter"), ("gemini-1.5-pro", "google"))
SERVER_ERRORS: Final = ("500", "502", "503")
CLIENT_ERRORS: Final = ("400", "401", "404")
# Share of requests the stand-in answers 4xx or 429 whatever the error ratio: real traffic has some.
CLIENT_ERROR_RATIO: Final = 0.02
RATE_LIMITED_RATIO: Final = 0.01
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
SIZE_BUCKETS: Final = (100, 1_000, 10_000, 100_000, 1_000_000)


@dataclass
class Traffic:
    """What the generator does now; changed through /control."""

    rps: float = 50.0
    error_ratio: float = 0.0
    # Median request latency in seconds; inference and streaming scale with it.
    latency: float = 0.15


class Metrics:
    """The backend's metrics, in their own registry so nothing else leaks into /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        self.requests = Counter("fastapi_requests_total", "Requests",
                                ["method", "path", "status_code"], registry=r)
        self.duration = Histogram("fastapi_requests_duration_seconds", "Request duration",
                                  ["method", "path"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_progress = Gauge("fastapi_requests_in_progress", "In progress", registry=r)
        self.request_size = Histogram("fastapi_request_size_bytes", "Request size",
                                      buckets=SIZE_BUCKETS, registry=r)
        self.response_size = Histogram("fastapi_response_size_bytes", "Response size",
                                       buckets=SIZE_BUCKETS, registry=r)
        self.exceptions = Counter("fastapi_exceptions_total", "Unhandled exceptions", registry=r)
        self.inference = Counter("model_inference_requests_total", "Inference requests",
                                 ["model", "provider", "status"], registry=r)
        self.inference_duration = Histogram("model_inference_duration_seconds",
                                            "Inference duration", ["model", "provider"],
                                            buckets=LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("tokens_used_total", "Tokens", ["model", "provider"], registry=r)
        self.credits = Counter("credits_used_total", "Credits", ["model", "provider"], registry=r)
        self.db_queries = Counter("database_queries_total", "DB queries", ["operation"],
                                  registry=r)
        self.db_duration = Histogram("database_query_duration_seconds", "DB query duration",
                                     ["operation"], buckets=LATENCY_BUCKETS, registry=r)
        self.cache_hits = Counter("cache_hits_total", "Cache hits", registry=r)
        self.cache_misses = Counter("cache_misses_total", "Cache misses", registry=r)
        self.cache_size = Gauge("cache_size_bytes", "Cache size", registry=r)
        self.ttfb = Histogram("backend_ttfb_seconds", "Time to first byte from the provider",
                              ["provider", "model"], buckets=LATENCY_BUCKETS, registry=r)
        self.streaming = Histogram("streaming_duration_seconds", "Streaming duration",
                                   buckets=LATENCY_BUCKETS, registry=r)
        self.first_chunk = Histogram("time_to_first_chunk_seconds", "Time to first chunk",
                                     ["model", "provider"], buckets=LATENCY_BUCKETS, registry=r)
        self.rate_limited = Counter("rate_limited_requests_total", "Rate-limited requests",
                                    registry=r)
        self.active_api_keys = Gauge("active_api_keys", "Active API keys", registry=r)
        self.active_connections = Gauge("active_connections", "Open connections", registry=r)
        self.subscriptions = Gauge("subscription_count", "Subscriptions", registry=r)
        self.trials = Gauge("trial_active", "Active trials", registry=r)
        # Error series exist from the start, as they do on a backend that has run for a while:
        # rate() then sees the first failure instead of a series that appears already at 1.
        for method, path, _ in ROUTES:
            for code in ("200", *SERVER_ERRORS, *CLIENT_ERRORS, "429"):
                self.requests.labels(method, path, code)
        for model, provider in MODELS:
            for status in ("success", "error"):
                self.inference.labels(model, provider, status)


class Generator:
    """Synthetic requests each tick; one lock guards the traffic settings."""

    def __init__(self, metrics: Metrics, seed: int = 7) -> None:
        self.metrics = metrics
        self.traffic = Traffic()
        self.lock = threading.Lock()
        self.random = random.Random(seed)
        # Fractions carried between ticks so low rates and small ratios stay exact on average.
        self._carry = 0.0
        self._error_carry = 0.0

    def update(self, **changes: float) -> Traffic:
        with self.lock:
            for name, value in changes.items():
                setattr(self.traffic, name, value)
            return Traffic(**vars(self.traffic))

    def tick(self) -> None:
        with self.lock:
            traffic = Traffic(**vars(self.traffic))
        self._carry += traffic.rps * TICK_SECONDS
        count = min(int(self._carry), MAX_REQUESTS_PER_TICK)
        self._carry -= int(self._carry)
        for _ in range(count):
            self._error_carry += traffic.error_ratio
            failed = self._error_carry >= 1
            self._error_carry -= int(self._error_carry)
            self._request(traffic, failed)
        self._gauges()

    def _latency(self, median: float) -> float:
        return self.random.lognormvariate(0, 0.5) * median

    def _request(self, traffic: Traffic, failed: bool) -> None:
        m, rnd = self.metrics, self.random
        method, path, _ = rnd.choices(ROUTES, weights=[w for *_, w in ROUTES])[0]
        if failed:
            code = rnd.choice(SERVER_ERRORS)
        elif rnd.random() < RATE_LIMITED_RATIO:
            code = "429"
            m.rate_limited.inc()
        elif rnd.random() < CLIENT_ERROR_RATIO:
            code = rnd.choice(CLIENT_ERRORS)
        else:
            code = "200"
        latency = self._latency(traffic.latency)
        m.requests.labels(method, path, code).inc()
        m.duration.labels(method, path).observe(latency)
        m.request_size.observe(rnd.randint(200, 20_000) if method == "POST" else 300)
        m.response_size.observe(rnd.randint(500, 200_000))
        if code == "500":
            m.exceptions.inc()
        operation = rnd.choice(("select", "insert", "update"))
        m.db_queries.labels(operation).inc()
        m.db_duration.labels(operation).observe(self._latency(0.004))
        (m.cache_hits if rnd.random() < 0.8 else m.cache_misses).inc()
        if path.startswith("/v1/") and path != "/v1/models" and code in ("200", *SERVER_ERRORS):
            self._inference(traffic, failed, latency)

    def _inference(self, traffic: Traffic, failed: bool, latency: float) -> None:
        m, rnd = self.metrics, self.random
        model, provider = rnd.choice(MODELS)
        m.inference.labels(model, provider, "error" if failed else "success").inc()
        m.inference_duration.labels(model, provider).observe(latency * 4)
        if failed:
            return
        tokens = rnd.randint(50, 4000)
        m.tokens.labels(model, provider).inc(tokens)
        m.credits.labels(model, provider).inc(tokens / 1000)
        first_byte = self._latency(traffic.latency / 2)
        m.ttfb.labels(provider, model).observe(first_byte)
        m.first_chunk.labels(model, provider).observe(first_byte * 1.1)
        m.streaming.observe(latency * 3)

    def _gauges(self) -> None:
        m, rnd = self.metrics, self.random
        m.in_progress.set(rnd.randint(0, 12))
        m.active_connections.set(rnd.randint(20, 80))
        m.active_api_keys.set(125)
        m.subscriptions.set(42)
        m.trials.set(7)
        m.cache_size.set(1_500_000 + rnd.randint(0, 100_000))


def _handler(metrics: Metrics, generator: Generator, token: str | None
             ) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Silent: Prometheus scrapes every second."""

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/health":
                self._reply(200, b"ok\n")
            elif path != "/metrics":
                self._reply(404, b"not found\n")
            elif token is not None and not hmac.compare_digest(
                    self.headers.get("Authorization", ""), f"Bearer {token}"):
                self._reply(401, b"bearer token required\n")
            else:
                self._reply(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/control":
                self._reply(404, b"not found\n")
                return
            changes: dict[str, float] = {}
            for name, values in parse_qs(url.query).items():
                if name not in ("rps", "error_ratio", "latency"):
                    self._reply(400, f"unknown setting {name}\n".encode())
                    return
                changes[name] = float(values[-1])
            self._reply(200, f"{generator.update(**changes)}\n".encode())

    return Handler


def serve(host: str, port: int, token_file: Path | None, max_seconds: float) -> None:
    """Serve until `max_seconds` have passed; the traffic thread stops with the server."""
    metrics = Metrics()
    generator = Generator(metrics)
    token = token_file.read_text().strip() if token_file is not None else None
    server = ThreadingHTTPServer((host, port), _handler(metrics, generator, token))
    stop = threading.Event()

    def run_traffic() -> None:
        deadline = time.monotonic() + max_seconds
        while not stop.wait(TICK_SECONDS) and time.monotonic() < deadline:
            generator.tick()
        server.shutdown()

    threading.Thread(target=run_traffic, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    # The smoke test's network gateway, so the Prometheus container reaches it; never public.
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-file", type=Path, help="require this bearer token on /metrics")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args()
    serve(args.host, args.port, args.token_file, args.max_seconds)


if __name__ == "__main__":
    main()

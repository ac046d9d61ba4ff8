"""`make verify --synthetic`: push a span and a log line, then find them in Tempo, Loki and
Prometheus."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterator

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind, format_trace_id

from ops.verify.context import (
    POLL_SECONDS,
    SPAN_METRIC,
    SYNTHETIC_SERVICE,
    TIMEOUT_SECONDS,
    Context,
    Endpoint,
    Result,
    check,
    excerpt,
    promql_query,
)

# --- --synthetic ---------------------------------------------------------------------------


@contextlib.contextmanager
def _captured(logger_name: str) -> Iterator[list[str]]:
    """The OTLP exporter reports why an export failed only in its log: keep those messages for
    the result instead of letting them reach stderr."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger(logger_name)
    handler, propagate = Keep(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def push_span(otlp_http_url: str, environment: str, timeout: float) -> tuple[str | None, str]:
    """One SERVER span of service SYNTHETIC_SERVICE over OTLP/HTTP; (its trace id in hex, or
    None, and what happened)."""
    provider = TracerProvider(resource=Resource.create(
        {"service.name": SYNTHETIC_SERVICE, "deployment.environment.name": environment}))
    span = provider.get_tracer(SYNTHETIC_SERVICE).start_span("verify", kind=SpanKind.SERVER)
    span.end()
    endpoint = f"{otlp_http_url.rstrip('/')}/v1/traces"
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=timeout)
    with _captured("opentelemetry") as messages:
        outcome = exporter.export([span])  # type: ignore[list-item]  # an ended SDK span
    exporter.shutdown()  # type: ignore[no-untyped-call]  # untyped in the SDK at 1.45.2
    provider.shutdown()
    trace_id = format_trace_id(span.get_span_context().trace_id)
    if outcome is not SpanExportResult.SUCCESS:
        return None, f"{endpoint}: {excerpt('; '.join(messages), 300) or outcome.name}"
    return trace_id, f"{endpoint}: trace {trace_id}"


def _until(deadline: float, probe: Callable[[], str | None]) -> str | None:
    """`probe()` every POLL_SECONDS until it returns something or the deadline passes."""
    while True:
        found = probe()
        if found is not None or time.monotonic() + POLL_SECONDS > deadline:
            return found
        time.sleep(POLL_SECONDS)


def check_synthetic(ctx: Context) -> list[Result]:
    """Push one span to Tempo and one log line with its trace id to Loki, then find the trace in
    Tempo, the line in Loki and the span's series in Prometheus."""
    loki, tempo = Endpoint(ctx, ctx.urls.loki), Endpoint(ctx, ctx.urls.tempo)
    prometheus = Endpoint(ctx, ctx.urls.prometheus)
    env = ctx.expected.environment
    timeout = ctx.client.timeout.connect or TIMEOUT_SECONDS
    trace_id, pushed = push_span(ctx.urls.tempo_otlp_http, env, timeout)
    results = [Result("synthetic span pushed", trace_id is not None, pushed)]
    # Without a trace id (the span did not go out), the line still carries a fresh one.
    line_id = trace_id or secrets.token_hex(16)
    # The line as the backend writes it, `trace_id=<hex>` (configs/datasources.py).
    line = f"synthetic check from make verify trace_id={line_id}"

    def push_line() -> tuple[bool, str]:
        response = loki.request("POST", "/loki/api/v1/push", json={"streams": [{
            "stream": {"service_name": SYNTHETIC_SERVICE, "env": env},
            "values": [[str(time.time_ns()), line]]}]})
        # Loki answers 204; the API doc names no code, so any 2xx counts as accepted.
        return response.is_success, f"{response.request.url}: HTTP {response.status_code} " \
                                    f"{excerpt(response.text)}".rstrip()
    results.append(pushed_line := check("synthetic log line pushed", push_line))
    deadline = time.monotonic() + ctx.synthetic_wait_seconds

    def trace() -> tuple[bool, str]:
        if trace_id is None:
            return False, "no span was pushed"

        def found() -> str | None:
            response = tempo.get(f"/api/v2/traces/{trace_id}")
            if response.status_code != 200:
                return None
            spans = [span for batch in response.json()["trace"].get("resourceSpans", [])
                     for scope in batch.get("scopeSpans", []) for span in scope.get("spans", [])]
            return f"{len(spans)} span(s) from /api/v2/traces/{trace_id}" if spans else None
        seen = _until(deadline, found)
        return seen is not None, seen or f"{tempo.base}/api/v2/traces/{trace_id}: not found " \
                                         f"within {ctx.synthetic_wait_seconds:g}s"
    results.append(check("synthetic trace in tempo", trace))

    def logged() -> tuple[bool, str]:
        if not pushed_line.ok:
            return False, "no line was pushed"
        query = f'{{service_name="{SYNTHETIC_SERVICE}"}} |= "trace_id={line_id}"'

        def found() -> str | None:
            body = loki.json("/loki/api/v1/query_range", params={
                "query": query, "since": "15m", "limit": "10", "direction": "backward"})
            lines = [value[1] for stream in body["data"]["result"] for value in stream["values"]]
            return f"{len(lines)} line(s) for {query}" if lines else None
        seen = _until(deadline, found)
        return seen is not None, seen or f"{loki.base}/loki/api/v1/query_range {query}: " \
                                         f"nothing within {ctx.synthetic_wait_seconds:g}s"
    results.append(check("synthetic log line in loki", logged))

    def series() -> tuple[bool, str]:
        if trace_id is None:
            return False, "no span was pushed"
        # Span metrics name the service `service` (Tempo's intrinsic dimension).
        expr = f'{SPAN_METRIC}{{service="{SYNTHETIC_SERVICE}", env="{env}"}}'
        seen = _until(deadline, lambda: f"{len(hits)} series of {expr}"
                      if (hits := promql_query(prometheus, expr)) else None)
        return seen is not None, seen or f"{prometheus.base}: no {expr} within " \
                                         f"{ctx.synthetic_wait_seconds:g}s"
    results.append(check("synthetic span series in prometheus", series))
    return results

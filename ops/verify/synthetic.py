"""`make verify --synthetic`: push a span and a log line, then find them in Tempo, Loki and
Prometheus."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, format_trace_id

from ops.verify.context import (
    POLL_SECONDS,
    SPAN_METRIC,
    SYNTHETIC_SERVICE,
    CheckError,
    Context,
    Endpoint,
    Result,
    check,
    excerpt,
    promql_query,
)

# --- --synthetic ---------------------------------------------------------------------------


def encoded_span(environment: str) -> tuple[str, bytes]:
    """One ended SERVER span of service SYNTHETIC_SERVICE: its trace id in hex, and an OTLP
    ExportTraceServiceRequest holding it, in protobuf, as OTLP/HTTP carries it."""
    provider = TracerProvider(resource=Resource.create(
        {"service.name": SYNTHETIC_SERVICE, "deployment.environment.name": environment}))
    span = provider.get_tracer(SYNTHETIC_SERVICE).start_span("verify", kind=SpanKind.SERVER)
    span.end()
    provider.shutdown()
    body = encode_spans([span]).SerializePartialToString()  # type: ignore[list-item]
    return format_trace_id(span.get_span_context().trace_id), body


def push_span(otlp: Endpoint, environment: str) -> tuple[str | None, str]:
    """POST one span to `<otlp>/v1/traces` (OTLP/HTTP, protobuf): its trace id in hex, or None,
    and what happened. Sent through the Endpoint, so an OTLP receiver that does not answer is
    reported like any other address."""
    trace_id, body = encoded_span(environment)
    response = otlp.request("POST", "/v1/traces", content=body,
                            headers={"Content-Type": "application/x-protobuf"})
    if not response.is_success:
        return None, f"{response.request.url}: HTTP {response.status_code} " \
                     f"{excerpt(response.text)}".rstrip()
    return trace_id, f"{response.request.url}: trace {trace_id}"


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
    trace_id: str | None = None

    def push() -> tuple[bool, str]:
        nonlocal trace_id
        trace_id, pushed = push_span(Endpoint(ctx, ctx.urls.tempo_otlp_http), env)
        return trace_id is not None, pushed
    results = [pushed_span := check("synthetic span pushed", push)]
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

    def no_span() -> tuple[bool, str]:
        """A check that needs the span, when none went out: unreachable if its push was."""
        raise CheckError("no span was pushed", unreachable=pushed_span.unreachable)

    def trace() -> tuple[bool, str]:
        if trace_id is None:
            return no_span()

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
            raise CheckError("no line was pushed", unreachable=pushed_line.unreachable)
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
            return no_span()
        # Span metrics name the service `service` (Tempo's intrinsic dimension).
        expr = f'{SPAN_METRIC}{{service="{SYNTHETIC_SERVICE}", env="{env}"}}'
        seen = _until(deadline, lambda: f"{len(hits)} series of {expr}"
                      if (hits := promql_query(prometheus, expr)) else None)
        return seen is not None, seen or f"{prometheus.base}: no {expr} within " \
                                         f"{ctx.synthetic_wait_seconds:g}s"
    results.append(check("synthetic span series in prometheus", series))
    return results

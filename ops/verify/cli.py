"""`make verify`: the seed's post-deployment checklist against a deployed stack, over HTTP.

A library first: each `check_*` takes a `Context` (where each service answers, what the stack's
settings say it should show) and returns `Result(name, ok, value)` tuples; `run_checks` runs them
all. The CLI prints `PASS|FAIL <check> <value seen>` per result (or `--json`) and exits 1 on any
failure. Every request has a short timeout, and a service that does not answer fails its other
checks at once, naming the address tried, so a stack that is down is reported in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ops.verify.checks import (
    check_alertmanager,
    check_grafana,
    check_loki,
    check_prometheus,
    check_redis_exporter,
    check_tempo,
)
from ops.verify.context import (
    OUTPUTS,
    TIMEOUT_SECONDS,
    Context,
    Result,
    Urls,
    excerpt,
    expected_for,
    open_context,
    published_urls,
)
from ops.verify.synthetic import check_synthetic
from settings.stack_file import file_settings, stack_argument


def run_checks(ctx: Context, *, synthetic: bool = False) -> list[Result]:
    """Every check, service by service; `synthetic` also pushes and finds a span and a line."""
    results = [*check_prometheus(ctx), *check_alertmanager(ctx), *check_redis_exporter(ctx),
               *check_loki(ctx), *check_tempo(ctx), *check_grafana(ctx)]
    if synthetic:
        results += check_synthetic(ctx)
    return results


# --- the CLI -------------------------------------------------------------------------------


def stack_outputs(stack: str) -> Mapping[str, Any] | str:
    """`pulumi stack output --json --show-secrets`, or why not. The secrets stay in memory."""
    if shutil.which("pulumi") is None:
        return "the pulumi CLI is not on PATH"
    try:
        done = subprocess.run(["pulumi", "stack", "output", "--json", "--show-secrets",
                               "--stack", stack], capture_output=True, text=True, timeout=60,
                              check=False)
    except subprocess.TimeoutExpired:
        return "pulumi stack output took over 60 s"
    if done.returncode != 0:
        return f"pulumi stack output failed: {excerpt(done.stderr)}"
    try:
        outputs: Mapping[str, Any] = json.loads(done.stdout)
    except ValueError:
        return f"pulumi stack output is not JSON: {excerpt(done.stdout)}"
    return outputs


def resolve_urls(base: Urls, outputs: Mapping[str, Any],
                 flags: Mapping[str, str | None]) -> Urls:
    """The stack's published bindings, overridden by its outputs, overridden by flags."""
    from_outputs = {name: str(outputs[key]) for name, key in OUTPUTS.items() if outputs.get(key)}
    given = {name: value for name, value in flags.items() if value}
    return replace(base, **{**from_outputs, **given})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, type=stack_argument)
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--synthetic", action="store_true",
                        help="push a span and a log line, then find them")
    for name in (*OUTPUTS, "tempo_otlp_http", "redis_exporter"):
        parser.add_argument(f"--{name.replace('_', '-')}-url", dest=name, metavar="URL")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS,
                        help="seconds per request (default %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = file_settings(args.stack)
    outputs = stack_outputs(args.stack)
    notes = []
    if isinstance(outputs, str):
        notes.append(f"URLs from the stack's bindings and flags: {outputs}")
        outputs = {}
    urls = resolve_urls(published_urls(settings), outputs,
                        {name: getattr(args, name)
                         for name in (*OUTPUTS, "tempo_otlp_http", "redis_exporter")})
    user = str(outputs.get("grafanaAdminUser") or settings.grafana.admin_user)
    # Never a flag: a password on the command line lands in shell history and `ps`.
    password = str(outputs.get("grafanaAdminPassword") or os.environ.get(
        "GRAFANA_ADMIN_PASSWORD", ""))
    if not password:
        notes.append("no Grafana password (pulumi stack output or GRAFANA_ADMIN_PASSWORD): "
                     "Grafana's API checks will be refused")
    expected = expected_for(settings)
    with open_context(urls, expected, grafana_auth=(user, password) if password else None,
                      timeout=args.timeout) as ctx:
        results = run_checks(ctx, synthetic=args.synthetic)
    failed = sum(not result.ok for result in results)
    if args.json:
        print(json.dumps({"stack": args.stack, "ok": not failed, "notes": notes,
                          "results": [result._asdict() for result in results]}, indent=2))
    else:
        for note in notes:
            print(f"# {note}")
        for result in results:
            print(f"{'PASS' if result.ok else 'FAIL'} {result.name} {result.value}")
        print(f"{args.stack}: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


"""`make verify`: check over HTTP that a deployed stack's services run as its settings say.

What it checks: scrape targets up, alerts routed to the receivers the stack names, the Redis
exporter connected, Loki's and Tempo's retention applied, Tempo's span metrics arriving, every
dashboard loading (README, After `pulumi up`).

A library first: each `check_*` takes a `Context` (where each service answers, what the stack's
settings say it should show) and returns `Result(name, ok, value, unreachable)` tuples;
`run_checks` runs them all. The CLI prints `PASS|FAIL <check> <value seen>` per check that could
look, one `UNREACHABLE <address>` line per address that did not answer (instead of a FAIL per
check behind it) with one hint, or with `--json` the same as one JSON document, the only thing on
stdout; it exits 1 unless every check passed. Every request has a short timeout, and an address
that does not answer is not asked again, so a stack that is down is reported in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final
from urllib.parse import urlsplit

from ops.verify.checks import check_services
from ops.verify.context import (
    ENDPOINTS,
    OUTPUTS,
    TIMEOUT_SECONDS,
    URL_NAMES,
    Context,
    Result,
    Urls,
    excerpt,
    expected_for,
    open_context,
    published_urls,
)
from ops.verify.synthetic import check_synthetic
from services import Service
from settings.stack_file import file_settings, read_config, stack_argument

# How each Urls field is named in the lines a person reads: its Publication's name; the
# unpublished redis_exporter by its job.
SERVICE_NAMES: Final[Mapping[str, str]] = {
    **{name: endpoint.owner.published[endpoint].name for name, endpoint in ENDPOINTS.items()},
    "redis_exporter": Service.REDIS_EXPORTER.job}


def run_checks(ctx: Context, *, synthetic: bool = False) -> list[Result]:
    """Every check, service by service; `synthetic` also pushes and finds a span and a line."""
    results = check_services(ctx)
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
        return f"pulumi stack output failed: {' '.join(done.stderr.split())}"
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
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()),
                                     epilog=" ".join(__doc__.split("\n\n")[1].split()))
    parser.add_argument("--stack", required=True, type=stack_argument)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document, and nothing else, on stdout")
    parser.add_argument("--synthetic", action="store_true",
                        help="push a span and a log line, then find them")
    for name in URL_NAMES:
        parser.add_argument(f"--{name.replace('_', '-')}-url", dest=name, metavar="URL")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS,
                        help="seconds per request (default %(default)s)")
    return parser


def unreachable_addresses(ctx: Context, results: Sequence[Result]) -> list[dict[str, Any]]:
    """Each address that did not answer, in the order of the Urls fields (services.py's SERVICES
    order, whichever check met it first): its URL, the services it stands for, why, and how
    many checks could not look because of it."""
    services: dict[str, list[str]] = {}
    for name in URL_NAMES:
        value = getattr(ctx.urls, name)
        if value:
            services.setdefault(str(value).rstrip("/"), []).append(SERVICE_NAMES[name])
    order = list(services)
    blocked = Counter(result.unreachable for result in results if result.unreachable)
    # An address no field names (none today) after the others, in the order the checks met it.
    met = sorted(ctx.unreachable.items(),
                 key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return [{"url": url, "services": services.get(url, []), "error": error,
             "checks": blocked[url]} for url, error in met]


def _count(number: int, one: str, many: str = "") -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def hint(stack: str, docker_host: str, anything_answered: bool) -> str:
    """What to try when addresses did not answer: deploy, or forward a remote host's ports."""
    up = f"`make up STACK={stack}`"
    tunnel = f"`make tunnel STACK={stack} TUNNEL_ARGS=--all`"
    remote = urlsplit(docker_host).scheme == "ssh"
    if anything_answered:
        return (f"other services answered, so the stack is there: is the container of each "
                f"one above running (`docker ps -a` on the Docker host; {up} recreates it)? A "
                f"port published as `none` needs its --<service>-url flag; over ssh, plain "
                f"`make tunnel` forwards Grafana only, {tunnel} every port make verify calls.")
    if remote:
        return (f"nothing answered. This stack's docker:host is {docker_host}, whose "
                f"published ports bind to that host's loopback: run {tunnel} to forward them "
                f"here, then make verify again. Not deployed yet? {up}.")
    return (f"nothing answered. Not deployed yet? {up}. Docker on another machine? Set "
            f"docker:host to ssh://user@host (README, Where it runs) and run {tunnel} to forward "
            f"its ports here.")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = file_settings(args.stack)
    outputs = stack_outputs(args.stack)
    notes = []
    if isinstance(outputs, str):
        notes.append(f"URLs from the stack's bindings and flags: {outputs}")
        outputs = {}
    urls = resolve_urls(published_urls(settings), outputs,
                        {name: getattr(args, name) for name in URL_NAMES})
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
    unreachable = unreachable_addresses(ctx, results)
    advice = hint(args.stack, str(read_config(args.stack).get("docker:host", "")),
                  bool(ctx.answered)) if unreachable else None
    ran = [result for result in results if result.unreachable is None]
    failed = sum(not result.ok for result in ran)
    blocked = len(results) - len(ran)
    if args.json:
        print(json.dumps({"stack": args.stack, "ok": not failed and not blocked,
                          "notes": notes, "unreachable": unreachable, "hint": advice,
                          "results": [result._asdict() for result in results]}, indent=2))
        return 1 if failed or blocked else 0
    for note in notes:
        print(f"# {note}")
    for result in ran:
        print(f"{'PASS' if result.ok else 'FAIL'} {result.name} {result.value}")
    for address in unreachable:
        print(f"UNREACHABLE {address['url']} ({', '.join(address['services'])}): "
              f"{address['error']}; {_count(address['checks'], 'check')} could not run")
    if advice:
        print(f"hint: {advice}")
    print(f"{args.stack}: {len(ran) - failed} passed, {failed} failed"
          + (f", {blocked} not run: {_count(len(unreachable), 'address', 'addresses')} did "
             "not answer" if blocked else ""))
    return 1 if failed or blocked else 0

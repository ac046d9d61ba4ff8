"""The engine tier on one stack, in order: preview, the policy pack run for real (the stack
passes it; production: `protectData: false` is refused by the program itself, naming the key,
before the pack sees a resource), up (every container
healthy through the provider's own wait), no diff right after, a one-setting change that replaces
only Prometheus and keeps its series, no secret in plain text in the state, and destroy (refused
by the protected volumes in production, leaving nothing in staging). docs/engine.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from services import SERVICES, Service, container_name, docker_prefix
from tests.engine.conftest import Cli
from tests.support.waiting import wait_until
from toolchain import dockerd
from toolchain.engine_run import SECRET_VALUES, leftovers, secrets_in_plain_text

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("timed")]

# What step 4 changes, to a value no stack file holds.
CHANGED_RETENTION: Final = "21d"
OUTPUTS: Final = ("environment", "prometheusUrl", "lokiUrl", "tempoUrl", "tempoOtlpGrpcEndpoint",
                  "alertmanagerUrl", "grafanaUrl", "grafanaAdminUser", "grafanaAdminPassword")
PROMETHEUS_CONTAINER: Final = "gatewayz:observability:Prometheus$docker:index/container:Container"
# Seconds for the first self-scrape sample (15s interval by default) and its query.
SAMPLE_SECONDS: Final = 120
# The pack's name (policy/__main__.py), which the CLI prints among the packs it ran.
POLICY_PACK: Final = "gatewayz-observability"
# The program's refusal (settings/parse.py).
PROTECT_REFUSAL: Final = "gatewayz-observability:protectData = 'false': expected true in production"


def _services(stack: str) -> list[Service]:
    return [service for service in SERVICES
            if service is not Service.REDIS_EXPORTER or stack == "production"]


def test_preview(cli: Cli) -> None:
    cli.run("preview")


def test_policy_pack_runs_and_the_program_refuses_unprotected_production_data(
        cli: Cli, policy_pack: Path) -> None:
    # The stack as it is passes the pack, which ran (the CLI lists the packs it ran).
    passed = cli.run("preview", "--policy-pack", str(policy_pack), check=False)
    assert passed.returncode == 0, f"the policy pack refuses the stack:\n{passed.stdout[-6000:]}"
    assert "[mandatory]" not in passed.stdout, passed.stdout[-6000:]
    assert POLICY_PACK in passed.stdout, passed.stdout[-6000:]
    if cli.source != "production":
        return
    # The program refuses protectData=false in production before registering anything, so the
    # pack's own refusal of it (tests/test_policy.py) never has to act.
    cli.config_set("protectData", "false")
    try:
        refused = cli.run("preview", "--policy-pack", str(policy_pack), check=False)
    finally:
        cli.config_set("protectData", "true")
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0, text[-6000:]
    assert PROTECT_REFUSAL in text, text[-6000:]
    assert "[mandatory]" not in text, text[-6000:]


def test_up_turns_every_container_healthy(cli: Cli, docker_engine: dockerd.Engine) -> None:
    cli.run("up", "--yes", "--skip-preview")
    # The provider waited for each (wait=true); the engine says so too.
    health = {}
    for service in _services(cli.source):
        name = container_name(cli.stack, service)
        container = docker_engine.client.containers.get(name)
        health[name] = container.attrs["State"].get("Health", {}).get("Status")
    assert all(status == "healthy" for status in health.values()), health


def test_outputs_hide_the_password_without_show_secrets(cli: Cli) -> None:
    shown = cli.outputs(show_secrets=True)
    hidden = cli.outputs()
    assert sorted(shown) == sorted(OUTPUTS), shown.keys()
    assert shown["grafanaAdminPassword"] == SECRET_VALUES["grafanaAdminPassword"]
    assert hidden["grafanaAdminPassword"] == "[secret]", hidden
    assert SECRET_VALUES["grafanaAdminPassword"] not in json.dumps(hidden)


def test_no_changes_right_after_up(cli: Cli) -> None:
    result = cli.run("preview", "--expect-no-changes", "--diff", check=False)
    assert result.returncode == 0, (
        f"a perpetual diff right after `pulumi up`:\n{result.stdout[-6000:]}\n"
        f"{result.stderr[-2000:]}")


def _query(url: str, query: str, at: float) -> list[Any]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": query, "time": f"{at:.3f}"},
                       timeout=5).raise_for_status().json()
    return list(answer["data"]["result"])


def _sample_times(url: str, at: float) -> list[float]:
    """Timestamps of Prometheus' own `up` samples in the hour before `at`."""
    job = Service.PROMETHEUS.job
    series = _query(url, f'up{{job="{job}"}}[1h]', at)
    return [float(timestamp) for one in series for timestamp, _ in one["values"]]


def test_retention_change_replaces_only_prometheus_and_keeps_its_series(cli: Cli) -> None:
    url = cli.outputs()["prometheusUrl"]
    before = wait_until("a sample of Prometheus' own scrape", SAMPLE_SECONDS,
                        lambda: _sample_times(url, time.time()))
    written = max(before)

    cli.config_set("metricsRetentionTime", CHANGED_RETENTION)
    preview = json.loads(cli.run("preview", "--json").stdout)
    changed = {(step["op"], step["urn"].split("::")[-2]) for step in preview.get("steps", [])
               if step["op"] != "same"}
    assert changed, preview.get("changeSummary")
    assert {kind for _, kind in changed} == {PROMETHEUS_CONTAINER}, changed
    assert {op for op, _ in changed} <= {"replace", "create-replacement", "delete-replaced"}, (
        changed)

    cli.run("up", "--yes", "--skip-preview")
    after = wait_until("Prometheus' samples from before the change, after its replacement",
                       SAMPLE_SECONDS, lambda: _sample_times(url, written))
    assert written in after, (written, after)


def test_state_holds_no_secret_in_plain_text(cli: Cli) -> None:
    assert secrets_in_plain_text(cli) == []


def test_destroy(cli: Cli, docker_engine: dockerd.Engine) -> None:
    if cli.source == "production":
        refused = cli.run("destroy", "--yes", "--skip-preview", check=False)
        text = refused.stdout + refused.stderr
        assert refused.returncode != 0, text[-4000:]
        volumes = [f"{service}-data" for service in _services(cli.source)
                   if SERVICES[service].data_dir is not None]
        unnamed = [volume for volume in volumes if volume not in text]
        assert not unnamed, f"destroy's refusal does not name {unnamed}:\n{text[-4000:]}"
        assert "protect" in text, text[-4000:]
        cli.run("state", "unprotect", "--all", "--yes")
        cli.run("destroy", "--yes", "--skip-preview")
        left = leftovers(docker_engine.client, cli.stack)
        assert sorted(left) == sorted(f"volume {docker_prefix(cli.stack)}-{volume}"
                                      for volume in volumes), left
    else:
        cli.run("destroy", "--yes", "--skip-preview")
        left = leftovers(docker_engine.client, cli.stack)
        assert not left, left

"""Run every real validator we have on a rendered stack, and list every failure with its file.

`python -m review.validate --stack staging` renders to build/<stack> (review.render), then checks:
promtool on the Prometheus config and each rules file, amtool on the Alertmanager config, the
Prometheus and Alertmanager binaries on their flags, promtool on every dashboard query (all of the
pinned releases, built by `make tools`), the key references of the pinned Loki and Tempo
releases, and Grafana's GF_* variables against its settings reference. Exits non-zero on failure.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from configs.dashboards.queries import plain, promql_queries, variable_values
from review.keyref import (
    load_ini_reference,
    load_key_reference,
    unknown_grafana_env,
    unknown_keys,
)
from services import Service, config_path
from settings.stack_file import ROOT, stack_argument
from toolchain.cache import BuildError
from toolchain.releases import built

REFERENCES: Final = ROOT / "references"


def _rendered(service: Service) -> str:
    """Where `make render` puts a service's config file (review/render.py: files/<service>/...)."""
    return f"files/{service}{config_path(service)}"


# Config directories inside the container, and where the render puts them.
PROMETHEUS_ETC: Final = posixpath.dirname(config_path(Service.PROMETHEUS)) + "/"
ALERTMANAGER_ETC: Final = posixpath.dirname(config_path(Service.ALERTMANAGER)) + "/"
PROMETHEUS_DIR: Final = posixpath.dirname(_rendered(Service.PROMETHEUS))
ALERTMANAGER_DIR: Final = posixpath.dirname(_rendered(Service.ALERTMANAGER))
# Loki and Tempo cannot be built here (AGPL): their releases' own key references stand in.
KEY_REFERENCES: Final = {
    _rendered(Service.LOKI): "loki-v3.7.6-keys.txt",
    _rendered(Service.TEMPO): "tempo-v3.0.3-keys.txt",
}
# Grafana takes its settings as GF_* variables (configs/grafana.py); it cannot run here either.
GRAFANA_REFERENCE: Final = "grafana-keys.txt"


@dataclass(frozen=True)
class Failure:
    file: str
    message: str

    def __str__(self) -> str:
        return f"FAIL {self.file}: {self.message}"


class MissingToolError(RuntimeError):
    pass


def _tool(name: str) -> str:
    """A validator of the pinned releases, as `make tools` built it."""
    try:
        return str(built(name))
    except BuildError as missing:
        raise MissingToolError(str(missing)) from missing


def _run(command: list[str]) -> tuple[int, str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    return result.returncode, (result.stdout + result.stderr).strip()


def _relocated(tree: Path, subdir: str, container_dir: str, scratch: Path) -> Path:
    """Copy a service's files under `scratch` with absolute paths pointing there, since the
    validators open the credential, rule and template files the config names."""
    copy = scratch / subdir
    shutil.copytree(tree / subdir, copy)
    for path in copy.rglob("*.yml"):
        path.write_text(path.read_text().replace(container_dir, str(copy) + "/"))
    return copy


def check_prometheus(tree: Path, scratch: Path) -> list[Failure]:
    promtool = _tool("promtool")
    failures = []
    copy = _relocated(tree, PROMETHEUS_DIR, PROMETHEUS_ETC, scratch)
    code, output = _run([promtool, "check", "config", str(copy / "prometheus.yml")])
    if code != 0:
        failures.append(Failure(f"{PROMETHEUS_DIR}/prometheus.yml", output))
    for rules in sorted((tree / PROMETHEUS_DIR / "rules").glob("*.yml")):
        code, output = _run([promtool, "check", "rules", str(rules)])
        if code != 0:
            failures.append(Failure(str(rules.relative_to(tree)), output))
    return failures


def check_alertmanager(tree: Path, scratch: Path) -> list[Failure]:
    amtool = _tool("amtool")
    copy = _relocated(tree, ALERTMANAGER_DIR, ALERTMANAGER_ETC, scratch)
    config_path = copy / "alertmanager.yml"
    code, output = _run([amtool, "check-config", str(config_path)])
    return [] if code == 0 else [Failure(f"{ALERTMANAGER_DIR}/alertmanager.yml", output)]


def check_flags(tree: Path, scratch: Path) -> list[Failure]:
    """Each binary parses the rendered flags (with `--version`, so nothing starts): an unknown
    flag fails as it would on the host; a flag its own `--help` marks [DEPRECATED] fails too."""
    failures = []
    for service in (Service.PROMETHEUS, Service.ALERTMANAGER):
        binary = service.value  # each binary is named as its service
        path = _tool(binary)
        command = json.loads((tree / "containers" / f"{service}.json").read_text())["command"]
        file = f"containers/{service}.json"
        code, output = _run([path, *command, "--version"])
        if code != 0:
            failures.append(Failure(file, output))
        _, help_text = _run([path, "--help"])
        deprecated = set(re.findall(r"--([\w.-]+)[^\n]*\n\s+\[DEPRECATED\]", help_text))
        failures += [Failure(file, f"{arg}: deprecated in {binary}'s own --help")
                     for arg in command if arg.removeprefix("--").split("=")[0] in deprecated]
    return failures


def check_dashboards(tree: Path, scratch: Path) -> list[Failure]:
    """promtool has no "parse this expression": each query becomes a recording rule instead."""
    promtool = _tool("promtool")
    outputs = json.loads((tree / "outputs.json").read_text())
    scrape = yaml.safe_load((tree / PROMETHEUS_DIR / "prometheus.yml").read_text())
    backend_job = scrape["scrape_configs"][0]["job_name"]
    failures = []
    for path in sorted((tree / "grafana" / "dashboards").glob("*.json")):
        model = json.loads(path.read_text())
        values = variable_values(model, outputs["environment"], backend_job)
        queries = promql_queries(model)
        rules = [{"record": f"dashboard:query_{index}", "expr": plain(query.expr, values)}
                 for index, query in enumerate(queries)]
        rules_file = scratch / f"{path.stem}.rules.yml"
        rules_file.write_text(yaml.safe_dump({"groups": [{"name": path.stem, "rules": rules}]}))
        code, output = _run([promtool, "check", "rules", str(rules_file)])
        if code != 0:
            failures.append(Failure(str(path.relative_to(tree)), output))
    return failures


def check_key_references(tree: Path, scratch: Path) -> list[Failure]:
    failures = []
    for file, reference in KEY_REFERENCES.items():
        config = yaml.safe_load((tree / file).read_text())
        for key in unknown_keys(config, load_key_reference(REFERENCES / reference)):
            release = reference.removesuffix("-keys.txt")
            failures.append(Failure(file, f"key {key} is unknown to {release}"))
    grafana = f"containers/{Service.GRAFANA}.json"
    env = json.loads((tree / grafana).read_text())["env"]
    for name in unknown_grafana_env(env, load_ini_reference(REFERENCES / GRAFANA_REFERENCE)):
        failures.append(Failure(grafana, f"{name} names no setting of Grafana "
                                         f"(references/{GRAFANA_REFERENCE}): Grafana ignores it"))
    return failures


CHECKS: Final[tuple[Callable[[Path, Path], list[Failure]], ...]] = (
    check_prometheus, check_alertmanager, check_flags, check_dashboards, check_key_references)


def validate(tree: Path) -> list[Failure]:
    failures: list[Failure] = []
    for check in CHECKS:
        with tempfile.TemporaryDirectory() as scratch:
            failures.extend(check(tree, Path(scratch)))
    return failures


def main(argv: list[str] | None = None) -> int:
    from review.render import render  # noqa: PLC0415 - only the CLI renders

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, type=stack_argument)
    parser.add_argument("--tree", type=Path, help="default: build/<stack>")
    args = parser.parse_args(argv)
    tree = args.tree or ROOT / "build" / args.stack
    render(args.stack, tree)
    try:
        failures = validate(tree)
    except MissingToolError as missing:
        print(f"FAIL {missing}")
        return 2
    for failure in failures:
        print(failure)
    checked = ", ".join(check.__name__.removeprefix("check_") for check in CHECKS)
    print(f"{args.stack}: {len(failures)} failure(s) ({checked})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

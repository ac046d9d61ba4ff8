"""The README's stack diagram is what review/diagram.py draws today, and the generated pages of
docs/ (each stack's diagrams, each dashboard's picture) what their builders make (`make docs`
rewrites them all)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from review import routing_diagram
from review.config_docs import DASHBOARDS_DIR, STACKS_PAGE, generated_docs, stale_docs
from review.diagram import BEGIN, END, mermaid, stack_diagram
from review.stacks_page import STACKS
from services import SERVICES, Listener, Service
from settings.stack_file import ROOT, file_settings


def test_readme_shows_the_current_diagram_after_the_quick_start() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), readme, re.S)
    assert match is not None, "README has no stack-diagram markers"
    # A new user reads the two commands first, then the picture.
    assert readme.index("## Quick start") < readme.index(BEGIN), "the quick start comes first"
    assert match[1] == stack_diagram(), "README diagram drifted: run `make docs`"


def test_the_diagram_shows_every_port_and_flow() -> None:
    diagram = stack_diagram()
    for facts in SERVICES.values():
        assert f":{facts.http_port}" in diagram
    tempo = SERVICES[Service.TEMPO].listens
    for edge in ('tempo -->|"remote write (span metrics)"| prometheus',
                 f'backend -->|"OTLP traces :{tempo[Listener.OTLP_GRPC]} / '
                 f':{tempo[Listener.OTLP_HTTP]}"| tempo',
                 'grafana -->|"datasource"| loki', 'prometheus -->|"alerts"| alertmanager',
                 'prometheus -->|"scrape"| backend', 'alertmanager -->|"Watchdog"| heartbeat'):
        assert edge in diagram


def test_a_stack_without_redis_draws_no_exporter() -> None:
    staging = file_settings("staging")
    assert staging.redis is None
    assert "redis_exporter" not in mermaid(staging)


def test_the_generated_docs_are_what_make_docs_writes() -> None:
    for path, text in generated_docs().items():
        assert (ROOT / path).is_file(), f"{path} is missing: run `make docs`"
        assert (ROOT / path).read_text() == text, f"{path} drifted: run `make docs`"
    assert stale_docs() == [], "no dashboard makes these any more: run `make docs`"


def test_make_docs_removes_a_picture_no_dashboard_makes(tmp_path: Path) -> None:
    (tmp_path / DASHBOARDS_DIR).mkdir(parents=True)
    for path in generated_docs():
        if path.parent == DASHBOARDS_DIR:
            (tmp_path / path).write_text("")
    (tmp_path / DASHBOARDS_DIR / "gatewayz-gone.svg").write_text("")
    assert stale_docs(tmp_path) == [DASHBOARDS_DIR / "gatewayz-gone.svg"]


def test_the_generated_docs_do_not_depend_on_the_hash_seed() -> None:
    script = ("import hashlib; from review.config_docs import generated_docs; "
              "print(hashlib.sha256(repr(sorted((str(p), t) for p, t in "
              "generated_docs().items())).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, text=True,
                              capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed}
                              ).stdout for seed in ("0", "1", "4242")}
    assert len(digests) == 1


def test_the_stacks_page_draws_each_stack_from_its_own_file() -> None:
    page = (ROOT / STACKS_PAGE).read_text()
    for stack in STACKS:
        settings = file_settings(stack)
        section = page.split(f"\n## {stack}\n", 1)[1].split("\n## ", 1)[0]
        assert mermaid(settings) in section
        assert routing_diagram.mermaid(settings) in section
    staging = page.split("\n## staging\n", 1)[1].split("\n## production\n", 1)[0]
    production = page.split("\n## production\n", 1)[1]
    assert "redis_exporter" not in staging
    assert "Redis" not in staging.split("### Alert")[0]
    assert 'redis_exporter -->|"INFO"| redis' in production
    # Staging sends criticals to Slack, production to the pager; only production has a heartbeat.
    assert 'alertmanager -->|"critical, warning"| slack' in staging
    assert 'alertmanager -->|"critical"| webhook' in production
    assert "rcv_heartbeat" in production
    assert "rcv_heartbeat" not in staging
    assert "| `Watchdog` goes to | dropped (`none`) | heartbeat, every 5m |" in page


def test_the_readme_links_the_generated_pictures() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/stacks.md)" in readme
    assert "(docs/dashboards/README.md)" in readme

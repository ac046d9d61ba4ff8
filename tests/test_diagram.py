"""The README's stack diagram is what review/diagram.py draws today (`make docs` rewrites it)."""

import re

from review.diagram import BEGIN, END, mermaid, stack_diagram
from services import SERVICES, Listener, Service
from settings.stack_file import ROOT, file_settings


def test_readme_opens_with_the_current_diagram() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), readme, re.S)
    assert match is not None, "README has no stack-diagram markers"
    assert readme.index(BEGIN) < readme.index("\n## "), "the diagram opens the README"
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

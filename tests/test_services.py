"""The services table: one row per service, every publishable port owned once, and each port,
path and datasource uid written in one product module only."""

import re

from components.stack import COMPONENTS
from configs.datasources import Uid
from ops.verify.checks import CHECKS
from services import SERVICES, Listener, Published, Service, internal_url
from settings.keys import KEYS_BY_NAME, camel
from settings.stack_file import ROOT


def test_every_service_has_one_row_and_an_http_listener() -> None:
    assert set(SERVICES) == set(Service)
    for service, facts in SERVICES.items():
        assert facts.service is service
        assert Listener.HTTP in facts.listens


def test_every_port_is_published_by_exactly_one_service() -> None:
    owners = {port: port.owner.service for port in Published}
    assert owners[Published.TEMPO_OTLP_GRPC] is Service.TEMPO
    assert Published.TEMPO_OTLP_HTTP.container_port == SERVICES[Service.TEMPO].listens[
        Listener.OTLP_HTTP]


def test_healthchecks_probe_the_service_itself() -> None:
    alertmanager = SERVICES[Service.ALERTMANAGER]
    assert alertmanager.healthcheck[-1] == f"http://localhost:{alertmanager.http_port}/-/healthy"
    assert SERVICES[Service.PROMETHEUS].healthcheck == ("CMD", "promtool", "check", "healthy")
    assert internal_url(Service.LOKI) == f"http://loki:{SERVICES[Service.LOKI].http_port}"


def _product_modules() -> dict[str, str]:
    """Every Python module that is not test code, by path."""
    skip = ("tests/", ".venv/", "policy/.venv/", "build/")
    return {str(path.relative_to(ROOT)): path.read_text() for path in ROOT.rglob("*.py")
            if not str(path.relative_to(ROOT)).startswith(skip)}


def test_ports_paths_and_uids_are_written_in_one_module() -> None:
    facts = {str(port) for row in SERVICES.values() for port in row.listens.values()}
    facts |= {path for row in SERVICES.values()
              for path in (row.config_path, row.data_dir, row.secrets_dir) if path}
    facts |= {uid.value for uid in Uid}
    modules = _product_modules()
    for fact in sorted(facts):
        pattern = re.compile(rf"(?<![\w/.-]){re.escape(fact)}(?![\w/.-])")
        homes = sorted(path for path, text in modules.items() if pattern.search(text))
        assert len(homes) <= 1, f"{fact} is written in {homes}"


def test_a_services_keys_come_from_its_row_alone() -> None:
    """Adding a service to SERVICES is all its keys need: each row's defaults and publications
    become its image, memory, CPU and bind keys, and no key names a port no row publishes."""
    bind_keys = {key.name for key in KEYS_BY_NAME.values() if key.name.endswith("Bind")}
    assert bind_keys == {port.bind_key for facts in SERVICES.values() for port in facts.published}
    for service, facts in SERVICES.items():
        defaults = facts.defaults
        assert KEYS_BY_NAME[f"{camel(service)}Image"].default == defaults.image
        assert KEYS_BY_NAME[f"{camel(service)}MemoryMb"].default == defaults.memory_mb
        assert KEYS_BY_NAME[f"{camel(service)}CpuMillis"].default == defaults.cpu_millis
        for port, publication in facts.published.items():
            assert publication.what in KEYS_BY_NAME[port.bind_key].description, port


def test_each_per_service_table_has_one_line_per_service() -> None:
    """The program's components and `make verify`'s checks are each one line per service of
    `Service`, and the program decides no service itself: it loops over its table, filtered by
    Settings.services."""
    for table in (COMPONENTS, CHECKS):
        assert sorted(table) == sorted(Service)
    program = (ROOT / "__main__.py").read_text()
    # Each platform's one table: components/stack.py, components/kubernetes/stack.py.
    assert not re.search(r"Service\.|settings\.redis|components\.(?!(?:kubernetes\.)?stack\b)",
                         program)

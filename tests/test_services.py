"""The services table: one row per service, every publishable port owned once."""

from services import SERVICES, Listener, Port, Service, container_port, internal_url, owner


def test_every_service_has_one_row_and_an_http_listener() -> None:
    assert set(SERVICES) == set(Service)
    for service, facts in SERVICES.items():
        assert facts.service is service
        assert Listener.HTTP in facts.listens


def test_every_port_is_published_by_exactly_one_service() -> None:
    owners = {port: owner(port).service for port in Port}
    assert owners[Port.TEMPO_OTLP_GRPC] is Service.TEMPO
    assert container_port(Port.TEMPO_OTLP_HTTP) == SERVICES[Service.TEMPO].listens[
        Listener.OTLP_HTTP]


def test_healthchecks_probe_the_service_itself() -> None:
    alertmanager = SERVICES[Service.ALERTMANAGER]
    assert alertmanager.healthcheck[-1] == f"http://localhost:{alertmanager.http_port}/-/healthy"
    assert SERVICES[Service.PROMETHEUS].healthcheck == ("CMD", "promtool", "check", "healthy")
    assert internal_url(Service.LOKI) == f"http://loki:{SERVICES[Service.LOKI].http_port}"

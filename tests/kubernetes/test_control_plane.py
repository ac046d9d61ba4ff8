"""The control plane the Kubernetes tests run against is a real one: the binaries report the
pinned releases, the API server stores and validates what it is given as the admin and refuses
anyone without a certificate of the run's CA, and deleting a namespace empties and removes it
(the controller manager's namespace controller)."""

from __future__ import annotations

import ssl
import subprocess

import httpx
import pytest

from tests.support.kubernetes import (
    API_SERVER,
    CONTROLLER_MANAGER,
    DELETION_SECONDS,
    ETCD,
    ControlPlane,
)
from tests.support.tools import require_tool
from tests.support.waiting import wait_until
from toolchain import kubernetes

NAMESPACE = "gatewayz-fixture-check"


@pytest.mark.parametrize(("binary", "reported"), [
    (ETCD, f"etcd Version: {kubernetes.ETCD.release}"),
    (API_SERVER, f"Kubernetes {kubernetes.KUBERNETES.version}"),
    (CONTROLLER_MANAGER, f"Kubernetes {kubernetes.KUBERNETES.version}"),
])
def test_each_binary_reports_its_pinned_release(binary: str, reported: str) -> None:
    result = subprocess.run([require_tool(binary), "--version"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == reported


def test_the_api_server_reports_the_pinned_release(control_plane: ControlPlane) -> None:
    with control_plane.client() as api:
        version = api.get("/version").raise_for_status().json()
    assert version["gitVersion"] == kubernetes.KUBERNETES.version


def test_only_a_certificate_of_the_runs_ca_gets_in(control_plane: ControlPlane) -> None:
    # TLS that trusts the run's CA, without a client certificate: anonymous is refused.
    with httpx.Client(base_url=control_plane.server, verify=control_plane.pki.context(),
                      timeout=30) as anonymous:
        assert anonymous.get("/api/v1/namespaces").status_code == 401
    # And the server's certificate is not one the machine trusts.
    with httpx.Client(base_url=control_plane.server, verify=ssl.create_default_context(),
                      timeout=30) as default, pytest.raises(httpx.ConnectError):
        default.get("/readyz")


def test_a_namespace_and_a_config_map_are_created_and_the_namespace_deleted(
        control_plane: ControlPlane) -> None:
    with control_plane.client() as api:
        created = api.post("/api/v1/namespaces", json={
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        assert created.status_code == 201, created.text
        config_maps = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
        made = api.post(config_maps, json={
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
            "data": {"retention": "15d"}})
        assert made.status_code == 201, made.text
        # The API server's own validation: a key a ConfigMap cannot have is refused.
        refused = api.post(config_maps, json={
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"},
            "data": {"not a key": "x"}})
        assert refused.status_code == 422, refused.text
        assert api.get(f"{config_maps}/settings").json()["data"] == {"retention": "15d"}

        assert api.delete(f"/api/v1/namespaces/{NAMESPACE}").status_code == 200
        wait_until(f"namespace {NAMESPACE} to be gone (GET 404) after its deletion",
                   DELETION_SECONDS, lambda: api.get(f"/api/v1/namespaces/{NAMESPACE}"),
                   lambda response: response.status_code == 404,
                   detail=control_plane.logs)
        assert api.get(f"{config_maps}/settings").status_code == 404

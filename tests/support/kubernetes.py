"""A real Kubernetes control plane on loopback for the tests: etcd, kube-apiserver and
kube-controller-manager as `make tools` builds them (toolchain/kubernetes.py), each on free
ports of 127.0.0.1, with a CA, serving and client certificates and service-account keys made for
the run, and nothing else of the machine's (no kubeconfig, no port, no directory outside the
run's own). `running()` starts them, waits until each says it is ready, and stops them all at
the end, whatever happened.

No kubelet, scheduler or kube-proxy: objects are stored, validated, defaulted and deleted for
real (the namespace controller and garbage collector finish a deletion), but no Pod runs; a test
that needs pods to run adds a node (tests/support/kubernetes_node.py).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import os
import signal
import ssl
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.waiting import wait_until
from toolchain.engine_run import free_port

ETCD: Final = "etcd"
API_SERVER: Final = "kube-apiserver"
CONTROLLER_MANAGER: Final = "kube-controller-manager"
BINARIES: Final = (ETCD, API_SERVER, CONTROLLER_MANAGER)
LOOPBACK: Final = "127.0.0.1"
# Each waits for its own readiness endpoint: a cold start on a loaded 2-core machine (etcd's
# first write, the API server's post-start hooks, RBAC's bootstrap roles) takes seconds, and far
# longer when the machine is busy.
READY_SECONDS: Final = 240.0
STOP_SECONDS: Final = 30.0
# The namespace controller deletes every object in the namespace, then the namespace; a loaded
# 2-core machine slows its discovery of the API's resources.
DELETION_SECONDS: Final = 180.0
LOG_LINES: Final = 40
# The API server allocates Service IPs from this range. Nothing is ever sent there: no
# kube-proxy runs, so no address of it is routed or served.
SERVICE_RANGE: Final = "10.96.0.0/16"
ADMIN_USER: Final = "gatewayz-test-admin"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common: str, organization: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if organization is not None:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


@dataclass(frozen=True)
class Pki:
    """The run's CA and what it signed, as PEM files in one directory (owner-only)."""

    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / name

    def write(self, name: str, content: bytes) -> Path:
        path = self.path(name)
        path.touch(mode=0o600)
        path.write_bytes(content)
        return path

    @classmethod
    def create(cls, directory: Path) -> Pki:
        """A CA; the API server's and the controller manager's serving certificates for
        127.0.0.1; the admin's (group system:masters) and the controller manager's client
        certificates; the service-account signing key pair."""
        directory.mkdir(mode=0o700, parents=True)
        pki = cls(directory)
        now = datetime.datetime.now(datetime.UTC)
        ca_key = _key()
        ca_name = _name("gatewayz-test-ca")
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(
                  digital_signature=True, key_cert_sign=True, crl_sign=True,
                  content_commitment=False, key_encipherment=False, data_encipherment=False,
                  key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
              .sign(ca_key, hashes.SHA256()))
        pki.write("ca.crt", ca.public_bytes(serialization.Encoding.PEM))

        def issue(name: str, subject: x509.Name, usage: x509.ObjectIdentifier) -> None:
            key = _key()
            builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
                       .public_key(key.public_key()).serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(minutes=5))
                       .not_valid_after(now + datetime.timedelta(days=1))
                       .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                      critical=True)
                       .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
            if usage == ExtendedKeyUsageOID.SERVER_AUTH:
                builder = builder.add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"), x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
            certificate = builder.sign(ca_key, hashes.SHA256())
            pki.write(f"{name}.crt", certificate.public_bytes(serialization.Encoding.PEM))
            pki.write(f"{name}.key", _pem_key(key))

        issue("apiserver", _name(API_SERVER), ExtendedKeyUsageOID.SERVER_AUTH)
        issue("controller-manager-serving", _name(CONTROLLER_MANAGER),
              ExtendedKeyUsageOID.SERVER_AUTH)
        # The API server's RBAC bootstrap binds system:masters to cluster-admin, and
        # system:kube-controller-manager to the controllers' own role.
        issue("admin", _name(ADMIN_USER, "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH)
        issue("controller-manager", _name("system:kube-controller-manager"),
              ExtendedKeyUsageOID.CLIENT_AUTH)
        accounts = _key()
        pki.write("service-accounts.key", _pem_key(accounts))
        pki.write("service-accounts.pub", accounts.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return pki

    def context(self, client: str | None = None) -> ssl.SSLContext:
        """TLS that trusts only the run's CA, with `client`'s certificate if given."""
        context = ssl.create_default_context(cafile=str(self.path("ca.crt")))
        if client is not None:
            context.load_cert_chain(self.path(f"{client}.crt"), self.path(f"{client}.key"))
        return context

    def client(self, server: str, user: str = "admin") -> httpx.Client:
        """HTTPS to `server` as `user` (the admin: cluster-admin), trusting only the CA."""
        return httpx.Client(base_url=server, verify=self.context(user), timeout=30)

    def kubeconfig(self, path: Path, server: str, client: str) -> Path:
        """A kubeconfig of one cluster and one user, the certificates inline."""

        def data(name: str) -> str:
            return base64.b64encode(self.path(name).read_bytes()).decode()

        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "gatewayz-test",
            "clusters": [{"name": "gatewayz-test", "cluster": {
                "server": server, "certificate-authority-data": data("ca.crt")}}],
            "users": [{"name": client, "user": {
                "client-certificate-data": data(f"{client}.crt"),
                "client-key-data": data(f"{client}.key")}}],
            "contexts": [{"name": "gatewayz-test",
                          "context": {"cluster": "gatewayz-test", "user": client}}]}
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path


@dataclass
class Server:
    """One process of the control plane, its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = LOG_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError as error:
            return f"{self.name}: no log ({error})"
        return f"last {len(text)} lines of {self.name} ({self.log}):\n" + "\n".join(text)

    def alive(self) -> None:
        """Raise (not a reading to wait on) when the process has exited: no wait can help."""
        code = self.process.poll()
        if code is not None:
            raise AssertionError(f"{self.name} exited with {code} while starting\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL if it is not gone after STOP_SECONDS."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_SECONDS)


@dataclass(frozen=True)
class ControlPlane:
    """What a test talks to: the API server's URL, the admin's kubeconfig and TLS."""

    server: str
    kubeconfig: Path
    pki: Pki
    servers: tuple[Server, ...]

    def client(self) -> httpx.Client:
        """The API over HTTPS as the admin (cluster-admin), trusting only the run's CA."""
        return self.pki.client(self.server)

    def logs(self) -> str:
        return "\n".join(server.tail() for server in self.servers)


def start_server(name: str, command: list[str], directory: Path) -> Server:
    log = directory / f"{name}.log"
    with log.open("wb") as output:
        # Its own session, so stop() reaches everything it started.
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Server(name, process, log)


def wait_ready(server: Server, condition: str, read: httpx.Client, path: str,
                done: str) -> None:
    def probe() -> str:
        server.alive()
        response = read.get(path)
        return f"{response.status_code} {response.text.strip()}"

    wait_until(condition, READY_SECONDS, probe, lambda seen: seen == done, step=0.5,
               detail=server.tail)


@contextlib.contextmanager
def running(directory: Path, binaries: Mapping[str, str]) -> Iterator[ControlPlane]:
    """Start etcd, kube-apiserver and kube-controller-manager (`binaries`: name -> path) with
    their files under `directory`; the control plane once each is ready; all stopped at the
    end, failures included."""
    pki = Pki.create(directory / "pki")
    client_port, peer_port = free_port(), free_port()
    api_port, manager_port = free_port(), free_port()
    etcd_url = f"http://{LOOPBACK}:{client_port}"
    server = f"https://{LOOPBACK}:{api_port}"
    servers: list[Server] = []
    try:
        # Plain HTTP on loopback: only the API server talks to it, from the same machine.
        peer = f"http://{LOOPBACK}:{peer_port}"
        servers.append(start_server(ETCD, [
            binaries[ETCD], "--name=gatewayz-test", f"--data-dir={directory / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=gatewayz-test={peer}",
            # A test's data need not survive a crash; fsync on a shared disk is most of a
            # write's time.
            "--unsafe-no-fsync"], directory))
        with httpx.Client(base_url=etcd_url, timeout=10) as etcd:
            wait_ready(servers[-1], f"etcd to answer {etcd_url}/health", etcd, "/health",
                        '200 {"health":"true","reason":""}')
        servers.append(start_server(API_SERVER, [
            binaries[API_SERVER], f"--etcd-servers={etcd_url}",
            f"--bind-address={LOOPBACK}", f"--advertise-address={LOOPBACK}",
            f"--secure-port={api_port}",
            f"--tls-cert-file={pki.path('apiserver.crt')}",
            f"--tls-private-key-file={pki.path('apiserver.key')}",
            f"--client-ca-file={pki.path('ca.crt')}",
            "--authorization-mode=RBAC", "--anonymous-auth=false",
            f"--service-account-key-file={pki.path('service-accounts.pub')}",
            f"--service-account-signing-key-file={pki.path('service-accounts.key')}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-cluster-ip-range={SERVICE_RANGE}",
            # The `kubernetes` Service's endpoints would be this loopback address, which
            # Endpoints refuse; nothing here reaches the API server through that Service.
            "--endpoint-reconciler-type=none",
            f"--cert-dir={directory / 'apiserver'}"], directory))
        with pki.client(server) as api:
            wait_ready(servers[-1], f"kube-apiserver to answer {server}/readyz with ok", api,
                        "/readyz", "200 ok")
        manager_config = pki.kubeconfig(directory / "controller-manager.kubeconfig", server,
                                        "controller-manager")
        manager = f"https://{LOOPBACK}:{manager_port}"
        servers.append(start_server(CONTROLLER_MANAGER, [
            binaries[CONTROLLER_MANAGER], f"--kubeconfig={manager_config}",
            f"--bind-address={LOOPBACK}", f"--secure-port={manager_port}",
            f"--tls-cert-file={pki.path('controller-manager-serving.crt')}",
            f"--tls-private-key-file={pki.path('controller-manager-serving.key')}",
            f"--service-account-private-key-file={pki.path('service-accounts.key')}",
            f"--root-ca-file={pki.path('ca.crt')}",
            # Each controller as its own service account, which the API server's RBAC
            # bootstrap gives its role (system:controller:namespace-controller, ...); as the
            # controller manager's user, most of them are refused.
            "--use-service-account-credentials=true",
            # One controller manager: no lease to take first.
            "--leader-elect=false"], directory))
        with httpx.Client(base_url=manager, verify=pki.context(), timeout=10) as health:
            # /healthz is among the paths it serves to anyone (its
            # --authorization-always-allow-paths default).
            wait_ready(servers[-1], f"kube-controller-manager to answer {manager}/healthz "
                        "with ok", health, "/healthz", "200 ok")
        yield ControlPlane(server, pki.kubeconfig(directory / "admin.kubeconfig", server,
                                                  "admin"), pki, tuple(servers))
    finally:
        for one in reversed(servers):
            one.stop()

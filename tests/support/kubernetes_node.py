"""One node that runs pods for the tests' control plane (tests/support/kubernetes.py), where the
machine can: kube-scheduler, a kubelet on Debian's containerd and CNI plugins with the local
images imported (pulled from nowhere: imagePullPolicy or not, the images are there), and CoreDNS
serving the cluster's names from the API server, as `make tools` builds them.

`running_node()` raises NodeUnavailableError with the exact reason where the machine cannot run
one (not root, no address but loopback, the kubelet refusing to start or to turn Ready); the
Debian packages it runs are the test's to require (TOOLS, missing_cni_plugins). It stops
every pod, then each process, and unmounts what the kubelet mounted, whatever happened.

What it needs of the machine, each checked on upstream sources:
- cgroup v1 is refused by kubelet 1.35+ unless `failCgroupV1: false` (k8s.io/kubelet v0.37.2
  `config/v1beta1/types.go`); cgroup v2 hosts need nothing.
- The kubelet asks containerd to lower each sandbox's oom_score_adj (to -998), which needs
  CAP_SYS_RESOURCE; in a container or VM without it, runc fails the sandbox with "can't get
  final child's PID from pipe: EOF" (its debug log: "failed to update /proc/self/oom_score_adj:
  Permission denied"). containerd's CRI `restrict_oom_score_adj` keeps each score at or above
  containerd's own, as for rootless (containerd v1.7.29 `docs/cri/config.md`; Debian 12's
  1.6.20 reads it too).
- A node IP that is not loopback: kubelet 1.37 refuses one ("nodeIP can't be loopback
  address", pkg/kubelet/kubelet_node_status.go); the API server and CoreDNS are reached there.
- No kube-proxy: a test reaches a pod through the API server's pod proxy, pods each other by
  the names of headless Services (CoreDNS answers with the pods' own addresses).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import yaml

from tests.support.kubernetes import (
    LOOPBACK,
    READY_SECONDS,
    ControlPlane,
    Server,
    start_server,
    wait_ready,
)
from tests.support.waiting import WaitTimeoutError, wait_until
from toolchain.engine_run import free_port

SCHEDULER: Final = "kube-scheduler"
KUBELET: Final = "kubelet"
COREDNS: Final = "coredns"
BINARIES: Final = (SCHEDULER, KUBELET, COREDNS)
NODE_NAME: Final = "gatewayz-test-node"
CLUSTER_DOMAIN: Final = "cluster.local"
# Debian's containernetworking-plugins installs them here, not in /opt/cni/bin.
CNI_PLUGINS: Final = Path("/usr/lib/cni")
# The pods' addresses: a bridge on this host; the host routes to them, so the API server's pod
# proxy reaches each pod directly.
POD_RANGE: Final = "10.244.0.0/16"
BRIDGE: Final = "gatewayz-test0"
# containerd's CRI namespace, where the kubelet looks for images.
CRI_NAMESPACE: Final = "k8s.io"
STOP_SECONDS: Final = 120.0
# What the API server makes itself; every other namespace is a test's.
_SYSTEM_NAMESPACES: Final = frozenset({"default", "kube-node-lease", "kube-public",
                                       "kube-system"})


class NodeUnavailableError(RuntimeError):
    """The machine cannot run the node; the message says exactly why."""


@dataclass(frozen=True)
class Node:
    name: str
    servers: tuple[Server, ...]

    def logs(self) -> str:
        return "\n".join(server.tail() for server in self.servers)


def node_address() -> str:
    """The IPv4 address of the default route's interface: the node's IP, and where CoreDNS
    listens for the pods."""
    route = subprocess.run(["ip", "-j", "-4", "route", "get", "192.0.2.1"], capture_output=True,
                           text=True, check=False)
    try:
        address = str(json.loads(route.stdout)[0]["prefsrc"])
    except (ValueError, IndexError, KeyError) as error:
        raise NodeUnavailableError(f"no IPv4 address but loopback (`ip route get`: "
                                   f"{route.stderr.strip() or error})") from error
    if ipaddress.ip_address(address).is_loopback:
        raise NodeUnavailableError(f"the only IPv4 address is loopback ({address}): kubelet "
                                   "refuses a loopback node IP")
    return address


# The Debian packages the node runs (.ci/run installs them): containerd (with runc), iproute2.
TOOLS: Final = ("containerd", "ctr", "runc", "ip")
# The pods' network, their addresses, and their `lo` (containerd's CRI sets it up with
# `loopback`).
CNI_PLUGIN_NAMES: Final = ("bridge", "host-local", "loopback")


def missing_cni_plugins() -> list[Path]:
    """The CNI plugins the node's network needs that are not installed (Debian:
    containernetworking-plugins)."""
    return [CNI_PLUGINS / name for name in CNI_PLUGIN_NAMES if not (CNI_PLUGINS / name).is_file()]


def check_machine() -> None:
    """NodeUnavailableError unless this process may run a node (the packages aside)."""
    if os.geteuid() != 0:
        raise NodeUnavailableError("not root: the kubelet and containerd mount, create cgroups "
                                   "and network namespaces")


def _containerd_config(directory: Path, sandbox_image: str) -> str:
    # Version 2 of the config, which containerd 1.6 and 1.7 read (containerd v1.7.29
    # docs/cri/config.md); every path the run's own, so it never meets the machine's.
    return f"""version = 2
root = "{directory / 'root'}"
state = "{directory / 'state'}"
[grpc]
  address = "{directory / 'containerd.sock'}"
[ttrpc]
  address = "{directory / 'containerd.sock.ttrpc'}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_PLUGINS}"
    conf_dir = "{directory / 'cni'}"
"""


def _cni_config(directory: Path) -> str:
    # containernetworking/plugins v1.1.1 plugins/main/bridge and plugins/ipam/host-local (its
    # leases under the run's directory, not /var/lib/cni/networks).
    return json.dumps({"cniVersion": "0.4.0", "name": "gatewayz-test", "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": True,
         "hairpinMode": True, "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_RANGE}]],
                                       "routes": [{"dst": "0.0.0.0/0"}],
                                       "dataDir": str(directory / "leases")}}]}, indent=2)


def _corefile(kubeconfig: Path, address: str, ready_port: int) -> str:
    # coredns/coredns v1.15.0 plugin/kubernetes/README.md: `pods insecure` answers
    # a-b-c-d.<ns>.pod names; the StatefulSet pods' names come from their headless Services.
    return f""".:53 {{
    bind {address}
    errors
    ready {LOOPBACK}:{ready_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} gatewayz-test
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
}}
"""


def _kubelet_config(directory: Path, socket: Path, address: str, port: int,
                    healthz: int) -> dict[str, object]:
    # k8s.io/kubelet v0.37.2 config/v1beta1/types.go.
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "failCgroupV1": False, "failSwapOn": False, "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{socket}",
        # The API server's pod logs and exec reach the kubelet with no client certificate.
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "address": address, "port": port, "readOnlyPort": 0,
        "healthzBindAddress": LOOPBACK, "healthzPort": healthz,
        "clusterDNS": [address], "clusterDomain": CLUSTER_DOMAIN,
        "podLogsDir": str(directory / "pod-logs"),
        # The images are imported, never pulled: garbage collection would remove them for good.
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        # A shared test disk may be fuller than the defaults (10%, 15%) allow: no eviction.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%"},
    }


def _ctr(socket: Path, *args: str) -> str:
    result = subprocess.run(["ctr", "--address", str(socket), "--namespace", CRI_NAMESPACE,
                             *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NodeUnavailableError(f"ctr {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def _unmount_under(directory: Path) -> None:
    """Unmount what the kubelet and containerd left mounted under `directory`, deepest first."""
    points = [Path(line.split()[4]) for line in
              Path("/proc/self/mountinfo").read_text().splitlines()]
    for point in sorted((p for p in points if p.is_relative_to(directory)),
                        key=lambda p: len(p.parts), reverse=True):
        subprocess.run(["umount", "--lazy", str(point)], capture_output=True, check=False)


# What the kubelet adds to the host's iptables, whatever its configuration (kubernetes v1.37.2
# pkg/kubelet/kubelet_network_linux.go, and its canary chains to see the tables flushed).
_FIREWALL: Final = "KUBE-FIREWALL"
_KUBELET_CHAINS: Final = (("mangle", "KUBE-IPTABLES-HINT"), ("mangle", "KUBE-KUBELET-CANARY"),
                          ("nat", "KUBE-KUBELET-CANARY"), ("filter", "KUBE-KUBELET-CANARY"),
                          ("filter", _FIREWALL))


def _remove_kubelet_chains() -> None:
    """Take out the kubelet's chains once it is stopped: its KUBE-FIREWALL drops packets to
    127.0.0.0/8 from other sources, for every process of the host."""
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for hook in ("INPUT", "OUTPUT"):
            subprocess.run([tool, "-t", "filter", "-D", hook, "-j", _FIREWALL],
                           capture_output=True, check=False)
        for table, chain in _KUBELET_CHAINS:
            for action in ("-F", "-X"):
                subprocess.run([tool, "-t", table, action, chain], capture_output=True,
                               check=False)


def _node_ready(plane: ControlPlane) -> str:
    with plane.client() as api:
        response = api.get(f"/api/v1/nodes/{NODE_NAME}")
    if response.status_code != 200:
        return f"{response.status_code}"
    conditions = response.json()["status"].get("conditions", [])
    return next((f"{c['status']} {c.get('message', '')}" for c in conditions
                 if c["type"] == "Ready"), "no Ready condition")


def _stop_pods(plane: ControlPlane, socket: Path, kubelet: Server) -> None:
    """Every namespace of the tests deleted (their controllers would replace a deleted pod) and
    every pod at once, then waited for until containerd runs no container: the kubelet stops
    them and tears their networks down; containers outlive a stopped kubelet."""
    with plane.client() as api:
        for namespace in api.get("/api/v1/namespaces").json()["items"]:
            name = namespace["metadata"]["name"]
            if name not in _SYSTEM_NAMESPACES:
                api.delete(f"/api/v1/namespaces/{name}")
        for pod in api.get("/api/v1/pods").json()["items"]:
            meta = pod["metadata"]
            api.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                       params={"gracePeriodSeconds": "0"})
    if kubelet.process.poll() is None:
        with contextlib.suppress(WaitTimeoutError):
            wait_until("containerd to run no container", STOP_SECONDS,
                       lambda: _ctr(socket, "tasks", "list", "--quiet").split(),
                       lambda tasks: not tasks, step=1.0)
    for task in _ctr(socket, "tasks", "list", "--quiet").split():
        subprocess.run(["ctr", "--address", str(socket), "--namespace", CRI_NAMESPACE, "tasks",
                        "kill", "--signal", "SIGKILL", task], capture_output=True, check=False)


@contextlib.contextmanager
def running_node(directory: Path, plane: ControlPlane, binaries: dict[str, str],
                 sandbox_image: str, image_archives: Sequence[Path]) -> Iterator[Node]:
    """containerd with `image_archives` (`docker save` tars) imported, CoreDNS, kube-scheduler
    and the kubelet, under `directory`, as the admin; the node once Ready."""
    check_machine()
    address = node_address()
    containerd_dir = directory / "containerd"
    (containerd_dir / "cni").mkdir(parents=True)
    (containerd_dir / "cni" / "10-gatewayz-test.conflist").write_text(
        _cni_config(containerd_dir))
    config = containerd_dir / "config.toml"
    config.write_text(_containerd_config(containerd_dir, sandbox_image))
    socket = containerd_dir / "containerd.sock"
    servers: list[Server] = []
    try:
        servers.append(start_server("containerd", ["containerd", "--config", str(config)],
                                    directory))

        def answering() -> bool:
            servers[0].alive()
            return socket.exists()

        wait_until("containerd to answer", READY_SECONDS, answering, step=0.5,
                   detail=servers[0].tail)
        for archive in image_archives:
            _ctr(socket, "images", "import", str(archive))
        ready_port = free_port()
        corefile = directory / "Corefile"
        corefile.write_text(_corefile(plane.kubeconfig, address, ready_port))
        servers.append(start_server(COREDNS, [binaries[COREDNS], "-conf", str(corefile)],
                                    directory))
        with httpx.Client(base_url=f"http://{LOOPBACK}:{ready_port}", timeout=10) as dns:
            wait_ready(servers[-1], "CoreDNS to answer /ready", dns, "/ready", "200 OK")
        kubeconfig = str(plane.kubeconfig)
        servers.append(start_server(SCHEDULER, [
            binaries[SCHEDULER], f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--bind-address={LOOPBACK}", f"--secure-port={free_port()}",
            "--leader-elect=false"], directory))
        kubelet_dir = directory / "kubelet"
        kubelet_dir.mkdir()
        kubelet_config = kubelet_dir / "config.yaml"
        kubelet_config.write_text(yaml.safe_dump(_kubelet_config(
            kubelet_dir, socket, address, free_port(), free_port())))
        servers.append(start_server(KUBELET, [
            binaries[KUBELET], f"--config={kubelet_config}", f"--kubeconfig={kubeconfig}",
            f"--root-dir={kubelet_dir / 'root'}", f"--cert-dir={kubelet_dir / 'pki'}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={address}"], directory))
        kubelet = servers[-1]

        def ready() -> str:
            for server in servers:
                server.alive()
            return _node_ready(plane)

        try:
            wait_until(f"node {NODE_NAME} Ready", READY_SECONDS, ready,
                       lambda seen: seen.startswith("True"), step=1.0, detail=kubelet.tail)
        except (WaitTimeoutError, AssertionError) as error:
            # The kubelet exits or never posts Ready where the machine refuses it (cgroups,
            # swap, capabilities): its own words say why.
            raise NodeUnavailableError(str(error)) from error
        try:
            yield Node(NODE_NAME, tuple(servers))
        finally:
            # Whatever is left running is killed below; a teardown error would hide the test's.
            with contextlib.suppress(NodeUnavailableError):
                _stop_pods(plane, socket, kubelet)
    finally:
        for server in reversed(servers):
            server.stop()
        _remove_kubelet_chains()
        # The bridge plugin leaves its bridge when the last pod goes.
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
        _unmount_under(directory)

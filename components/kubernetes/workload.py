"""What every workload of the Kubernetes platform shares: its namespace (Pod Security
`restricted` enforced, ingress denied but for what each service's NetworkPolicy lets in), its
labels, and the parts of a pod a service's row in services.py decides (user, probes, limits,
security context)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_kubernetes as kubernetes

from services import SERVICES, Service
from settings import Settings

PART_OF: Final = "gatewayz"
# The label a service's pods are selected by, and NetworkPolicies name their peers by.
NAME_LABEL: Final = "app.kubernetes.io/name"
# Pod Security Admission's level, enforced by the API server on every pod of the namespace
# (kubernetes.io/docs/concepts/security/pod-security-admission).
POD_SECURITY: Final = "restricted"
meta = kubernetes.meta.v1
core = kubernetes.core.v1


@dataclass(frozen=True)
class WorkloadArgs:
    """What one service's workload takes from the stack: the namespace, its image, its memory
    and CPU (the same keys the Docker layer limits the container with)."""

    namespace: pulumi.Input[str]
    environment: str
    image: str
    memory_mb: int
    cpu_millis: int

    @classmethod
    def of(cls, settings: Settings, service: Service,
           namespace: pulumi.Input[str]) -> WorkloadArgs:
        return cls(namespace=namespace, environment=settings.environment,
                   image=settings.images[service], memory_mb=settings.memory_mb[service],
                   cpu_millis=settings.cpu_millis[service])


def labels(service: Service) -> dict[str, str]:
    """A service's selector labels: stable, so a selector never changes under a workload."""
    return {NAME_LABEL: str(service), "app.kubernetes.io/part-of": PART_OF}


def metadata(name: str, args: WorkloadArgs, service: Service) -> meta.ObjectMetaArgs:
    """A named object (never auto-named, so its name is the same at every run), labelled with
    its service and the stack's `env`."""
    return meta.ObjectMetaArgs(name=name, namespace=args.namespace,
                               labels={**labels(service), "gatewayz.ai/env": args.environment})


def resources(args: WorkloadArgs) -> core.ResourceRequirementsArgs:
    """Requests equal to limits (Guaranteed QoS): what the Docker layer limits the container to
    is what the scheduler reserves, so a node never promises more than it has."""
    amounts = {"cpu": f"{args.cpu_millis}m", "memory": f"{args.memory_mb}Mi"}
    return core.ResourceRequirementsArgs(limits=amounts, requests=dict(amounts))


def probe(service: Service) -> core.ProbeArgs:
    """The service's own health check, the one its Docker healthcheck runs (services.py)."""
    facts = SERVICES[service]
    if facts.health_command is not None:
        return core.ProbeArgs(exec_=core.ExecActionArgs(command=list(facts.health_command)),
                              period_seconds=10, timeout_seconds=5, failure_threshold=3)
    return core.ProbeArgs(http_get=core.HTTPGetActionArgs(path=facts.health_path or "/",
                                                          port=facts.http_port),
                          period_seconds=10, timeout_seconds=5, failure_threshold=3)


def pod_security(service: Service) -> core.PodSecurityContextArgs:
    """The image's own user and group, as the Docker layer runs it; files of mounted volumes
    (secrets among them) belong to its group."""
    facts = SERVICES[service]
    return core.PodSecurityContextArgs(
        run_as_non_root=True, run_as_user=facts.user_id, run_as_group=facts.group_id,
        fs_group=facts.group_id,
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"))


def container_security(service: Service) -> core.SecurityContextArgs:
    """Pod Security `restricted`, and the Docker layer's read-only root and capabilities."""
    return core.SecurityContextArgs(
        allow_privilege_escalation=False, read_only_root_filesystem=True, run_as_non_root=True,
        capabilities=core.CapabilitiesArgs(drop=["ALL"],
                                           add=list(SERVICES[service].capabilities) or None))


class Namespace(pulumi.ComponentResource):
    """The stack's namespace, Pod Security `restricted` enforced, and a NetworkPolicy that
    denies every ingress in it: each service's own policy lets in what reaches it."""

    name: pulumi.Output[str]

    def __init__(self, name: str, namespace: str, protect: bool,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:kubernetes:Namespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Deleting a namespace deletes every volume claim in it: with `protectData`, as the
        # Docker layer's volumes, `pulumi destroy` refuses it and a replace never deletes it.
        created = core.Namespace(name, metadata=meta.ObjectMetaArgs(name=namespace, labels={
            "app.kubernetes.io/part-of": PART_OF,
            "pod-security.kubernetes.io/enforce": POD_SECURITY,
            "pod-security.kubernetes.io/warn": POD_SECURITY,
        }), opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
            protect=protect, retain_on_delete=protect)))
        self.name = created.metadata.name
        kubernetes.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=meta.ObjectMetaArgs(name="default-deny-ingress", namespace=self.name,
                                         labels={"app.kubernetes.io/part-of": PART_OF}),
            spec=kubernetes.networking.v1.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress"]),
            opts=child)
        self.register_outputs({"name": self.name})

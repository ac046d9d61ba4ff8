"""What every workload of the Kubernetes platform shares: its namespace (Pod Security
`restricted` enforced, ingress denied but for what each service's NetworkPolicy lets in), its
labels, the parts of a pod a service's row in services.py decides (user, probes, limits,
security context), and the way its files reach it (ConfigMaps and Secrets, mounted read-only
with the modes below)."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_kubernetes as kubernetes

from services import NAME_LABEL, SCRATCH_MB, SERVICES, Service, config_path, data_dir
from settings import Settings
from settings.keys import storage_key

PART_OF: Final = "gatewayz"
# Pod Security Admission's level, enforced by the API server on every pod of the namespace
# (kubernetes.io/docs/concepts/security/pod-security-admission).
POD_SECURITY: Final = "restricted"
# Where every pod resolves names: the cluster's DNS in kube-system (the one flow no diagram
# draws; tests/kubernetes derive the others from the policies and match them to the diagram's).
DNS_NAMESPACE: Final = "kube-system"
DNS_PORT: Final = 53
# Any address outside the cluster's pods: the backend, the Redis, the receivers, object storage.
ANYWHERE: Final = "0.0.0.0/0"
# A Secret's files are read by the service's user alone (their group is the pod's fsGroup, the
# image's own; the kubelet adds the group's read bit to what a mode grants, kubernetes/kubernetes
# pkg/volume/volume_linux.go, SetVolumeOwnership); a ConfigMap's hold no secret, and are
# world-readable.
SECRET_MODE: Final = 0o400
CONFIG_MODE: Final = 0o444
# The volume that holds a service's config files and the secrets beside them, mounted at its
# config file's directory (`config_mount`).
CONFIG_VOLUME: Final = "config"
# `secrets_volume`, mounted at the directory the service reads its secrets from.
SECRETS_VOLUME: Final = "secrets"
# On each pod template whose container reads files at start only: a changed file changes the
# template, so the pods restart with it.
CONFIG_CHECKSUM: Final = "gatewayz.ai/config-sha256"
meta = kubernetes.meta.v1
core = kubernetes.core.v1
networking = kubernetes.networking.v1
apps = kubernetes.apps.v1


@dataclass(frozen=True)
class WorkloadArgs:
    """What one service's workload takes from the stack: the namespace, its image, its memory
    and CPU (the same keys the Docker layer limits the container with)."""

    namespace: pulumi.Input[str]
    environment: str
    image: str
    memory_mb: int
    cpu_millis: int
    # The volume each pod claims where the service keeps data (bytes; None: it keeps none), of
    # `storage_class` (None: the cluster's default); kept when the workload goes, with
    # `protectData`.
    storage_bytes: int | None = None
    storage_class: str | None = None
    protect_data: bool = False

    @classmethod
    def of(cls, settings: Settings, service: Service,
           namespace: pulumi.Input[str]) -> WorkloadArgs:
        storage = settings.kubernetes.storage.get(service)
        return cls(namespace=namespace, environment=settings.environment,
                   image=settings.images[service], memory_mb=settings.memory_mb[service],
                   cpu_millis=settings.cpu_millis[service],
                   storage_bytes=None if storage is None else storage.bytes,
                   storage_class=settings.kubernetes.storage_class,
                   protect_data=settings.protect_data)


def labels(service: Service) -> dict[str, str]:
    """A service's selector labels: stable, so a selector never changes under a workload."""
    return {NAME_LABEL: str(service), "app.kubernetes.io/part-of": PART_OF}


def metadata(name: str, args: WorkloadArgs, service: Service) -> meta.ObjectMetaArgs:
    """A named object (never auto-named, so its name is the same at every run), labelled with
    its service and the stack's `env`."""
    return meta.ObjectMetaArgs(name=name, namespace=args.namespace,
                               labels={**labels(service), "gatewayz.ai/env": args.environment})


def service_port(name: str, port: int, protocol: str = "TCP") -> core.ServicePortArgs:
    return core.ServicePortArgs(name=name, port=port, target_port=port, protocol=protocol)


def expose(name: str, object_name: str, args: WorkloadArgs, service: Service, *,
            selector: Mapping[str, str], ports: Sequence[core.ServicePortArgs],
            opts: pulumi.ResourceOptions, headless: bool = False,
            ready_or_not: bool = False) -> core.Service:
    """A Service over the pods `selector` picks: a ClusterIP that balances over them, or
    `headless`, where each pod has its own name (a StatefulSet's governing Service, peers that
    find each other); `ready_or_not` lists pods before they are Ready, so peers find each
    other while their cluster forms."""
    return core.Service(name, metadata=metadata(object_name, args, service),
                        spec=core.ServiceSpecArgs(
                            type=None if headless else "ClusterIP",
                            cluster_ip="None" if headless else None,
                            publish_not_ready_addresses=True if ready_or_not else None,
                            selector=dict(selector), ports=list(ports)),
                        opts=opts)


def _by_name(files: Mapping[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
    # A ConfigMap's and a Secret's keys are file names: they cannot hold a `/`.
    return {posixpath.basename(path): value for path, value in sorted(files.items())}


def _items(files: Iterable[str], mode: int) -> list[core.KeyToPathArgs]:
    # Each file back at its path in the volume, with `mode`.
    return [core.KeyToPathArgs(key=posixpath.basename(path), path=path, mode=mode)
            for path in sorted(files)]


def _secret(name: str, args: WorkloadArgs, service: Service,
            files: Mapping[str, pulumi.Input[str]], opts: pulumi.ResourceOptions) -> core.Secret:
    # The values stay Pulumi secrets: the provider masks them in the state and every preview.
    return core.Secret(name, metadata=metadata(name, args, service), type="Opaque",
                       string_data=_by_name(files), opts=opts)


def config_source(name: str, args: WorkloadArgs, service: Service, files: Mapping[str, str],
                  opts: pulumi.ResourceOptions) -> core.VolumeProjectionArgs:
    """A ConfigMap `name` of `files` (each text by its path in the config volume), as one
    source of that volume (`config_volume`): world-readable, it holds no secret."""
    created = core.ConfigMap(name, metadata=metadata(name, args, service),
                             data=_by_name(files), opts=opts)
    return core.VolumeProjectionArgs(config_map=core.ConfigMapProjectionArgs(
        name=created.metadata.name, items=_items(files, CONFIG_MODE)))


def secret_source(name: str, args: WorkloadArgs, service: Service,
                  files: Mapping[str, pulumi.Input[str]],
                  opts: pulumi.ResourceOptions) -> core.VolumeProjectionArgs:
    """`config_source`'s twin for secret files: a Secret `name`, its files 0400."""
    created = _secret(name, args, service, files, opts)
    return core.VolumeProjectionArgs(secret=core.SecretProjectionArgs(
        name=created.metadata.name, items=_items(files, SECRET_MODE)))


def secrets_volume(name: str, args: WorkloadArgs, service: Service,
                   files: Mapping[str, pulumi.Input[str]],
                   opts: pulumi.ResourceOptions) -> core.VolumeArgs:
    """A Secret `name` of `files` (by their path under `secrets_mount`'s directory), as a
    volume of its own, its files 0400: for a service whose secrets do not sit beside a config
    file (Grafana's, redis_exporter's)."""
    created = _secret(name, args, service, files, opts)
    return core.VolumeArgs(name=SECRETS_VOLUME, secret=core.SecretVolumeSourceArgs(
        secret_name=created.metadata.name, items=_items(files, SECRET_MODE)))


def secrets_mount(directory: str) -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=SECRETS_VOLUME, mount_path=directory, read_only=True)


def config_dir(service: Service) -> str:
    """Where the config volume is mounted: the config file's directory, which holds the
    secrets' directory too, so no mount lands inside another (a read-only volume cannot take a
    mount point)."""
    return posixpath.dirname(config_path(service))


def config_file(service: Service) -> str:
    """The config file's path in the config volume."""
    return posixpath.basename(config_path(service))


def config_volume(sources: Sequence[core.VolumeProjectionArgs]) -> core.VolumeArgs:
    return core.VolumeArgs(name=CONFIG_VOLUME,
                           projected=core.ProjectedVolumeSourceArgs(sources=list(sources)))


def config_mount(service: Service) -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=CONFIG_VOLUME, mount_path=config_dir(service),
                                read_only=True)


def resources(args: WorkloadArgs) -> core.ResourceRequirementsArgs:
    """Requests equal to limits (Guaranteed QoS): what the Docker layer limits the container to
    is what the scheduler reserves, so a node never promises more than it has."""
    amounts = {"cpu": f"{args.cpu_millis}m", "memory": f"{args.memory_mb}Mi"}
    return core.ResourceRequirementsArgs(limits=amounts, requests=dict(amounts))


def probe(service: Service, failure_threshold: int = 3) -> core.ProbeArgs:
    """The service's own health check, the one its Docker healthcheck runs (services.py),
    every 10s; `failure_threshold` failures in a row fail it."""
    facts = SERVICES[service]
    if facts.health_command is not None:
        return core.ProbeArgs(exec_=core.ExecActionArgs(command=list(facts.health_command)),
                              period_seconds=10, timeout_seconds=5,
                              failure_threshold=failure_threshold)
    return core.ProbeArgs(http_get=core.HTTPGetActionArgs(path=facts.health_path or "/",
                                                          port=facts.http_port),
                          period_seconds=10, timeout_seconds=5,
                          failure_threshold=failure_threshold)


def startup_probe(service: Service) -> core.ProbeArgs:
    """The same check, given the service's start period (the Docker healthcheck's, services.py:
    Loki and Tempo replay their WAL) before the liveness probe may restart it."""
    check = probe(service)
    period = check.period_seconds
    assert isinstance(period, int)
    seconds = int(SERVICES[service].start_period.removesuffix("s"))
    return core.ProbeArgs(exec_=check.exec_, http_get=check.http_get, period_seconds=period,
                          timeout_seconds=check.timeout_seconds,
                          failure_threshold=-(-seconds // period))


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


DATA_VOLUME: Final = "data"


def data_claim(args: WorkloadArgs, service: Service) -> core.PersistentVolumeClaimArgs:
    """The volume claim template of a StatefulSet whose pods keep data: one claim per pod,
    named `data-<pod>`, of the size `<service>StorageSize` sets, mounted at its data dir
    (`data_mount`)."""
    assert args.storage_bytes is not None, f"{storage_key(service)} sizes no volume"
    return core.PersistentVolumeClaimArgs(
        metadata=meta.ObjectMetaArgs(name=DATA_VOLUME, labels=labels(service)),
        spec=core.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"], storage_class_name=args.storage_class,
            resources=core.VolumeResourceRequirementsArgs(
                requests={"storage": str(args.storage_bytes)})))


def data_mount(service: Service) -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=DATA_VOLUME, mount_path=data_dir(service))


def scratch(service: Service) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """The volumes and mounts of a service's scratch dirs (the root filesystem is read-only):
    in memory and as small as the Docker layer's tmpfs, so a runaway temp file ends in the
    pod's memory limit, not on the node's disk."""
    named = [(f"scratch-{index}", path)
             for index, path in enumerate(SERVICES[service].scratch_dirs)]
    return ([core.VolumeArgs(name=name, empty_dir=core.EmptyDirVolumeSourceArgs(
                medium="Memory", size_limit=f"{SCRATCH_MB}Mi")) for name, _ in named],
            [core.VolumeMountArgs(name=name, mount_path=path) for name, path in named])


def claim_retention(args: WorkloadArgs) -> apps.StatefulSetPersistentVolumeClaimRetentionPolicyArgs:
    """What happens to the claims when the StatefulSet goes or scales down: kept with
    `protectData` (as the Docker layer's volumes are), deleted otherwise (GA in 1.32)."""
    policy = "Retain" if args.protect_data else "Delete"
    return apps.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
        when_deleted=policy, when_scaled=policy)


def container(service: Service, args: WorkloadArgs, *,
              ports: Sequence[core.ContainerPortArgs],
              mounts: Sequence[core.VolumeMountArgs] = (), command: Sequence[str] | None = None,
              env: Sequence[core.EnvVarArgs] = (),
              startup: core.ProbeArgs | None = None) -> core.ContainerArgs:
    """The service's container: its image, its health check as liveness and readiness probe
    (`startup` before them where it needs time to start), its limits and security context."""
    return core.ContainerArgs(
        name=str(service), image=args.image,
        args=None if command is None else list(command), env=list(env) or None,
        ports=list(ports), startup_probe=startup, liveness_probe=probe(service),
        readiness_probe=probe(service), resources=resources(args),
        security_context=container_security(service), volume_mounts=list(mounts) or None)


def pod_template(service: Service, container: core.ContainerArgs,
                 volumes: Sequence[core.VolumeArgs] = (), *,
                 selector: Mapping[str, str] | None = None, config: Sequence[str] = (),
                 spread_pods: bool = False, service_account: pulumi.Input[str] | None = None,
                 grace_seconds: int | None = None) -> core.PodTemplateSpecArgs:
    """A pod of the service, labelled `selector` (default its labels), that runs `container`
    as the service's user. `config`: the texts of the files it reads at start only, whose
    checksum (CONFIG_CHECKSUM) restarts the pods when one changes. `spread_pods` over the
    nodes, for a set of replicas. Only a pod with a `service_account` mounts a token (the API
    is no business of the others)."""
    chosen = dict(selector or labels(service))
    checksum = hashlib.sha256("\n".join(config).encode()).hexdigest() if config else None
    return core.PodTemplateSpecArgs(
        metadata=meta.ObjectMetaArgs(
            labels=chosen, annotations=None if checksum is None else {CONFIG_CHECKSUM: checksum}),
        spec=core.PodSpecArgs(
            service_account_name=service_account,
            automount_service_account_token=service_account is not None,
            security_context=pod_security(service),
            termination_grace_period_seconds=grace_seconds,
            containers=[container],
            topology_spread_constraints=spread(chosen) if spread_pods else None,
            volumes=list(volumes) or None))


def stateful_set(name: str, object_name: str, args: WorkloadArgs, service: Service, *,
                 replicas: int, governing: core.Service, template: core.PodTemplateSpecArgs,
                 opts: pulumi.ResourceOptions, selector: Mapping[str, str] | None = None,
                 parallel: bool = False) -> apps.StatefulSet:
    """`replicas` pods of `template`, named under the headless Service `governing`, each with
    its own data claim (`data_claim`), kept or deleted with the set (`claim_retention`).
    `parallel`: the pods start at once, none waiting for the one before it to be Ready, as
    peers must that form one cluster (updates still roll one pod at a time)."""
    return apps.StatefulSet(
        name, metadata=metadata(object_name, args, service),
        spec=apps.StatefulSetSpecArgs(
            replicas=replicas, service_name=governing.metadata.name,
            pod_management_policy="Parallel" if parallel else None,
            selector=meta.LabelSelectorArgs(match_labels=dict(selector or labels(service))),
            template=template, volume_claim_templates=[data_claim(args, service)],
            persistent_volume_claim_retention_policy=claim_retention(args)),
        opts=opts)


@dataclass(frozen=True)
class Allow:
    """One rule of a service's NetworkPolicy: traffic to or from `peers` (services of the stack,
    matched by NAME_LABEL; empty: any address, `ANYWHERE`) on `ports` ((port, protocol)).
    `any_pod`: any address, and also every pod of every namespace, which an ipBlock does not
    match on every network plugin (NetworkPolicy leaves ipBlock's match of pod IPs to the
    implementation, kubernetes.io/docs "Network Policies"; Cilium applies CIDR rules only to
    addresses outside the cluster, docs.cilium.io "Layer 3 Examples")."""

    peers: tuple[Service, ...]
    ports: tuple[tuple[int, str], ...]
    any_pod: bool = False


def _peers(allow: Allow) -> list[networking.NetworkPolicyPeerArgs]:
    if not allow.peers:
        pods = [networking.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs())] \
            if allow.any_pod else []
        return [networking.NetworkPolicyPeerArgs(
            ip_block=networking.IPBlockArgs(cidr=ANYWHERE)), *pods]
    return [networking.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(
        match_labels={NAME_LABEL: str(peer)})) for peer in allow.peers]


def _ports(allow: Allow) -> list[networking.NetworkPolicyPortArgs]:
    return [networking.NetworkPolicyPortArgs(port=port, protocol=protocol)
            for port, protocol in allow.ports]


def spread(selector: Mapping[str, str]) -> list[core.TopologySpreadConstraintArgs]:
    """The pods `selector` picks spread over nodes where there are several; one node still
    runs them all."""
    return [core.TopologySpreadConstraintArgs(
        max_skew=1, topology_key="kubernetes.io/hostname", when_unsatisfiable="ScheduleAnyway",
        label_selector=meta.LabelSelectorArgs(match_labels=dict(selector)))]


def disruption_budget(name: str, object_name: str, args: WorkloadArgs, service: Service, *,
                      selector: Mapping[str, str],
                      opts: pulumi.ResourceOptions) -> kubernetes.policy.v1.PodDisruptionBudget:
    """At most one of the pods `selector` picks down at a time by a drain: for a set of
    replicas, where the others carry on meanwhile (none for a single pod: it would allow every
    eviction, or with `minAvailable` block every drain)."""
    return kubernetes.policy.v1.PodDisruptionBudget(
        name, metadata=metadata(object_name, args, service),
        spec=kubernetes.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1, selector=meta.LabelSelectorArgs(match_labels=dict(selector))),
        opts=opts)


def network_policy(name: str, args: WorkloadArgs, service: Service, *,
                   ingress: Sequence[Allow], egress: Sequence[Allow],
                   opts: pulumi.ResourceOptions,
                   selector: dict[str, str] | None = None) -> networking.NetworkPolicy:
    """What may reach the service's pods (`selector`, default its labels) and what they may
    reach, on top of the namespace's default deny both ways; every pod may also ask the
    cluster's DNS."""
    dns = networking.NetworkPolicyEgressRuleArgs(
        to=[networking.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs(
            match_labels={"kubernetes.io/metadata.name": DNS_NAMESPACE}))],
        ports=[networking.NetworkPolicyPortArgs(port=DNS_PORT, protocol=protocol)
               for protocol in ("UDP", "TCP")])
    return networking.NetworkPolicy(
        name, metadata=metadata(name, args, service),
        spec=networking.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=selector or labels(service)),
            policy_types=["Ingress", "Egress"],
            ingress=[networking.NetworkPolicyIngressRuleArgs(from_=_peers(rule),
                                                             ports=_ports(rule))
                     for rule in ingress],
            egress=[dns, *(networking.NetworkPolicyEgressRuleArgs(to=_peers(rule),
                                                                  ports=_ports(rule))
                           for rule in egress)]),
        opts=opts)


class Namespace(pulumi.ComponentResource):
    """The stack's namespace, Pod Security `restricted` enforced, and a NetworkPolicy that
    denies all traffic in it, both ways: each service's own policy (`network_policy`) lets in
    what reaches it and out what it reaches."""

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
            metadata=meta.ObjectMetaArgs(name="default-deny", namespace=self.name,
                                         labels={"app.kubernetes.io/part-of": PART_OF}),
            spec=kubernetes.networking.v1.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]),
            opts=child)
        self.register_outputs({"name": self.name})

"""Local images of the pinned releases, and stand-ins for Loki, Tempo and Grafana.

`make images` (`python -m toolchain.images`) builds, through the Docker SDK, from the binaries
`make tools` built:
  gatewayz-local/busybox:<busybox-static version>   the base: Debian's static busybox, CA certs,
                                                    root and nobody; the official images' base
                                                    is quay.io/prometheus/busybox (or alpine)
  gatewayz-local/<service>:<release tag>            each following its module's own Dockerfile
                                                    (user, paths, entrypoint, command, volume,
                                                    exposed port); only the base differs
  gatewayz-local/<service>-standin:<release tag>    Loki, Tempo, Grafana: AGPL, so neither built
                                                    nor pulled here. NOT the service: a shell
                                                    script on the base with the real image's
                                                    user, entrypoint, ports, data dir and health
                                                    command, labelled org.gatewayz.standin=true
An image is rebuilt only when its recipe (Dockerfile, binaries' build stamp, base) changed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import posixpath
import subprocess
import sys
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import docker
from docker.errors import BuildError as DockerBuildError
from docker.errors import DockerException, ImageNotFound

from services import SERVICES, Service, config_path
from settings import DEFAULT_IMAGES
from settings.keys import LOCAL_REPOSITORY, STANDIN_SUFFIX
from toolchain.cache import BuildError, Progress, last_of
from toolchain.dockerd import EngineError, engine
from toolchain.releases import RELEASE_OF_BINARY, RELEASES, GoRelease, ensure, release_dir

# The settings accept images of these repositories for their service (settings/keys.py).
REPOSITORY: Final = LOCAL_REPOSITORY
RECIPE_LABEL: Final = "io.gatewayz.recipe"
BUSYBOX: Final = Path("/bin/busybox")
CA_CERTIFICATES: Final = Path("/etc/ssl/certs/ca-certificates.crt")

# The official busybox bases carry root and nobody (65534), which the Prometheus images run as.
_PASSWD: Final = ("root:x:0:0:root:/root:/bin/sh\n"
                  "nobody:x:65534:65534:nobody:/home:/bin/false\n")
_GROUP: Final = "root:x:0:\nnobody:x:65534:\n"
BASE_DOCKERFILE: Final = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY passwd /etc/passwd
COPY group /etc/group
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN mkdir -p /tmp /home && chmod 1777 /tmp
"""

_PROM: Final = SERVICES[Service.PROMETHEUS]
_AM: Final = SERVICES[Service.ALERTMANAGER]
_EXPORTER: Final = SERVICES[Service.REDIS_EXPORTER]
_PROM_ETC: Final = posixpath.dirname(config_path(Service.PROMETHEUS))
_AM_ETC: Final = posixpath.dirname(config_path(Service.ALERTMANAGER))
# Each follows its release's own Dockerfile, with the base as an argument; paths, port and user
# are the services table's, which holds them as those Dockerfiles set them.
# prometheus/prometheus v3.14.0 `Dockerfile`.
_PROMETHEUS: Final = f"""\
ARG BASE
FROM ${{BASE}}
COPY prometheus /bin/prometheus
COPY promtool /bin/promtool
COPY prometheus.yml {config_path(Service.PROMETHEUS)}
COPY LICENSE /LICENSE
COPY NOTICE /NOTICE
WORKDIR {_PROM.data_dir}
RUN chown -R nobody:nobody {_PROM_ETC} {_PROM.data_dir} && chmod g+w {_PROM.data_dir}
USER nobody
EXPOSE {_PROM.http_port}
VOLUME [ "{_PROM.data_dir}" ]
ENTRYPOINT [ "/bin/prometheus" ]
CMD [ "--config.file={config_path(Service.PROMETHEUS)}", "--storage.tsdb.path={_PROM.data_dir}" ]
"""
# prometheus/alertmanager v0.34.0 `Dockerfile`.
_ALERTMANAGER: Final = f"""\
ARG BASE
FROM ${{BASE}}
COPY amtool /bin/amtool
COPY alertmanager /bin/alertmanager
COPY alertmanager.yml {config_path(Service.ALERTMANAGER)}
RUN mkdir -p {_AM.data_dir} && chown -R nobody:nobody {_AM_ETC} {_AM.data_dir} \
    && chmod -R g+w {_AM.data_dir}
USER nobody
EXPOSE {_AM.http_port}
VOLUME [ "{_AM.data_dir}" ]
WORKDIR {_AM.data_dir}
ENTRYPOINT [ "/bin/alertmanager" ]
CMD [ "--config.file={config_path(Service.ALERTMANAGER)}", "--storage.path={_AM.data_dir}" ]
"""
# oliver006/redis_exporter v1.88.0 `Dockerfile`, its `alpine` release stage (the stack pins the
# -alpine image: its busybox `wget` is the healthcheck); CA certs come with the base.
_REDIS_EXPORTER: Final = f"""\
ARG BASE
FROM ${{BASE}}
COPY redis_exporter /redis_exporter
USER {_EXPORTER.user_id}:{_EXPORTER.user_id}
EXPOSE {_EXPORTER.http_port}
ENTRYPOINT [ "/redis_exporter" ]
"""
# The pod sandbox (containerd's CRI `sandbox_image`) of the tests' Kubernetes node
# (tests/support/kubernetes_node.py), in place of registry.k8s.io/pause, pulled from nowhere: a
# process that holds the pod's namespaces and never exits. No signal handling needed: containerd
# stops a sandbox with SIGKILL (containerd v1.7.29 pkg/cri/server/sandbox_stop.go).
_SANDBOX: Final = """\
ARG BASE
FROM ${BASE}
USER 65534:65534
ENTRYPOINT [ "/bin/sleep", "2147483647" ]
"""
DOCKERFILES: Final[Mapping[Service, str]] = {
    Service.PROMETHEUS: _PROMETHEUS,
    Service.ALERTMANAGER: _ALERTMANAGER,
    Service.REDIS_EXPORTER: _REDIS_EXPORTER,
}


class ImageError(RuntimeError):
    pass


@dataclass(frozen=True)
class LocalImage:
    tag: str
    built: bool
    seconds: float


def image_tag(release: GoRelease) -> str:
    """`gatewayz-local/<service>:<tag of the stack's default image, without its variant>`."""
    return f"{REPOSITORY}/{release.service.value}:{release.tag}"


def busybox_version() -> str:
    """Debian's package version of busybox-static, as an image tag."""
    result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "busybox-static"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0 or not BUSYBOX.is_file():
        raise ImageError("busybox-static is not installed (Debian: apt-get install "
                         "busybox-static); it is the local images' base")
    # A tag takes [A-Za-z0-9_.-]: `1:1.35.0-4+deb12u1+b1` -> `1.35.0-4-deb12u1-b1`.
    return result.stdout.strip().rpartition(":")[2].replace("+", "-")


# The stand-ins' scripts are executables too.
_EXECUTABLES: Final = frozenset({"busybox", "entrypoint", "serve", *RELEASE_OF_BINARY})


def _context(dockerfile: str, files: Mapping[str, Path | str]) -> tuple[io.BytesIO, str]:
    """A build context as a tar, and the recipe hash of everything in it."""
    digest = hashlib.sha256(dockerfile.encode())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, source in sorted({"Dockerfile": dockerfile, **files}.items()):
            data = source.encode() if isinstance(source, str) else source.read_bytes()
            if name != "Dockerfile":
                digest.update(name.encode() + hashlib.sha256(data).digest())
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name in _EXECUTABLES else 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer, digest.hexdigest()


def _build(client: docker.DockerClient, tag: str, dockerfile: str,
           files: Mapping[str, Path | str], buildargs: Mapping[str, str] | None = None,
           *, progress: Progress | None = None) -> LocalImage:
    progress = progress or Progress(report=False)
    started = time.monotonic()
    context, recipe = _context(dockerfile, files)
    try:
        found = client.images.get(tag)
        if found.labels.get(RECIPE_LABEL) == recipe:
            progress.cached(tag, f"the Docker engine as {found.short_id} (its recipe unchanged)")
            return LocalImage(tag, built=False, seconds=time.monotonic() - started)
    except ImageNotFound:
        pass
    with progress.building(tag, "docker build") as went:
        try:
            client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True,
                                forcerm=True, pull=False, buildargs=dict(buildargs or {}),
                                labels={RECIPE_LABEL: recipe})
        except DockerBuildError as error:
            log = "".join(str(line.get("stream", line.get("error", "")))
                          for line in error.build_log)
            raise ImageError(f"{tag}: docker build failed: {error.msg}\n{last_of(log)}") \
                from error
        went(f"image {client.images.get(tag).short_id}")
    return LocalImage(tag, built=True, seconds=time.monotonic() - started)


def _service_files(release: GoRelease) -> dict[str, Path | str]:
    directory = release_dir(release)
    return {name: directory / name
            for name in (*release.binaries, *(release.image_files or {}).values())}


# --- stand-ins --------------------------------------------------------------------------------
# What a later tier's real `pulumi up` needs of an image: the container the program registers
# starts (its command as arguments to the image's entrypoint, its env), runs as the service's
# user, writes its data dir (a new named volume copies the image's directory, owner and mode
# included), listens on every port the stack wires, and passes the healthcheck the program sets.
# Nothing else of the service is there: the uploaded configs are only checked to be readable.

STANDIN_LABEL: Final = "org.gatewayz.standin"
STANDIN_OF_LABEL: Final = "org.gatewayz.standin.of"
DESCRIPTION_LABEL: Final = "org.opencontainers.image.description"
STANDIN_DIR: Final = "/usr/share/gatewayz-standin"
STANDIN_METRIC: Final = "gatewayz_standin_info"
# Seconds a connection may take to send its request line and headers.
_REQUEST_SECONDS: Final = 5


@dataclass(frozen=True)
class StandIn:
    service: Service
    # What the real image runs: the stand-in script sits there, so the program's command (its
    # arguments) and healthcheck reach it unchanged.
    entrypoint: str
    # The real image's gid, if not its uid's own group (the uid is services.py's).
    gid: int | None = None

    @property
    def user(self) -> str:
        uid = SERVICES[self.service].user_id
        return f"{uid}:{uid if self.gid is None else self.gid}"

    @property
    def health_path(self) -> str:
        """What the program's healthcheck asks for on the HTTP port: Grafana's wget its path,
        Loki's and Tempo's `-health` their /ready."""
        return SERVICES[self.service].health_path or "/ready"


STANDINS: Final[Mapping[Service, StandIn]] = {standin.service: standin for standin in (
    # Entrypoint, gid and the data dir's owner as each image's own Dockerfile sets them (the uid
    # and data dir are services.py's): grafana/loki cmd/loki/Dockerfile,
    StandIn(Service.LOKI, "/usr/bin/loki"),
    # grafana/tempo cmd/tempo/Dockerfile,
    StandIn(Service.TEMPO, "/tempo"),
    # grafana/grafana Dockerfile (its user in the root group), whose packaging/docker/run.sh
    # reads every GF_*__FILE into the variable without the suffix.
    StandIn(Service.GRAFANA, "/run.sh", gid=0),
)}


def standin_tag(service: Service) -> str:
    """`gatewayz-local/<service>-standin:<tag of the stack's default image>`."""
    tag = DEFAULT_IMAGES[service].rpartition(":")[2]
    return f"{REPOSITORY}/{service.value}{STANDIN_SUFFIX}:{tag}"


def standin_images() -> Mapping[Service, str]:
    """The stand-in image of each service no image can be built of here, by service."""
    return {service: standin_tag(service) for service in STANDINS}


def local_images() -> dict[Service, str]:
    """The image of each service that `build_images` makes: the pinned releases' local builds,
    and the labelled stand-ins of the others."""
    return {**{release.service: image_tag(release) for release in RELEASES}, **standin_images()}


def _health_answer(standin: StandIn) -> tuple[str, str]:
    """Content type and body of the health endpoint."""
    if standin.service is Service.GRAFANA:
        # The keys Grafana's /api/health answers with (grafana/grafana pkg/api/health.go).
        return "application/json", '{"commit":"standin","database":"ok","version":"standin"}'
    return "text/plain; charset=utf-8", "ready"


def _serve_script(standin: StandIn) -> str:
    """One HTTP exchange on stdin/stdout (busybox `nc -ll -e` runs it per connection)."""
    service = standin.service.value
    health_type, health_body = _health_answer(standin)
    return rf"""#!/bin/sh
# STAND-IN for {service}, not {service}: answers {standin.health_path}, /metrics, 404 elsewhere.
cr=$(printf '\r')
read -r -t {_REQUEST_SECONDS} method target _ || exit 0
length=0
while read -r -t {_REQUEST_SECONDS} line; do
    line=${{line%"$cr"}}
    [ -z "$line" ] && break
    case "$line" in
        [Cc]ontent-[Ll]ength:*) length=${{line#*:}}; length=${{length# }} ;;
    esac
done
# A request's body is read, so closing the socket does not reset it before the answer arrives.
[ "$length" -gt 0 ] 2>/dev/null && head -c "$length" >/dev/null
status="200 OK"
type="text/plain; charset=utf-8"
case "${{target%%\?*}}" in
    {standin.health_path}) type="{health_type}"; body='{health_body}' ;;
    /metrics) type="text/plain; version=0.0.4; charset=utf-8"
        body='# HELP {STANDIN_METRIC} A stand-in image, not the service, answers here.
# TYPE {STANDIN_METRIC} gauge
{STANDIN_METRIC}{{service="{service}"}} 1' ;;
    *) status="404 Not Found"; body="stand-in for {service}: no $target" ;;
esac
body="$body
"
printf 'HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
    "$status" "$type" "${{#body}}"
[ "$method" = HEAD ] || printf '%s' "$body"
"""


def _entrypoint_script(standin: StandIn) -> str:
    """The image's entrypoint: `-health` checks /ready as the real binary does; otherwise it
    checks what the real service would refuse to start without, then listens."""
    facts = SERVICES[standin.service]
    service = standin.service.value
    ports = " ".join(str(port) for port in facts.listens.values())
    return rf"""#!/bin/sh
# STAND-IN for {service}, not {service} (AGPL: no image of it is built or pulled here).
fail() {{ echo "{service} stand-in: $*" >&2; exit 1; }}
if [ "${{1:-}}" = -health ]; then
    exec wget -q -O /dev/null "http://127.0.0.1:{facts.http_port}{standin.health_path}"
fi
for arg in "$@"; do
    case "$arg" in
        -config.file=*) [ -r "${{arg#*=}}" ] || fail "cannot read ${{arg#*=}}" ;;
    esac
done
# As Grafana's run.sh, each GF_*__FILE must be readable by the image's user.
for name in $(env | sed -n 's/^\(GF_[A-Za-z0-9_]*__FILE\)=.*/\1/p'); do
    eval "file=\$$name"
    [ -r "$file" ] || fail "$name: cannot read $file"
done
touch "{facts.data_dir}/.standin" || fail "cannot write {facts.data_dir}"
pids=
for port in {ports}; do
    nc -ll -p "$port" -e {STANDIN_DIR}/serve &
    pids="$pids $!"
done
trap 'kill $pids 2>/dev/null; exit 0' TERM INT
echo "{service} stand-in (not {service}) listening on {ports}"
wait
"""


def _standin_dockerfile(standin: StandIn) -> str:
    facts = SERVICES[standin.service]
    user = standin.user
    ports = " ".join(str(port) for port in facts.listens.values())
    of = DEFAULT_IMAGES[standin.service]
    description = (f"STAND-IN for {of}, not {standin.service.value}: answers its health "
                   "check and listens on its ports, nothing more")
    return f"""ARG BASE
FROM ${{BASE}}
COPY entrypoint {standin.entrypoint}
COPY serve {STANDIN_DIR}/serve
RUN mkdir -p {facts.data_dir} && chown -R {user} {facts.data_dir} && chmod 0750 {facts.data_dir}
LABEL {STANDIN_LABEL}="true" {STANDIN_OF_LABEL}="{of}" {DESCRIPTION_LABEL}="{description}"
USER {user}
EXPOSE {ports}
VOLUME [ "{facts.data_dir}" ]
WORKDIR {facts.data_dir}
ENTRYPOINT [ "{standin.entrypoint}" ]
"""


def _build_standins(client: docker.DockerClient, base: LocalImage,
                    progress: Progress | None = None) -> list[LocalImage]:
    base_id = client.images.get(base.tag).id
    return [_build(client, standin_tag(service), f"# base {base_id}\n{_standin_dockerfile(s)}",
                   {"entrypoint": _entrypoint_script(s), "serve": _serve_script(s)},
                   {"BASE": base.tag}, progress=progress)
            for service, s in STANDINS.items()]


def _base(client: docker.DockerClient, progress: Progress | None = None) -> LocalImage:
    return _build(client, f"{REPOSITORY}/busybox:{busybox_version()}", BASE_DOCKERFILE, {
        "busybox": BUSYBOX, "passwd": _PASSWD, "group": _GROUP,
        "ca-certificates.crt": CA_CERTIFICATES}, progress=progress)


def build_images(client: docker.DockerClient, report: bool = False) -> list[LocalImage]:
    """The base, then one image per built release, then the stand-ins; each only if its recipe
    changed. With `report`, a line per image as `make tools` prints per build."""
    progress = Progress(1 + len(RELEASES) + len(STANDINS), report=report)
    base = _base(client, progress)
    # The base's id goes into each recipe, so a rebuilt base rebuilds the services.
    base_id = client.images.get(base.tag).id
    images = [base]
    for release in RELEASES:
        dockerfile = f"# base {base_id}\n{DOCKERFILES[release.service]}"
        images.append(_build(client, image_tag(release), dockerfile,
                             _service_files(release), {"BASE": base.tag}, progress=progress))
    images += _build_standins(client, base, progress)
    progress.say(progress.summary("local images"))
    return images


def sandbox_image(client: docker.DockerClient) -> str:
    """`gatewayz-local/sandbox:<busybox version>`, built on the base if its recipe changed."""
    base = _base(client)
    base_id = client.images.get(base.tag).id
    return _build(client, f"{REPOSITORY}/sandbox:{busybox_version()}",
                  f"# base {base_id}\n{_SANDBOX}", {}, {"BASE": base.tag}).tag


def build_standins(client: docker.DockerClient) -> list[LocalImage]:
    """The base and the stand-ins alone: they need no Go release built."""
    base = _base(client)
    return [base, *_build_standins(client, base)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    try:
        ensure(report=False)
        with engine() as docker_engine:
            print(f"Docker engine: {docker_engine.base_url}"
                  + (" (started for this run)" if docker_engine.started else ""), flush=True)
            build_images(docker_engine.client, report=True)
    except (BuildError, EngineError, ImageError, DockerException, OSError) as error:
        print(f"FAIL make images: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

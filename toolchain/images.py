"""Local images of the pinned Prometheus, Alertmanager and redis_exporter releases.

`make images` (`python -m toolchain.images`) builds, through the Docker SDK, from the binaries
`make tools` built:
  gatewayz-local/busybox:<busybox-static version>   the base: Debian's static busybox, CA certs,
                                                    root and nobody; the official images' base
                                                    is quay.io/prometheus/busybox (or alpine)
  gatewayz-local/<service>:<release tag>            each following its module's own Dockerfile
                                                    (user, paths, entrypoint, command, volume,
                                                    exposed port); only the base differs
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
from toolchain.dockerd import EngineError, engine
from toolchain.releases import (
    RELEASE_OF_BINARY,
    RELEASES,
    BuildError,
    GoRelease,
    ensure,
    release_dir,
)

REPOSITORY: Final = "gatewayz-local"
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


_EXECUTABLES: Final = frozenset({"busybox", *RELEASE_OF_BINARY})


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
            info.mode = 0o755 if isinstance(source, Path) and name in _EXECUTABLES else 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer, digest.hexdigest()


def _build(client: docker.DockerClient, tag: str, dockerfile: str,
           files: Mapping[str, Path | str], buildargs: Mapping[str, str] | None = None
           ) -> LocalImage:
    started = time.monotonic()
    context, recipe = _context(dockerfile, files)
    try:
        if client.images.get(tag).labels.get(RECIPE_LABEL) == recipe:
            return LocalImage(tag, built=False, seconds=time.monotonic() - started)
    except ImageNotFound:
        pass
    try:
        client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True,
                            forcerm=True, pull=False, buildargs=dict(buildargs or {}),
                            labels={RECIPE_LABEL: recipe})
    except DockerBuildError as error:
        log = "".join(str(line.get("stream", line.get("error", ""))) for line in error.build_log)
        raise ImageError(f"{tag}: docker build failed: {error.msg}\n{log[-2000:]}") from error
    return LocalImage(tag, built=True, seconds=time.monotonic() - started)


def _service_files(release: GoRelease) -> dict[str, Path | str]:
    directory = release_dir(release)
    return {name: directory / name
            for name in (*release.binaries, *(release.image_files or {}).values())}


def build_images(client: docker.DockerClient) -> list[LocalImage]:
    """The base, then one image per built release; each only if its recipe changed."""
    base = _build(client, f"{REPOSITORY}/busybox:{busybox_version()}", BASE_DOCKERFILE, {
        "busybox": BUSYBOX, "passwd": _PASSWD, "group": _GROUP,
        "ca-certificates.crt": CA_CERTIFICATES})
    # The base's id goes into each recipe, so a rebuilt base rebuilds the services.
    base_id = client.images.get(base.tag).id
    images = [base]
    for release in RELEASES:
        dockerfile = f"# base {base_id}\n{DOCKERFILES[release.service]}"
        images.append(_build(client, image_tag(release), dockerfile,
                             _service_files(release), {"BASE": base.tag}))
    return images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    try:
        ensure(report=False)
        with engine() as docker_engine:
            for image in build_images(docker_engine.client):
                state = "built" if image.built else "cached"
                print(f"{state:6} {image.tag} in {image.seconds:.1f}s")
    except (BuildError, EngineError, ImageError, DockerException, OSError) as error:
        print(f"FAIL make images: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""redis_exporter: turns the configured Redis' INFO into metrics; stateless, not published."""

from dataclasses import dataclass

import pulumi

from components.service import ContainerArgs, ContainerSpec, Upload, service_container
from configs.redis_exporter import PASSWORD_FILE, password_file, redis_exporter_env
from services import Service, internal_url, on_docker_host
from settings import Redis
from settings.pulumi_config import reveal


@dataclass(frozen=True)
class RedisExporterArgs:
    container: ContainerArgs
    redis: Redis


class RedisExporter(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: RedisExporterArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:RedisExporter", name, None, opts)
        redis = args.redis
        uploads = []
        if redis.password is not None:
            uploads.append(Upload(
                PASSWORD_FILE,
                reveal(redis.password).apply(lambda password: password_file(redis, password)),
                secret=True))
        self.container = service_container(self, name, args.container, ContainerSpec(
            service=Service.REDIS_EXPORTER,
            env=redis_exporter_env(redis),
            uploads=uploads,
            reaches_docker_host=on_docker_host(redis.address),
        )).container
        # Scraped over the stack network only: nothing to publish.
        self.url = pulumi.Output.from_input(internal_url(Service.REDIS_EXPORTER))
        self.register_outputs({"url": self.url})

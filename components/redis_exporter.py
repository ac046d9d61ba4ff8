"""redis_exporter: turns the configured Redis' INFO into metrics; stateless, not published."""

from dataclasses import dataclass

import pulumi

from components.service import ContainerSpec, StackArgs, Upload, service_container
from configs.endpoints import internal_url
from configs.redis_exporter import PASSWORD_FILE, password_file, redis_exporter_env
from settings import Redis, RedisAuth, Service

# oliver006/redis_exporter images run as 59000 (docker/Dockerfile).
REDIS_EXPORTER_UID = 59000


@dataclass(frozen=True)
class RedisExporterArgs:
    stack: StackArgs
    redis: Redis
    redis_password: pulumi.Input[str] | None


class RedisExporter(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: RedisExporterArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gatewayz:observability:RedisExporter", name, None, opts)
        redis = args.redis
        uploads = []
        if redis.auth is RedisAuth.PASSWORD:
            assert args.redis_password is not None  # guaranteed by settings validation
            uploads.append(Upload(
                PASSWORD_FILE,
                pulumi.Output.from_input(args.redis_password).apply(
                    lambda password: password_file(redis, password)),
                secret=True))
        self.container = service_container(self, name, args.stack, ContainerSpec(
            service=Service.REDIS_EXPORTER,
            user_id=REDIS_EXPORTER_UID,
            # The -alpine image has busybox wget; the plain one has no shell at all.
            healthcheck=["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:9121/health"],
            env=redis_exporter_env(redis),
            uploads=uploads,
        )).container
        # Scraped over the stack network only: nothing to publish.
        self.url = pulumi.Output.from_input(internal_url(Service.REDIS_EXPORTER))
        self.register_outputs({"url": self.url})

"""redis_exporter's environment and its password file.

`REDIS_PASSWORD_FILE` is a JSON map from Redis address to password (redis_exporter
`exporter/pwd_file.go`), so the password never sits in the container's environment.
"""

import json
from typing import Final

from settings import Redis, RedisAuth

PASSWORD_FILE: Final = "/etc/redis_exporter/passwords.json"


def redis_exporter_env(redis: Redis) -> dict[str, str]:
    env = {"REDIS_ADDR": redis.address, "REDIS_EXPORTER_LOG_FORMAT": "json"}
    if redis.user:
        env["REDIS_USER"] = redis.user
    if redis.auth is RedisAuth.PASSWORD:
        env["REDIS_PASSWORD_FILE"] = PASSWORD_FILE
    return env


def password_file(redis: Redis, password: str) -> str:
    return json.dumps({redis.address: password}, sort_keys=True)

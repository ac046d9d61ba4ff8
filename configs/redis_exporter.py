"""redis_exporter's environment and its password file.

`REDIS_PASSWORD_FILE` is a JSON map from Redis address to password (redis_exporter
`exporter/pwd_file.go`), so the password never sits in the container's environment.
"""

from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

from configs.render import to_json
from services import Service, secrets_dir
from settings import Redis, RedisAuth

PASSWORD_FILE: Final = f"{secrets_dir(Service.REDIS_EXPORTER)}/passwords.json"
# Characters Go's net/url leaves unescaped in a user name besides letters, digits and `-._~`
# (golang/go src/net/url/url.go, `escape(username, encodeUserPassword)`; checked against
# `url.User(name).String()` of go1.26).
_GO_USERINFO_SAFE: Final = "$&+,;="


def redis_exporter_env(redis: Redis) -> dict[str, str]:
    env = {"REDIS_ADDR": redis.address, "REDIS_EXPORTER_LOG_FORMAT": "json"}
    if redis.user:
        env["REDIS_USER"] = redis.user
    if redis.auth is RedisAuth.PASSWORD:
        env["REDIS_PASSWORD_FILE"] = PASSWORD_FILE
    return env


def password_key(redis: Redis) -> str:
    """The address the exporter looks its password up under.

    With `REDIS_USER` set, redis_exporter v1.88.0 puts the user into the address before the
    lookup (oliver006/redis_exporter v1.88.0 exporter/redis.go, `lookupPasswordInPasswordMap`:
    `u.User = url.User(user)`, then `u.String()`), so `redis://host:6379` is looked up as
    `redis://user@host:6379`; keyed by the bare address the password is never found, no AUTH
    is sent and `redis_up` stays 0.
    """
    if not redis.user:
        return redis.address
    parts = urlsplit(redis.address)
    netloc = f"{quote(redis.user, safe=_GO_USERINFO_SAFE)}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def password_file(redis: Redis, password: str) -> str:
    return to_json({password_key(redis): password}, compact=True)

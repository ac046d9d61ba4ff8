"""Grafana's server settings, as GF_* environment variables (none of them secret).

Secrets reach Grafana only as files, each a `GF_<SECTION>_<KEY>__FILE` that the image's run.sh
reads into its variable: the admin password, the `secret_key` and the password of `/metrics`.
Hardened as Grafana's security hardening guide asks: no anonymous access or sign-up, cookies
SameSite strict (and Secure, with HSTS, when its URL is https), the nosniff, XSS-protection and
content-security-policy headers, and `/metrics` behind basic auth. Every variable names a
setting Grafana knows (references/grafana-keys.txt, checked by `make validate`): it ignores any
other.
"""

from typing import Final

from services import Service, secrets_dir
from settings import GrafanaApi

SECRETS_DIR: Final = secrets_dir(Service.GRAFANA)
ADMIN_PASSWORD_FILE: Final = f"{SECRETS_DIR}/admin_password"
SECRET_KEY_FILE: Final = f"{SECRETS_DIR}/secret_key"
METRICS_PASSWORD_FILE: Final = f"{SECRETS_DIR}/metrics_password"
# The user Prometheus scrapes `/metrics` as (its password is a secret).
METRICS_USER: Final = "prometheus"
# A year, as browsers' HSTS preload lists ask; only sent when Grafana's URL is https.
HSTS_MAX_AGE_SECONDS: Final = 31_536_000


def is_https(api: GrafanaApi) -> bool:
    return api.url.startswith("https://")


def grafana_env(api: GrafanaApi) -> dict[str, str]:
    https = is_https(api)
    env = {
        "GF_SECURITY_ADMIN_USER": api.admin_user,
        "GF_SECURITY_ADMIN_PASSWORD__FILE": ADMIN_PASSWORD_FILE,
        # Its own key, not the release's published default: it signs the session cookies
        # and encrypts the secrets Grafana stores.
        "GF_SECURITY_SECRET_KEY__FILE": SECRET_KEY_FILE,
        "GF_SECURITY_COOKIE_SAMESITE": "strict",
        # A Secure cookie is never sent over http: only where Grafana is reached over https.
        "GF_SECURITY_COOKIE_SECURE": str(https).lower(),
        "GF_SECURITY_X_CONTENT_TYPE_OPTIONS": "true",
        "GF_SECURITY_X_XSS_PROTECTION": "true",
        # The release's own policy template (nonce-based scripts, no objects, same-origin forms).
        "GF_SECURITY_CONTENT_SECURITY_POLICY": "true",
        "GF_SECURITY_STRICT_TRANSPORT_SECURITY": str(https).lower(),
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_AUTH_DISABLE_LOGIN_FORM": "false",
        # Not `[auth.basic] password_policy`: Grafana applies it to the admin it creates from
        # this config too (userimpl Create validates every password), and the generated
        # password has no symbol, so a new volume would get no admin. The program's own rule
        # (settings/parse.py) holds a configured password to a minimum length instead.
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_SERVER_ROOT_URL": api.url,
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_METRICS_ENABLED": "true",
        # Both set: /metrics answers only with these credentials (its one listener is the UI's).
        "GF_METRICS_BASIC_AUTH_USERNAME": METRICS_USER,
        "GF_METRICS_BASIC_AUTH_PASSWORD__FILE": METRICS_PASSWORD_FILE,
        # The console only (Docker rotates it); no log file on the read-only root.
        "GF_LOG_MODE": "console",
    }
    if https:
        env["GF_SECURITY_STRICT_TRANSPORT_SECURITY_MAX_AGE_SECONDS"] = str(HSTS_MAX_AGE_SECONDS)
    return env

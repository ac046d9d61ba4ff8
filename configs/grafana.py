"""Grafana's server settings, as GF_* environment variables (none of them secret).

The admin password reaches Grafana only as a file (`GF_SECURITY_ADMIN_PASSWORD__FILE`).
"""

from typing import Final

from services import Service, secrets_dir
from settings import GrafanaApi

ADMIN_PASSWORD_FILE: Final = f"{secrets_dir(Service.GRAFANA)}/admin_password"


def grafana_env(api: GrafanaApi) -> dict[str, str]:
    return {
        "GF_SECURITY_ADMIN_USER": api.admin_user,
        "GF_SECURITY_ADMIN_PASSWORD__FILE": ADMIN_PASSWORD_FILE,
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_AUTH_DISABLE_LOGIN_FORM": "false",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_SERVER_ROOT_URL": api.url,
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_METRICS_ENABLED": "true",
    }

"""Settings and secrets of the running stack, from `pulumi.Config`: the only Pulumi import here.

The programs load the settings; components/ reveal the secrets the settings carry.
"""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from settings.keys import KEYS
from settings.model import PROJECT, Secret, Secrets, Settings
from settings.parse import parse_settings
from settings.stack_file import config_text, file_settings


def load_settings() -> tuple[Settings, Secrets]:
    """Read and validate this stack's config; raises SettingsError listing every problem."""
    prefix = f"{PROJECT}:"
    present = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    names = {key[len(prefix):] for key in present if key.startswith(prefix)}
    secret_names = {key.name for key in KEYS if key.secret}
    # An empty secret (`pulumi config set --secret key ''`) is an unset one.
    secrets_set = frozenset(name for name in names & secret_names
                            if runtime_config.get_config(prefix + name))
    plain_secrets = frozenset(name for name in secrets_set
                              if not runtime_config.is_config_secret(prefix + name))
    raw = {name: config_text(runtime_config.get_config(prefix + name))
           for name in names - secret_names}
    # Read to check their form before anything is registered; parse never shows them.
    secret_values = {name: config_text(runtime_config.get_config(prefix + name))
                     for name in secrets_set}
    settings = parse_settings(pulumi.get_stack(), raw, secrets_set, plain_secrets,
                              secret_values=secret_values,
                              foreign_keys=[key for key in present if not key.startswith(prefix)])

    config = pulumi.Config(PROJECT)

    def secret(name: str) -> pulumi.Output[str] | None:
        return config.require_secret(name) if name in secrets_set else None

    secrets = Secrets(
        grafana_admin_password=secret("grafanaAdminPassword"),
        grafana_secret_key=secret("grafanaSecretKey"),
        grafana_metrics_password=secret("grafanaMetricsPassword"),
    )
    return settings, secrets


def reveal(secret: Secret) -> pulumi.Output[str]:
    """A secret's value, as a Pulumi secret. Settings carry a `Secret` only for a key the stack
    sets, so it is always there."""
    return pulumi.Config(PROJECT).require_secret(secret.key)


def load_content_settings() -> tuple[Settings, str]:
    """The Grafana content project's settings: the observability stack's own (its stack file,
    read as `make render` reads it; its secrets stay with that stack) and the name of that
    stack, whose outputs carry Grafana's admin password."""
    named = pulumi.Config().get("observabilityStack")
    stack = pulumi.get_stack()
    return file_settings(stack), named or f"{pulumi.get_organization()}/{PROJECT}/{stack}"

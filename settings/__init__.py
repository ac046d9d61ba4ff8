"""Typed, validated stack settings.

model (the vocabulary and value types), keys (the schema and its defaults), parse (all-at-once
validation), stack_file (the one reader of `Pulumi.<stack>.yaml`), pulumi_config (the one reader
of `pulumi.Config`, which only the programs and components/ import, so configs/ stays free of
Pulumi).
"""

from __future__ import annotations

from settings.keys import DEFAULT_IMAGES, KEYS, KEYS_BY_NAME, ConfigKey
from settings.model import (
    PROJECT,
    Alerting,
    AlertThresholds,
    BackendAuth,
    Binding,
    Duration,
    GrafanaApi,
    Heartbeat,
    Kind,
    Kubernetes,
    ObjectStorage,
    Platform,
    Receiver,
    Redis,
    RedisAuth,
    Retention,
    ScrapeTarget,
    Secret,
    Secrets,
    Settings,
    SettingsError,
    Severity,
    Size,
    cpus_read_back_exact,
    port_url,
    provider_cpus,
)
from settings.parse import parse_duration, parse_settings

__all__ = [
    "DEFAULT_IMAGES",
    "KEYS",
    "KEYS_BY_NAME",
    "PROJECT",
    "AlertThresholds",
    "Alerting",
    "BackendAuth",
    "Binding",
    "ConfigKey",
    "Duration",
    "GrafanaApi",
    "Heartbeat",
    "Kind",
    "Kubernetes",
    "ObjectStorage",
    "Platform",
    "Receiver",
    "Redis",
    "RedisAuth",
    "Retention",
    "ScrapeTarget",
    "Secret",
    "Secrets",
    "Settings",
    "SettingsError",
    "Severity",
    "Size",
    "cpus_read_back_exact",
    "parse_duration",
    "parse_settings",
    "port_url",
    "provider_cpus",
]

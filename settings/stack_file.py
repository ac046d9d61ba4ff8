"""The one reader of `Pulumi.<stack>.yaml`: a stack's config as the CLI hands it to the program.

The offline runtime (review/), the tunnel (ops/) and the tests read stack files through here, so
a value means the same to each of them as it does to `pulumi up`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from settings.keys import KEYS
from settings.model import PROJECT, Kind, Settings
from settings.parse import parse_settings

ROOT: Final = Path(__file__).resolve().parent.parent
PREFIX: Final = f"{PROJECT}:"


def stack_names() -> list[str]:
    """The stacks this checkout has a stack file for (`Pulumi.<stack>.yaml`), sorted."""
    return sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml")
                  for path in ROOT.glob("Pulumi.*.yaml"))


def stack_argument(stack: str) -> str:
    """argparse `type=` of a `--stack`: any stack with a stack file, else the ones there are."""
    if stack not in stack_names():
        raise argparse.ArgumentTypeError(
            f"no Pulumi.{stack}.yaml in {ROOT}: the stacks here are "
            f"{', '.join(stack_names())} (`make up` writes Pulumi.dev.yaml)")
    return stack


def read_config(stack: str) -> dict[str, Any]:
    """The stack file's `config:` block, keys as written (`<project>:<key>`, `docker:host`)."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    return dict(document.get("config") or {})


def config_text(value: object) -> str:
    """A config value as the language host hands it over: strings, with everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def project_values(config: Mapping[str, Any]) -> dict[str, str]:
    """This project's keys (without the prefix) and their values as text."""
    return {key.removeprefix(PREFIX): config_text(value)
            for key, value in config.items() if key.startswith(PREFIX)}


def file_settings(stack: str, config: Mapping[str, Any] | None = None,
                  secrets_set: frozenset[str] | None = None) -> Settings:
    """The settings a stack file describes (`config`, default: read it). Secrets are not in the
    file's plain values; `secrets_set` names those that count as set (default: all of them)."""
    config = read_config(stack) if config is None else config
    values = project_values(config)
    secret_names = frozenset(key.name for key in KEYS if key.secret)
    raw = {name: value for name, value in values.items() if name not in secret_names}
    # What `pulumi config set <key> '<text>'` leaves for an array key: a string, which the CLI
    # refuses at preview whatever it holds.
    string_lists = frozenset(key.name for key in KEYS if key.kind is Kind.ARRAY
                             and isinstance(config.get(PREFIX + key.name), str))
    return parse_settings(stack, raw, secret_names if secrets_set is None else secrets_set,
                          string_lists=string_lists,
                          foreign_keys=[key for key in config if not key.startswith(PREFIX)])

"""One serialisation for every generated file, so a file changes only when its content does."""

import json
from collections.abc import Mapping
from typing import Final

import yaml

# Long strings (PromQL above all) stay on one line: easier to read in a diff and to grep.
_NO_WRAP: Final = 1 << 20


def to_yaml(document: Mapping[str, object]) -> str:
    # Key order is the builder's (readable, and stable because builders are deterministic).
    return yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=False,
                          width=_NO_WRAP)


def to_json(document: object, *, compact: bool = False) -> str:
    """Keys sorted; indented with a final newline for files, or on one line (`compact`) for
    values that travel inside another document (a datasource's jsonData, a password map)."""
    if compact:
        return json.dumps(document, sort_keys=True)
    return json.dumps(document, sort_keys=True, indent=2) + "\n"

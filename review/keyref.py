"""Check a rendered config against a committed key reference (references/*-keys.txt).

Loki's and Tempo's YAML against the paths below; Grafana's GF_* variables against the ini keys
of references/grafana-keys.txt (at the end).

A reference lists one path per line: `a.b` is key b inside mapping a, `a[]` means each item of
list a, `*` matches any single key, and a `*` with nothing below it allows anything underneath.
Every prefix of a listed path is itself a known key. `#` starts a comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

LIST = "[]"
ANY = "*"
_SEGMENT = re.compile(r"[^.\[\]]+|\[\]")


@dataclass
class KeyReference:
    """A trie of known key paths; the root also keeps the paths exactly as listed."""

    children: dict[str, KeyReference] = field(default_factory=dict)
    wildcard: bool = False
    paths: frozenset[str] = frozenset()

    @property
    def allows_anything(self) -> bool:
        return self.wildcard and not self.children

    def add(self, path: str) -> None:
        node = self
        for segment in _SEGMENT.findall(path):
            node = node.children.setdefault(segment, KeyReference(wildcard=segment == ANY))


def load_key_reference(path: Path) -> KeyReference:
    ref = KeyReference()
    listed: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        key_path = line.split("#", 1)[0].strip()
        if key_path:
            ref.add(key_path)
            listed.add(key_path)
    if not listed:
        raise ValueError(f"{path}: no key paths")
    ref.paths = frozenset(listed)
    return ref


def unknown_keys(config: Mapping[str, object], ref: KeyReference) -> list[str]:
    """Dotted paths (list items as `[]`) of every key in `config` that `ref` does not know."""
    found: list[str] = []
    _walk(config, ref, "", found)
    return found


def _walk(value: object, node: KeyReference, path: str, found: list[str]) -> None:
    if node.allows_anything:
        return
    if isinstance(value, Mapping):
        for key, child in value.items():
            name = str(key)
            child_path = f"{path}.{name}" if path else name
            sub = node.children.get(name) or node.children.get(ANY)
            if sub is None:
                found.append(child_path)
            else:
                _walk(child, sub, child_path, found)
    elif isinstance(value, list | tuple):
        items = node.children.get(LIST)
        if items is None:
            free = node.children.get(ANY)
            items = free if free is not None and free.allows_anything else KeyReference()
        for item in value:
            _walk(item, items, path + LIST, found)


# --- Grafana: GF_* environment variables against an ini key reference ------------------------
# A reference lists one `[section] key` per line (references/grafana-keys.txt).
_INI_LINE = re.compile(r"^\[([A-Za-z0-9_.-]+)\]\s+([A-Za-z0-9_.-]+)$")
# Grafana's image reads `<variable>__FILE` into `<variable>` (packaging/docker/run.sh).
FILE_SUFFIX = "__FILE"


def load_ini_reference(path: Path) -> frozenset[tuple[str, str]]:
    """The (section, key) pairs a reference lists."""
    pairs = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        match = _INI_LINE.match(entry)
        if match is None:
            raise ValueError(f"{path}:{number}: not `[section] key`: {entry!r}")
        pairs.add((match[1], match[2]))
    if not pairs:
        raise ValueError(f"{path}: no keys")
    return frozenset(pairs)


def grafana_env_name(section: str, key: str) -> str:
    """The variable Grafana reads for `[section] key` (pkg/setting `EnvKey`): `GF_`, the section
    upper-cased with `.` and `-` as `_`, `_`, the key upper-cased."""
    return f"GF_{section.replace('.', '_').replace('-', '_').upper()}_{key.upper()}"


def unknown_grafana_env(names: Iterable[str], reference: frozenset[tuple[str, str]]) -> list[str]:
    """Every GF_* variable in `names` (a `__FILE` one by the variable it fills) that names no
    key of the reference, so Grafana would ignore it."""
    known = {grafana_env_name(section, key) for section, key in reference}
    return [name for name in names
            if name.startswith("GF_") and name.removesuffix(FILE_SUFFIX) not in known]

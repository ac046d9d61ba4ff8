"""Check a rendered config against a committed key reference (references/*-keys.txt).

A reference lists one path per line: `a.b` is key b inside mapping a, `a[]` means each item of
list a, `*` matches any single key, and a `*` with nothing below it allows anything underneath.
Every prefix of a listed path is itself a known key. `#` starts a comment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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

"""Go struct fields read at a release tag: the keys a service's docs do not list, from the
yaml or mapstructure tags of named structs."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

from references.docs import ANY, DeriveError, Repo, join


@dataclass(frozen=True)
class GoStruct:
    """Fields of a Go struct (by struct tag) to add under `prefix`."""

    prefix: str
    path: str
    name: str
    tag: str = "yaml"


@dataclass(frozen=True)
class GoField:
    line: int
    omitempty: bool
    is_map: bool


@dataclass
class GoStructDef:
    fields: dict[str, GoField] = field(default_factory=dict)
    inlined: list[str] = field(default_factory=list)  # types of `,inline`/`,squash` fields


def parse_go_structs(source: str, tag: str = "yaml") -> dict[str, GoStructDef]:
    """Tagged fields of each `type X struct {` in a Go file (a crude but adequate scan)."""
    structs: dict[str, GoStructDef] = {}
    current: GoStructDef | None = None
    depth = 0
    field_tag = re.compile(rf'`[^`]*\b{tag}:"([^",]*)((?:,[a-z]+)*)"')
    for lineno, line in enumerate(source.splitlines(), 1):
        if current is None:
            if m := re.match(r"^type (\w+) struct \{\s*(//.*)?$", line):
                current = structs.setdefault(m.group(1), GoStructDef())
                depth = 1
            continue
        code = re.sub(r"`[^`]*`|//.*$|\"[^\"]*\"", "", line)
        if depth == 1 and (m := field_tag.search(line)):
            words = code.split()
            if m.group(1) == "" and ("inline" in m.group(2) or "squash" in m.group(2)):
                current.inlined.append(words[-1] if words else "")
            elif m.group(1) != "-":
                is_map = len(words) > 1 and words[1].startswith(("map[", "*map["))
                current.fields[m.group(1)] = GoField(lineno, "omitempty" in m.group(2), is_map)
        depth += code.count("{") - code.count("}")
        if depth <= 0:
            current = None
    return structs


def go_struct_fields(repo: Repo, spec: GoStruct) -> dict[str, GoField]:
    struct = parse_go_structs(repo.show(spec.path), spec.tag).get(spec.name)
    if struct is None or not struct.fields:
        raise DeriveError(f"struct {spec.name} with {spec.tag} tags not found in {spec.path}")
    return struct.fields


def go_supplement(repo: Repo, specs: Iterable[GoStruct], known: set[str]) -> list[str]:
    lines: dict[str, str] = {}
    for spec in specs:
        for name, go_field in go_struct_fields(repo, spec).items():
            path = join(spec.prefix, name)
            if go_field.is_map:
                path = join(path, ANY)
            if path not in known and path not in lines:
                lines[path] = f"{spec.path}:{go_field.line} ({spec.name}, {spec.tag} tag)"
    return [f"{path}  # {where}" for path, where in sorted(lines.items())]


class GoTags:
    """Yaml tag names found in the Go tree, to vet keys that only hand-written docs list."""

    def __init__(self, files: list[dict[str, GoStructDef]]) -> None:
        by_name: dict[str, GoStructDef] = {}
        for structs in files:
            for name, struct in structs.items():
                by_name.setdefault(name, struct)
        self.structs = [
            self._flatten(struct, structs, by_name, 0)
            for structs in files
            for struct in structs.values()
        ]
        self.names = {name for fields in self.structs for name in fields}

    def _flatten(
        self,
        struct: GoStructDef,
        same_file: dict[str, GoStructDef],
        by_name: dict[str, GoStructDef],
        depth: int,
    ) -> dict[str, GoField]:
        """The struct's fields with inlined structs merged in (found by unqualified type name)."""
        fields = dict(struct.fields)
        for type_name in struct.inlined if depth < 5 else []:
            bare = type_name.lstrip("*").rsplit(".", 1)[-1]
            inner = same_file.get(bare) if "." not in type_name else None
            inner = inner or by_name.get(bare)
            if inner is not None:
                fields.update(self._flatten(inner, same_file, by_name, depth + 1))
        return fields

    def omitempty_beside(self, siblings: set[str], name: str) -> bool:
        """Is `name` an omitempty field of the struct(s) that best match these dumped fields?"""
        best, matches = 0, []
        for fields in self.structs:
            score = len(siblings & fields.keys())
            if score > best:
                best, matches = score, [fields]
            elif score == best and score:
                matches.append(fields)
        if best * 2 < len(siblings):
            return False  # no struct in the tree looks like the dumped one
        return any(name in fields and fields[name].omitempty for fields in matches)


def tree_structs(repo: Repo) -> list[dict[str, GoStructDef]]:
    """The yaml-tagged fields of every Go struct in the tree at the tag (vendor included)."""
    files = repo.git("grep", "-l", 'yaml:"', repo.commit, "--", "*.go", check=False).split()
    if not files:
        raise DeriveError("no yaml struct tags found; is this the right repository?")
    proc = subprocess.run(
        ["git", "--git-dir", repo.git_dir, "cat-file", "--batch"],
        input="".join(f"{name}\n" for name in files).encode(),
        capture_output=True,
        check=True,
    )
    structs: list[dict[str, GoStructDef]] = []  # one dict per file
    data, pos = proc.stdout, 0
    while pos < len(data):
        header_end = data.index(b"\n", pos)
        header = data[pos:header_end].split()
        pos = header_end + 1
        if len(header) != 3:  # "<name> missing": a blob the snapshot lacks
            continue
        size = int(header[2])
        source = data[pos : pos + size].decode("utf-8", "replace")
        pos += size + 1
        structs.append(parse_go_structs(source))
    return structs

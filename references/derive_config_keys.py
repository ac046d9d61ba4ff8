#!/usr/bin/env python3
"""Derive the YAML keys a pinned Loki or Tempo release accepts, from that release's own docs.

Both services unmarshal their config strictly and refuse to start on an unknown key, so our tests
check every key we render against a committed reference produced by this script:

    python references/derive_config_keys.py loki --git-dir DIR --tag v3.7.6 \
        > references/loki-v3.7.6-keys.txt
    python references/derive_config_keys.py tempo --git-dir DIR --tag v3.0.3 \
        > references/tempo-v3.0.3-keys.txt

DIR is a (bare) clone of github.com/grafana/loki or github.com/grafana/tempo. Nothing from those
repositories is vendored here: the script reads their files at the tag with `git show`, parses
the markdown, and only scans Go sources for struct tags. Sources:

* Loki: docs/sources/shared/configuration.md (generated from the Go structs by
  tools/doc-generator). Blocks are `[key: <type> | default = ...]` lines and `key:` sub-blocks;
  `[key: <block>]` refers to the `### block` section, which is resolved recursively.
* Tempo: docs/sources/tempo/configuration/manifest.md (a dump of the default config generated
  by the binary; it omits `omitempty` fields whose default is empty) plus the hand-written
  docs/sources/tempo/configuration/_index.md. A key that only _index.md documents is kept only
  if its name is a yaml struct tag in the Go tree at the tag; when its parent is dumped in the
  manifest, it must also be an `omitempty` field of the Go struct whose fields best match that
  dump (a non-omitempty field would have been dumped). Rejected keys are listed in the header.

A few keys neither doc lists are read from named Go structs (their yaml/mapstructure tags) and
written to a separate, commented section, each with the file:line it came from.

Output format: one path per line. `a.b` is key b inside mapping a; `a[]` is "each item of list
a"; `*` matches any single key (a free-form map) and a trailing `*` allows anything below it.
Every prefix of a listed path is itself a known key.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import yaml

LIST = "[]"
ANY = "*"

LOKI_DOC = "docs/sources/shared/configuration.md"
TEMPO_MANIFEST = "docs/sources/tempo/configuration/manifest.md"
TEMPO_INDEX = "docs/sources/tempo/configuration/_index.md"

# Placeholder types in Loki's reference that are plain values, not blocks.
LOKI_SCALARS = {
    "boolean",
    "daytime",
    "duration",
    "float",
    "int",
    "list of strings",
    "Regexp",
    "secret",
    "string",
    "time",
    "url",
}


@dataclass(frozen=True)
class GoStruct:
    """Fields of a Go struct (by struct tag) to add under `prefix`."""

    prefix: str
    path: str
    name: str
    tag: str = "yaml"


# Keys the docs do not list, read from Go structs at the tag (written to a separate section).
LOKI_GO: tuple[GoStruct, ...] = (
    # `retention_stream: <list of StreamRetentions>` is not expanded by the doc generator.
    GoStruct("limits_config.retention_stream[]", "pkg/validation/limits.go", "StreamRetention"),
)
TEMPO_GO: tuple[GoStruct, ...] = (
    # Root keys; several are `omitempty` and absent from the manifest.
    GoStruct("", "cmd/tempo/app/config.go", "Config"),
    # `remote_write: [- <Prometheus remote write config>]`
    GoStruct(
        "metrics_generator.storage.remote_write[]",
        "vendor/github.com/prometheus/prometheus/config/config.go",
        "RemoteWriteConfig",
    ),
    GoStruct(  # inlined into RemoteWriteConfig
        "metrics_generator.storage.remote_write[]",
        "vendor/github.com/prometheus/common/config/http_config.go",
        "HTTPClientConfig",
    ),
    # `distributor.receivers` is handed to the OpenTelemetry OTLP receiver (mapstructure tags).
    GoStruct(
        "distributor.receivers.otlp.protocols.grpc",
        "vendor/go.opentelemetry.io/collector/config/configgrpc/configgrpc.go",
        "ServerConfig",
        "mapstructure",
    ),
    GoStruct(
        "distributor.receivers.otlp.protocols.http",
        "vendor/go.opentelemetry.io/collector/receiver/otlpreceiver/config.go",
        "HTTPConfig",
        "mapstructure",
    ),
    GoStruct(
        "distributor.receivers.otlp.protocols.http",
        "vendor/go.opentelemetry.io/collector/config/confighttp/server.go",
        "ServerConfig",
        "mapstructure",
    ),
    GoStruct(  # squashed into both server configs above
        "distributor.receivers.otlp.protocols.grpc",
        "vendor/go.opentelemetry.io/collector/config/confignet/confignet.go",
        "AddrConfig",
        "mapstructure",
    ),
    GoStruct(
        "distributor.receivers.otlp.protocols.http",
        "vendor/go.opentelemetry.io/collector/config/confignet/confignet.go",
        "AddrConfig",
        "mapstructure",
    ),
)


class DeriveError(Exception):
    pass


# --------------------------------------------------------------------------- git access


class Repo:
    def __init__(self, git_dir: str, tag: str) -> None:
        self.git_dir = git_dir
        self.tag = tag
        self.commit = self._git("rev-parse", "--verify", f"{tag}^{{commit}}").strip()

    def _git(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            ["git", "--git-dir", self.git_dir, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and proc.returncode != 0:
            raise DeriveError(f"git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def show(self, path: str) -> str:
        return self._git("show", f"{self.commit}:{path}")

    def go_structs(self) -> list[dict[str, GoStructDef]]:
        """The yaml-tagged fields of every Go struct in the tree at the tag (vendor included)."""
        files = self._git("grep", "-l", 'yaml:"', self.commit, "--", "*.go", check=False).split()
        if not files:
            raise DeriveError("no yaml struct tags found; is this the right repository?")
        proc = subprocess.run(
            ["git", "--git-dir", self.git_dir, "cat-file", "--batch"],
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


# --------------------------------------------------------------------------- markdown


@dataclass
class Fence:
    section: str  # the enclosing `## ` heading
    heading: str  # the nearest heading of any level
    start: int  # 1-based line number of the first line inside the fence
    lines: list[str]


def fences(markdown: str, lang_required: bool = False) -> Iterator[Fence]:
    section = heading = ""
    body: list[str] | None = None
    start = 0
    for lineno, line in enumerate(markdown.splitlines(), 1):
        stripped = line.strip()
        if body is None:
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
                if line.startswith("## "):
                    section = heading
            elif stripped.startswith("```"):
                if lang_required and stripped != "```yaml":
                    continue
                body, start = [], lineno + 1
        elif stripped.startswith("```"):
            yield Fence(section, heading, start, body)
            body = None
        else:
            body.append(line)


# --------------------------------------------------------------------------- pseudo-YAML blocks


@dataclass
class Node:
    """One key of a documented block; `type` is the text between <> (if any)."""

    line: int = 0
    type: str = ""
    children: dict[str, Node] = field(default_factory=dict)
    embeds: list[str] = field(default_factory=list)
    sink: bool = False  # unparsed line: swallow everything nested below it
    item: bool = False  # the `[]` node holding the keys of a list's items

    def child(self, key: str, line: int, type_: str = "") -> Node:
        node = self.children.setdefault(key, Node(line, item=key == LIST))
        node.type = node.type or type_
        return node


KEY = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
KEY_LINE = re.compile(rf"^({KEY}):(?:\s+(.*))?$")
BRACKET_KEY = re.compile(rf"^\[\s*({KEY})\s*:\s*(.*)$")
TYPE = re.compile(r"^<([^>]*)>")


def _type_of(rest: str) -> str:
    m = TYPE.match(rest.strip())
    return m.group(1).strip() if m else ""


def parse_block(lines: list[str], first_line: int) -> Node:
    """Parse a documented config block into a tree (indentation gives nesting)."""
    root = Node(first_line)
    stack: list[tuple[int, Node]] = [(-1, root)]
    i = 0
    while i < len(lines):
        lineno = first_line + i
        text = lines[i].rstrip()
        i += 1
        body = text.lstrip()
        if not body or body.startswith("#"):
            continue
        indent = len(text) - len(body)
        dash = re.match(r"-\s+", body)
        if dash:  # a list item: its keys live in the parent's `[]` node
            while stack[-1][0] > indent:
                stack.pop()
            if stack[-1][0] == indent and stack[-1][1].item:
                stack.pop()
            body = body[dash.end() :]
            item_indent, indent = indent, indent + dash.end()
        opened_alone = body == "["  # a multi-line literal such as `[\n name: ..., \n]`
        if body.startswith("["):
            while body.count("[") > body.count("]") and i < len(lines):
                body += " " + lines[i].strip()
                i += 1
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if parent.sink:
            stack.append((indent, parent))
            continue
        if dash and (body.startswith("[") or KEY_LINE.match(body)):
            parent = parent.child(LIST, lineno)
            stack.append((item_indent, parent))
        node = Node(lineno, sink=True) if opened_alone else _attach(parent, body, lineno)
        if node is not None:
            stack.append((indent, node))
    return root


def _attach(parent: Node, body: str, lineno: int) -> Node | None:
    """Record one line under `parent`; return the node later, deeper lines nest under."""
    if body.startswith("["):
        return _attach_bracketed(parent, body, lineno)
    if m := KEY_LINE.match(body):
        rest = re.sub(r"\s+#.*$", "", m.group(2) or "")
        return parent.child(m.group(1), lineno, _type_of(rest))
    return Node(lineno, sink=True)


def _attach_bracketed(parent: Node, body: str, lineno: int) -> Node | None:
    if m := re.match(r"^\[\s*-\s*<([^>]*)>", body):  # [- <X>]: parent is a list of X
        parent.child(LIST, lineno, m.group(1).strip())
        return None
    if m := re.match(r"^\[\s*<([^>]*)>\s*\]\s*(:)?", body):
        if m.group(2):  # [<string>]: -> a map key
            return parent.child(ANY, lineno)
        parent.embeds.append(m.group(1).strip())  # [<block>]: fields inlined here
        return None
    if re.match(r"^\[\s*:\s*<", body):  # [: <map of ...>]: the parent is a free-form map
        parent.child(ANY, lineno)
        return None
    if m := BRACKET_KEY.match(body):
        return parent.child(m.group(1), lineno, _type_of(m.group(2)))
    return Node(lineno, sink=True)


# --------------------------------------------------------------------------- path building


def join(prefix: str, key: str) -> str:
    if key == LIST:
        return prefix + LIST
    return f"{prefix}.{key}" if prefix else key


@dataclass
class Expander:
    """Turns parsed blocks into dotted paths, resolving `<type>` references to other blocks."""

    blocks: dict[str, Node]
    scalars: set[str]
    skip_types: set[str] = field(default_factory=set)  # paths whose children come from Go
    paths: dict[str, int] = field(default_factory=dict)  # path -> doc line
    opaque: dict[str, str] = field(default_factory=dict)  # path -> unexpanded type

    def lookup(self, name: str) -> Node | None:
        for candidate in _name_variants(name):
            if candidate in self.blocks:
                return self.blocks[candidate]
        return None

    def walk(self, node: Node, prefix: str, depth: int = 0) -> None:
        if depth > 40:
            raise DeriveError(f"block references nest too deep at {prefix}")
        for embed in node.embeds:
            block = self.lookup(embed)
            if block is None:
                self.opaque[prefix or "(root)"] = f"<{embed}> (inlined)"
            else:
                self.walk(block, prefix, depth + 1)
        for key, child in node.children.items():
            path = join(prefix, key)
            self.paths.setdefault(path, child.line)
            self.expand_type(child.type, path, depth, child.line)
            self.walk(child, path, depth + 1)

    def expand_type(self, type_: str, path: str, depth: int, line: int) -> None:
        if not type_ or type_ in self.scalars:
            return
        if type_.startswith("map"):
            inner = type_.split(" to ", 1)[1].strip() if " to " in type_ else ""
            block = self.lookup(inner) if inner else None
            if block is None:
                self.paths.setdefault(join(path, ANY), line)
            else:
                self.walk(block, join(path, ANY), depth + 1)
            return
        if type_.startswith("list of "):
            inner = type_[len("list of ") :]
            if inner in self.scalars or inner.startswith(("string", "float", "int")):
                return
            block = self.lookup(inner)
            if block is not None:
                self.walk(block, join(path, LIST), depth + 1)
            elif join(path, LIST) not in self.skip_types:
                self.opaque[path] = f"<{type_}>"
            return
        block = self.lookup(type_)
        if block is not None:
            self.walk(block, path, depth + 1)
        elif path not in self.skip_types:
            self.opaque[path] = f"<{type_}>"


def _name_variants(name: str) -> Iterator[str]:
    base = name.strip()
    for candidate in (base, base.lower()):
        yield candidate
        for suffix in (" config", " configs"):
            if candidate.endswith(suffix):
                yield candidate[: -len(suffix)]
        if candidate.endswith("ies"):
            yield candidate[:-3] + "y"
        if candidate.endswith("s"):
            yield candidate[:-1]
        stem = candidate.removesuffix(" config")
        if stem.endswith("ies"):
            yield stem[:-3] + "y"


# --------------------------------------------------------------------------- Go struct tags


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


# --------------------------------------------------------------------------- Loki


def derive_loki(repo: Repo) -> tuple[list[str], list[str], list[str]]:
    text = repo.show(LOKI_DOC)
    blocks: dict[str, Node] = {}
    root: Node | None = None
    for fence in fences(text, lang_required=True):
        if fence.section != "Configuration file reference":
            continue
        if fence.heading.startswith("Supported contents and default values"):
            root = root or parse_block(fence.lines, fence.start)
            continue
        if not re.fullmatch(r"[a-z0-9_]+", fence.heading):
            continue
        # The last yaml fence of a `### name` section is its definition (some have examples).
        blocks[fence.heading] = parse_block(fence.lines, fence.start)
    if root is None or not blocks:
        raise DeriveError(f"{LOKI_DOC}: configuration reference not found")
    skip = {spec.prefix for spec in LOKI_GO}
    exp = Expander(blocks, LOKI_SCALARS, skip)
    exp.walk(root, "")
    known = set(exp.paths)
    supplement = go_supplement(repo, LOKI_GO, known)
    notes = [
        f"{path}: {type_}; its children are not in the docs, so none are allowed"
        for path, type_ in sorted(exp.opaque.items())
    ]
    return sorted(known), supplement, notes


# --------------------------------------------------------------------------- Tempo


def manifest_paths(value: object, prefix: str, out: dict[str, str]) -> None:
    """Paths of the generated default-config dump; `{}` marks an (empty) map."""
    if isinstance(value, dict):
        if not value and prefix:
            out[prefix] = "map"
        for key, child in value.items():
            path = join(prefix, str(key))
            out.setdefault(path, "struct" if isinstance(child, dict) and child else "value")
            manifest_paths(child, path, out)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                out.setdefault(join(prefix, LIST), "struct")
                manifest_paths(item, join(prefix, LIST), out)


def tempo_index_blocks(index_md: str, top_level: set[str]) -> tuple[dict[str, Node], list[Node]]:
    """Reusable blocks (by lower-cased heading) and the reference blocks of root keys."""
    blocks: dict[str, Node] = {}
    roots: list[Node] = []
    for fence in fences(index_md):
        block = parse_block(fence.lines, fence.start)
        if fence.section == "Configuration blocks":
            blocks.setdefault(fence.heading.lower(), block)
        elif any(line.strip() == "---" for line in fence.lines):
            continue  # several files in one example (e.g. per-tenant overrides)
        elif not any(BRACKET_KEY.match(line.strip()) for line in fence.lines):
            continue  # an example with literal values, not a reference block
        elif set(block.children) & top_level:
            roots.append(block)
    return blocks, roots


def derive_tempo(repo: Repo) -> tuple[list[str], list[str], list[str]]:
    manifest_md = repo.show(TEMPO_MANIFEST)
    docs = list(fences(manifest_md, lang_required=True))
    if len(docs) != 1:
        raise DeriveError(f"{TEMPO_MANIFEST}: expected one yaml block, found {len(docs)}")
    dump = yaml.safe_load("\n".join(docs[0].lines))
    if not isinstance(dump, dict):
        raise DeriveError(f"{TEMPO_MANIFEST}: the yaml block is not a mapping")
    manifest: dict[str, str] = {}
    manifest_paths(dump, "", manifest)
    top_level = {str(key) for key in dump}

    blocks, roots = tempo_index_blocks(repo.show(TEMPO_INDEX), top_level)
    exp = Expander(blocks, set(), {spec.prefix for spec in TEMPO_GO})
    for block in roots:
        exp.walk(block, "")
    go = GoTags(repo.go_structs())

    paths = set(manifest)
    rejected: list[str] = []
    for path, line in sorted(exp.paths.items()):
        if path in paths:
            continue
        problem = _tempo_doc_key_problem(path, manifest, go)
        if problem:
            rejected.append(f"{path} ({TEMPO_INDEX}:{line}): {problem}")
        else:
            paths.add(path)
    # An empty map in the dump allows any key unless _index.md documents its contents.
    for path, kind in manifest.items():
        if kind == "map" and not any(p.startswith(path + ".") for p in paths):
            paths.add(join(path, ANY))
    supplement = go_supplement(repo, TEMPO_GO, paths)
    notes = [f"left out, documented only in _index.md: {entry}" for entry in rejected]
    notes += [
        f"{path}: {type_} in _index.md; its children are not documented, so none are allowed"
        for path, type_ in sorted(exp.opaque.items())
        if "config" in type_ and path not in manifest
    ]
    return sorted(paths), supplement, notes


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


def _tempo_doc_key_problem(path: str, manifest: dict[str, str], go: GoTags) -> str:
    """Why a key found only in _index.md is not trusted ('' if it is)."""
    segments = re.findall(r"[^.\[\]]+|\[\]", path)
    parent = ""
    while segments and join(parent, segments[0]) in manifest:
        parent = join(parent, segments.pop(0))
    kind = manifest.get(parent, "struct")  # the root is a struct
    if kind == "map":
        return ""  # keys inside a map are data, not struct fields
    siblings = {p[len(parent) :].lstrip(".") for p in manifest if _is_child(p, parent)}
    for index, segment in enumerate(segments):
        dumped = index == 0 and kind == "struct"
        if segment == ANY and dumped:
            return f"the manifest shows {parent} as a struct, not a map"
        if segment in (LIST, ANY):
            continue
        if segment not in go.names:
            return f"no Go struct has the yaml tag {segment!r}"
        if dumped and not go.omitempty_beside(siblings, segment):
            return (
                f"the manifest dumps {parent or 'the root'} without it, and the matching Go"
                f" struct has no omitempty field {segment!r}"
            )
    return ""


def _is_child(path: str, parent: str) -> bool:
    rest = path[len(parent) :] if path.startswith(parent) else None
    if not parent:
        rest = "." + path
    return rest is not None and rest.startswith(".") and "." not in rest[1:] and "[" not in rest


# --------------------------------------------------------------------------- output


def render(service: str, repo: Repo, args: argparse.Namespace) -> str:
    if service == "loki":
        paths, supplement, notes = derive_loki(repo)
        repository, sources = "https://github.com/grafana/loki", [LOKI_DOC]
    else:
        paths, supplement, notes = derive_tempo(repo)
        repository, sources = "https://github.com/grafana/tempo", [TEMPO_MANIFEST, TEMPO_INDEX]
    out = [
        f"# YAML config keys known to {service} {args.tag}, derived from the release's own docs.",
        f"# Repository: {repository}",
        f"# Tag: {args.tag} (commit {repo.commit})",
        *(f"# Source: {src}" for src in sources),
        "# Regenerate (do not edit by hand):",
        f"#   python references/derive_config_keys.py {service} \\",
        f"#     --git-dir <clone of {repository}> \\",
        f"#     --tag {args.tag} > references/{service}-{args.tag}-keys.txt",
        "# Syntax: a.b = key b in mapping a; a[] = each item of list a; * = any one key;",
        "# a trailing * allows anything below. Every prefix of a path is a known key.",
    ]
    if service == "tempo":
        out.append("# Keys only _index.md lists are kept if Go struct tags back them (see script).")
    if notes:
        out.append("# Notes:")
        out += [f"#   {note}" for note in notes]
    out += paths
    if supplement:
        out += [
            "",
            "# ---- Keys the docs omit, read from Go struct tags at the same tag ----",
            "# (each line names the file:line of the field it came from)",
            *supplement,
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("service", choices=["loki", "tempo"])
    parser.add_argument("--git-dir", required=True, help="clone of the service's repository")
    parser.add_argument("--tag", required=True, help="release tag, e.g. v3.7.6")
    args = parser.parse_args(argv)
    try:
        repo = Repo(args.git_dir, args.tag)
        sys.stdout.write(render(args.service, repo, args))
    except DeriveError as err:
        print(f"derive_config_keys: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

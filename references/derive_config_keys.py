#!/usr/bin/env python3
"""Derive the YAML keys a pinned Loki or Tempo release accepts, from that release's own docs.

Both services unmarshal their config strictly and refuse to start on an unknown key, so our tests
check every key we render against a committed reference produced by this script:

    python -m references.derive_config_keys loki --git-dir DIR --tag v3.7.6 \
        > references/loki-v3.7.6-keys.txt
    python -m references.derive_config_keys tempo --git-dir DIR --tag v3.0.3 \
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
import sys

import yaml

from references.docs import (
    ANY,
    BRACKET_KEY,
    LIST,
    DeriveError,
    Expander,
    Node,
    Repo,
    fences,
    join,
    parse_block,
)
from references.go_structs import GoStruct, GoTags, go_supplement, tree_structs

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


# --------------------------------------------------------------------------- git access


# --------------------------------------------------------------------------- markdown


# --------------------------------------------------------------------------- pseudo-YAML blocks


# --------------------------------------------------------------------------- path building


# --------------------------------------------------------------------------- Go struct tags


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
    go = GoTags(tree_structs(repo))

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
        f"#   python -m references.derive_config_keys {service} \\",
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

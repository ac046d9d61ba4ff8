#!/usr/bin/env python3
"""Derive the prometheus.yml keys and command-line flags a pinned Prometheus release accepts.

Parses (never vendors) the release's Go sources at the tag, read with `git show`, and those of the
modules its config types come from (prometheus/common, prometheus/sigv4) at their go.mod versions.
The headers it writes give the regeneration command, the format and what is listed by hand.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LIST = "[]"
ANY = "*"

PROMETHEUS = "github.com/prometheus/prometheus"
REPOSITORY = "https://github.com/prometheus/prometheus"
CONFIG_PKG = f"{PROMETHEUS}/config"
ROOT_TYPE = "Config"
CONFIG_GO = "config/config.go"
MAIN_GO = "cmd/prometheus/main.go"
SD_REGISTRY = "discovery/registry.go"
SD_INSTALL = "discovery/install/install.go"  # imports every built-in service discovery
FEATURE_FUNC = "setFeatureListOptions"

# Types whose custom UnmarshalYAML reads a shape the Go struct does not show: hand-listed, with
# the line that proves the shape. Every other custom UnmarshalYAML reads a scalar (see notes).
MAP_OVERRIDES: dict[tuple[str, str], str] = {
    (f"{PROMETHEUS}/model/labels", "Labels"):
        "model/labels/labels_common.go:106 UnmarshalYAML reads a map[string]string",
    ("net/url", "Values"): "Go standard library: `type Values map[string][]string`",
}

SCALARS = frozenset({
    "bool", "byte", "complex64", "complex128", "error", "float32", "float64", "int", "int8",
    "int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32", "uint64",
    "uintptr",
})
FREE = frozenset({"any", "interface{}"})


class DeriveError(Exception):
    pass


# --------------------------------------------------------------------------- git access


class GitTree:
    """One repository at one tag."""

    def __init__(self, git_dir: str, tag: str) -> None:
        self.git_dir = git_dir
        self.tag = tag
        self.commit = self._git("rev-parse", "--verify", f"{tag}^{{commit}}").strip()

    def _git(self, *args: str) -> str:
        proc = subprocess.run(
            ["git", "--git-dir", self.git_dir, *args], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise DeriveError(f"{self.git_dir}: git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def show(self, path: str) -> str:
        return self._git("show", f"{self.commit}:{path}")

    def go_files(self, directory: str) -> list[str]:
        """The non-test Go files directly in `directory` ('' is the root)."""
        listing = self._git("ls-tree", "--name-only", self.commit, f"{directory}/" if directory
                            else ".").split()
        return sorted(p for p in listing if p.endswith(".go") and not p.endswith("_test.go"))


@dataclass(frozen=True)
class Module:
    path: str  # Go module path, e.g. github.com/prometheus/common
    tree: GitTree
    label: str  # how citations name it: "" for Prometheus itself


def go_mod_versions(go_mod: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*(?:require\s+)?([\w./\-]+)\s+(v[^\s]+)", go_mod, re.MULTILINE))


# --------------------------------------------------------------------------- Go source scanning


def strip_comments(source: str) -> str:
    """Blank out Go comments, keeping strings, line numbers and columns."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", source[i:end]))
            i = end
        elif c in "\"'`":
            end = string_end(source, i)
            out.append(source[i:end])
            i = end
        else:
            out.append(c)
            i += 1
    return "".join(out)


def string_end(source: str, start: int) -> int:
    """Index just past the Go string or rune literal opening at `start`."""
    quote, i = source[start], start + 1
    while i < len(source) and source[i] != quote:
        i += 2 if quote != "`" and source[i] == "\\" else 1
    return i + 1


def matching_brace(text: str, start: int) -> int:
    """Index of the `}` closing the `{` at `start` (comments already stripped)."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c in "\"`'":
            i = string_end(text, i) - 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise DeriveError("unbalanced braces")


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


@dataclass(frozen=True)
class Field:
    key: str  # the YAML key ('' when inline)
    type: str  # Go type expression
    line: int
    inline: bool
    tagged: bool  # False: yaml.v2 lower-cases the Go name


@dataclass
class TypeDecl:
    name: str
    expr: str  # underlying type expression ("struct" for a struct)
    fields: list[Field]
    file: str
    line: int
    imports: dict[str, str]  # package name -> import path, of the declaring file


@dataclass(frozen=True)
class Unmarshaler:
    """How a struct's UnmarshalYAML reads it."""

    kind: str  # plain | sd-inline | anonymous | custom
    file: str
    line: int
    imports: dict[str, str]
    fields: tuple[Field, ...] = ()  # of the anonymous struct it unmarshals into


@dataclass
class Package:
    path: str  # import path
    types: dict[str, TypeDecl] = field(default_factory=dict)
    unmarshalers: dict[str, Unmarshaler] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # repo path -> comment-free source


_FIELD_TAG = re.compile(r'`[^`]*\byaml:"([^"]*)"[^`]*`')


def parse_imports(text: str) -> dict[str, str]:
    specs: list[tuple[str, str]] = []
    for block in re.findall(r"^import\s*\(([^)]*)\)", text, re.MULTILINE):
        specs += re.findall(r"^\s*([\w.]+\s+)?\"([^\"]+)\"", block, re.MULTILINE)
    specs += re.findall(r"^import\s+([\w.]+\s+)?\"([^\"]+)\"", text, re.MULTILINE)
    imports: dict[str, str] = {}
    for alias, path in specs:
        parts = path.split("/")
        name = parts[-2] if re.fullmatch(r"v\d+", parts[-1]) and len(parts) > 1 else parts[-1]
        imports[alias.strip() or name.replace("-", "_")] = path
    return imports


def parse_fields(body: str, first_line: int) -> list[Field]:
    """Fields of a struct body (the text between its braces) as yaml.v2 reads them."""
    fields: list[Field] = []
    lines = body.split("\n")
    i = 0
    while i < len(lines):
        lineno, text = first_line + i, lines[i].strip()
        i += 1
        if "{" in text and text.count("{") > text.count("}"):  # anonymous struct field
            depth = text.count("{") - text.count("}")
            while depth > 0 and i < len(lines):
                text += " " + lines[i].strip()
                depth += lines[i].count("{") - lines[i].count("}")
                i += 1
        if not text:
            continue
        tag_match = _FIELD_TAG.search(text)
        tag = tag_match.group(1) if tag_match else ""
        if tag == "-":
            continue
        code = re.sub(r"`[^`]*`", "", text).strip()
        name_opts = tag.split(",")
        inline = "inline" in name_opts[1:]
        if m := re.fullmatch(r"([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s+(\S.*)", code):
            names, type_expr = [s.strip() for s in m.group(1).split(",")], m.group(2)
        elif re.fullmatch(r"\*?[\w.]+", code):  # embedded: its name is the bare type name
            names, type_expr = [code.lstrip("*").rsplit(".", 1)[-1]], code
        else:
            raise DeriveError(f"cannot parse struct field at line {lineno}: {text!r}")
        for name in names:
            if not name[0].isupper() and not inline:
                continue  # unexported: yaml.v2 ignores it
            key = "" if inline else name_opts[0] or name.lower()  # yaml.v2's default key
            fields.append(Field(key, type_expr, lineno, inline, bool(name_opts[0])))
    return fields


def parse_package(import_path: str, files: dict[str, str]) -> Package:
    pkg = Package(import_path)
    for path, raw in files.items():
        text = strip_comments(raw)
        pkg.sources[path] = text
        imports = parse_imports(text)
        for name, expr, pos in _type_decls(text):
            fields: list[Field] = []
            is_struct = re.match(r"struct\s*\{", expr) is not None
            if is_struct:
                brace = text.index("{", pos + text[pos:].index("struct"))
                end = matching_brace(text, brace)
                fields = parse_fields(text[brace + 1 : end], line_of(text, brace))
            pkg.types.setdefault(name, TypeDecl(name, "struct" if is_struct else expr, fields,
                                                path, line_of(text, pos), imports))
        for m in re.finditer(r"^func \(\w*\s*\*?(\w+)\) UnmarshalYAML\([^)]*\)[^{]*\{",
                             text, re.MULTILINE):
            end = matching_brace(text, m.end() - 1)
            pkg.unmarshalers[m.group(1)] = _classify(m.group(1), text, (m.end(), end), path,
                                                     imports)
    return pkg


def _type_decls(text: str) -> Iterator[tuple[str, str, int]]:
    """(name, type expression, position of the name) of each top-level type declaration."""
    for m in re.finditer(r"^type\s+(\w+)\s*=?\s*(.*)$", text, re.MULTILINE):
        if not m.group(2).startswith("("):
            yield m.group(1), m.group(2).strip(), m.start(1)
    for m in re.finditer(r"^type\s*\(\n(.*?)^\)", text, re.MULTILINE | re.DOTALL):
        for d in re.finditer(r"^\t(\w+)\s*=?\s*(.*)$", m.group(1), re.MULTILINE):
            yield d.group(1), d.group(2).strip(), m.start(1) + d.start(1)


def _classify(name: str, text: str, span: tuple[int, int], path: str,
              imports: dict[str, str]) -> Unmarshaler:
    start, end = span
    body, line = text[start:end], line_of(text, start)
    if "UnmarshalYAMLWithInlineConfigs(" in body:
        return Unmarshaler("sd-inline", path, line, imports)
    if re.search(rf"^\s*type\s+\w+\s+{name}\s*$", body, re.MULTILINE):
        return Unmarshaler("plain", path, line, imports)
    if m := re.search(r"struct\s*\{", body):
        brace = start + m.end() - 1
        close = matching_brace(text, brace)
        fields = parse_fields(text[brace + 1 : close], line_of(text, brace))
        return Unmarshaler("anonymous", path, line, imports, tuple(fields))
    return Unmarshaler("custom", path, line, imports)


def split_type(expr: str) -> tuple[str, str]:
    """`map[K]V` -> (K, V), with brackets in K balanced."""
    depth = 0
    for i, c in enumerate(expr[3:], 3):
        depth += {"[": 1, "]": -1}.get(c, 0)
        if depth == 0:
            return expr[4:i], expr[i + 1 :].strip()
    raise DeriveError(f"cannot parse map type {expr!r}")


# --------------------------------------------------------------------------- sources


class Sources:
    """Go packages of the parsed modules, loaded on demand."""

    def __init__(self, modules: list[Module]) -> None:
        self.modules = sorted(modules, key=lambda mod: -len(mod.path))
        self.packages: dict[str, Package | None] = {}

    def module_of(self, import_path: str) -> tuple[Module, str] | None:
        for mod in self.modules:
            if import_path == mod.path or import_path.startswith(mod.path + "/"):
                return mod, import_path[len(mod.path) :].lstrip("/")
        return None

    def package(self, import_path: str) -> Package | None:
        if import_path not in self.packages:
            found = self.module_of(import_path)
            pkg = None
            if found is not None:
                mod, directory = found
                files = {p: mod.tree.show(p) for p in mod.tree.go_files(directory)}
                if not files:
                    raise DeriveError(f"{mod.path}@{mod.tree.tag}: no Go files in {directory!r}")
                pkg = parse_package(import_path, files)
            self.packages[import_path] = pkg
        return self.packages[import_path]

    def cite(self, import_path: str, file: str, line: int | None) -> str:
        """`[module@version ]file[:line]`; Prometheus' own files go unprefixed."""
        found = self.module_of(import_path)
        label = found[0].label if found else ""
        return f"{label} {file}{'' if line is None else f':{line}'}".strip()


# --------------------------------------------------------------------------- key tree


def join(path: str, key: str) -> str:
    if key == LIST:
        return path + LIST
    return f"{path}.{key}" if path else key


@dataclass(frozen=True)
class SDConfig:
    """A list key that UnmarshalYAMLWithInlineConfigs adds beside a struct's own fields."""

    key: str
    elem: str  # Go type expression of one list item
    package: str  # where `elem` is written
    imports: dict[str, str]


@dataclass
class KeyTree:
    """Walks Go types from Config, collecting YAML key paths."""

    src: Sources
    sd_configs: list[SDConfig]
    paths: dict[str, str] = field(default_factory=dict)  # path -> "" or hand-listed citation
    outside: set[str] = field(default_factory=set)  # types of modules not parsed
    custom: dict[str, str] = field(default_factory=dict)  # type -> its UnmarshalYAML citation
    untagged: dict[str, str] = field(default_factory=dict)  # path -> field citation
    stack: list[str] = field(default_factory=list)

    def emit(self, path: str, hand: str = "") -> None:
        self.paths.setdefault(path, hand)

    def expand(self, expr: str, pkg: Package, imports: dict[str, str], path: str) -> None:
        expr = expr.strip().lstrip("*").strip()
        if expr.startswith("[]") or re.match(r"\[\w*\]", expr):
            self.expand(expr[expr.index("]") + 1 :], pkg, imports, join(path, LIST))
        elif expr.startswith("map["):
            value, star = split_type(expr)[1], join(path, ANY)
            if value.lstrip("*") not in FREE:
                self.expand(value, pkg, imports, star)
            if not any(p.startswith((f"{star}.", f"{star}[")) for p in self.paths):
                self.emit(star)  # values without keys: allow any value
        elif expr in FREE:
            self.emit(join(path, ANY))
        elif expr.startswith("struct"):
            body = expr[expr.index("{") + 1 : expr.rindex("}")]
            self.walk_fields(parse_fields(body, 0), pkg, imports, path, "(anonymous struct)")
        elif expr in SCALARS or expr.startswith(("func", "chan ", "<-chan")):
            return
        elif "." in expr:
            qualifier, name = expr.split(".", 1)
            if qualifier not in imports:
                raise DeriveError(f"{pkg.path}: unknown package {qualifier!r} in {expr!r}")
            self.named(imports[qualifier], name, path)
        else:
            self.named(pkg.path, expr, path)

    def named(self, import_path: str, name: str, path: str) -> None:
        qualified = f"{import_path}.{name}"
        if hand := MAP_OVERRIDES.get((import_path, name)):
            self.emit(join(path, ANY), f"{name}: {hand}")
            return
        pkg = self.src.package(import_path)
        if pkg is None:
            self.outside.add(qualified)
            return
        decl = pkg.types.get(name)
        if decl is None:
            raise DeriveError(f"type {qualified} not found")
        if qualified in self.stack or len(self.stack) > 40:
            raise DeriveError(f"recursive or too deep type nesting at {path}: {self.stack}")
        self.stack.append(qualified)
        try:
            self._named(pkg, decl, qualified, path)
        finally:
            self.stack.pop()

    def _named(self, pkg: Package, decl: TypeDecl, qualified: str, path: str) -> None:
        if decl.expr != "struct":
            self.expand(decl.expr, pkg, decl.imports, path)
            return
        how = pkg.unmarshalers.get(decl.name)
        if how is None or how.kind in ("plain", "sd-inline"):
            self.walk_fields(decl.fields, pkg, decl.imports, path,
                             self.src.cite(pkg.path, decl.file, None))
        if how is None:
            return
        if how.kind == "sd-inline":
            for sd in self.sd_configs:
                home = self.src.package(sd.package)
                assert home is not None  # sd_config_keys read it
                self.expand(f"[]{sd.elem}", home, sd.imports, join(path, sd.key))
        elif how.kind == "anonymous":
            self.walk_fields(list(how.fields), pkg, how.imports, path,
                             self.src.cite(pkg.path, how.file, None))
        elif how.kind == "custom":
            self.custom[qualified] = self.src.cite(pkg.path, how.file, how.line)

    def walk_fields(self, fields: list[Field], pkg: Package, imports: dict[str, str],
                    path: str, file: str) -> None:
        for f in fields:
            if f.inline:  # a struct's fields, or a map's keys, at this level
                self.expand(f.type, pkg, imports, path)
                continue
            child = join(path, f.key)
            self.emit(child)
            if not f.tagged:
                self.untagged[child] = f"{file}:{f.line}"
            self.expand(f.type, pkg, imports, child)


def sd_config_keys(src: Sources, main: Module) -> list[SDConfig]:
    """static_configs and each built-in `<name>_sd_configs`, as discovery registers them."""
    registry = strip_comments(main.tree.show(SD_REGISTRY))
    static = re.search(r'staticConfigsKey\s*=\s*"(\w+)"', registry)
    elem = re.search(r"elemTyp\s*:=\s*reflect\.TypeFor\[([^\]]+)\]\(\)", registry)
    suffix = re.search(r'config\.Name\(\)\s*\+\s*"(\w+)"', registry)
    if not (static and elem and suffix):
        raise DeriveError(f"{SD_REGISTRY}: static_configs or RegisterConfig not found")
    discovery = f"{PROMETHEUS}/discovery"
    found = [SDConfig(static.group(1), elem.group(1), discovery, parse_imports(registry))]
    install = strip_comments(main.tree.show(SD_INSTALL))
    for import_path in re.findall(r'_\s+"([^"]+)"', install):
        pkg = src.package(import_path)
        if pkg is None:
            raise DeriveError(f"{SD_INSTALL}: cannot read {import_path}")
        for text in pkg.sources.values():
            for type_name in re.findall(r"discovery\.RegisterConfig\(&(\w+)\{\}\)", text):
                key = _sd_name(pkg, type_name) + suffix.group(1)
                found.append(SDConfig(key, type_name, import_path, {}))
    if len(found) < 2:
        raise DeriveError(f"{SD_INSTALL}: no service discovery registered")
    return found


def _sd_name(pkg: Package, type_name: str) -> str:
    pattern = rf'func \(\w*\s*\*?{type_name}\) Name\(\) string \{{\s*return "([\w-]+)"'
    for text in pkg.sources.values():
        if m := re.search(pattern, text):
            return m.group(1)
    raise DeriveError(f"{pkg.path}: Name() of {type_name} not found")


def derive_keys(src: Sources, main: Module) -> KeyTree:
    tree = KeyTree(src, sd_config_keys(src, main))
    tree.named(CONFIG_PKG, ROOT_TYPE, "")
    if not tree.paths:
        raise DeriveError(f"no keys found under {CONFIG_PKG}.{ROOT_TYPE}")
    return tree


# --------------------------------------------------------------------------- flags


@dataclass(frozen=True)
class Flag:
    name: str
    where: str
    attributes: tuple[str, ...]


def derive_flags(src: Sources, main: Module) -> tuple[list[Flag], list[Flag], list[str]]:
    """(flags, hand-listed kingpin built-ins, notes) of cmd/prometheus."""
    text = strip_comments(main.tree.show(MAIN_GO))
    app = re.search(r"(\w+)\s*:=\s*kingpin\.New\(", text)
    if app is None:
        raise DeriveError(f"{MAIN_GO}: kingpin.New not found")
    a = app.group(1)
    # Wrappers such as serverOnlyFlag(app, name, help) that define a flag on the app.
    wrappers: dict[str, str] = {}
    for m in re.finditer(r"^func (\w+)\((\w+) \*kingpin\.Application, name\b[^{]*\{",
                         text, re.MULTILINE):
        if f"{m.group(2)}.Flag(name," in text[m.end() : matching_brace(text, m.end() - 1)]:
            words = re.findall(r"[A-Z]?[a-z]+", m.group(1).removesuffix("Flag"))
            wrappers[m.group(1)] = "-".join(w.lower() for w in words)
    call = "|".join([rf"\b{a}\.Flag\(", *(rf"\b{w}\({a},\s*" for w in wrappers)])
    starts = list(re.finditer(rf'({call})\s*"([^"]+)",\s*(?:"|`)(.{{0,12}})', text))
    if not starts:
        raise DeriveError(f"{MAIN_GO}: no {a}.Flag calls")
    flags: list[Flag] = []
    for i, m in enumerate(starts):
        stop = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        clause = re.split(r"\n\s*\n", text[m.start() : stop], maxsplit=1)[0]
        wrapper = m.group(1).split("(", 1)[0]
        attributes = [wrappers[wrapper]] if wrapper in wrappers else []
        if re.search(r"\.\s*Hidden\(\)", clause):
            attributes.append("hidden")
        if m.group(3).startswith("[DEPRECATED]"):
            attributes.append("deprecated")
        flags.append(Flag(m.group(2), f"{MAIN_GO}:{line_of(text, m.start())}", tuple(attributes)))
    flags += _added_flags(src, text, a)
    builtins = []
    if version := re.search(rf"\b{a}\.Version\(", text):
        where = f"{MAIN_GO}:{line_of(text, version.start())}"
        builtins.append(Flag("version", f"{where} (kingpin Application.Version adds it)", ()))
    where = f"{MAIN_GO}:{line_of(text, app.start())}"
    builtins.append(Flag("help", f"{where} (kingpin.New always defines --help)", ()))
    notes = []
    if parse := re.search(rf"\b{a}\.Parse\(.*?os\.Exit\((\d+)\)", text, re.DOTALL):
        notes.append(f"kingpin rejects an unknown flag; Prometheus then exits with status "
                     f"{parse.group(1)} ({MAIN_GO}:{line_of(text, parse.start())})")
    return flags, builtins, notes


def _added_flags(src: Sources, text: str, a: str) -> list[Flag]:
    """Flags other packages define on the app, e.g. promslogflag.AddFlags(a, ...)."""
    imports = parse_imports(text)
    flags: list[Flag] = []
    for m in re.finditer(rf"\b(\w+)\.AddFlags\({a},", text):
        import_path = imports.get(m.group(1))
        pkg = src.package(import_path) if import_path else None
        if pkg is None:
            raise DeriveError(f"{MAIN_GO}: pass --module for the package of {m.group(0)}")
        for path, source in pkg.sources.items():
            consts = dict(re.findall(r'^const (\w+)\s*=\s*"([^"]+)"', source, re.MULTILINE))
            for f in re.finditer(r'\ba\.Flag\((?:"([^"]+)"|(\w+)),', source):
                name = f.group(1) or consts.get(f.group(2) or "")
                if name is None:
                    raise DeriveError(f"{path}: flag name {f.group(2)} is not a constant")
                where = src.cite(pkg.path, path, line_of(source, f.start()))
                flags.append(Flag(name, f"{where} via {MAIN_GO}:{line_of(text, m.start())}", ()))
    return flags


def derive_features(main: Module) -> tuple[list[Flag], list[str]]:
    """The cases of the --enable-feature switch, each marked deprecated or no-op if it is."""
    text = strip_comments(main.tree.show(MAIN_GO))
    func = re.search(rf"^func \([^)]*\) {FEATURE_FUNC}\([^)]*\)[^{{]*\{{", text, re.MULTILINE)
    if func is None:
        raise DeriveError(f"{MAIN_GO}: {FEATURE_FUNC} not found")
    body_start = text.index("{", text.index("switch", func.end()))
    body = text[body_start : matching_brace(text, body_start)]
    labels = list(re.finditer(r"^\s*(case\s+([^:]*)|default):", body, re.MULTILINE))
    features: list[Flag] = []
    notes = [f"--enable-feature values are the cases of {FEATURE_FUNC} "
             f"({MAIN_GO}:{line_of(text, func.start())})"]
    for i, m in enumerate(labels):
        end = labels[i + 1].start() if i + 1 < len(labels) else len(body)
        code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', body[m.end() : end])
        line = f"{MAIN_GO}:{line_of(text, body_start + m.start(1))}"
        warns = "logger.Warn(" in code
        if m.group(1) == "default":
            fails = "returns an error" if re.search(r"\breturn\b", code) else "does not fail"
            notes.append(f"an unknown value {'logs a warning and ' if warns else ''}{fails} "
                         f"(the default case, {line})")
            continue
        # A case that only logs changes nothing; one that also warns is being phased out.
        acts = re.search(r"[^=!<>:]=[^=]|\w\(|\breturn\b", re.sub(r"logger\.\w+\(", "", code))
        attributes = ("no-op",) if not acts else ("deprecated",) if warns else ()
        for name in re.findall(r'"([^"]+)"', m.group(2)):
            features.append(Flag(f"feature:{name}", line, attributes))
    if not features:
        raise DeriveError(f"{MAIN_GO}: no cases in {FEATURE_FUNC}")
    if listed := re.search(r'Flag\("enable-feature",\s*"[^"]*Valid options: ([^"]*?)\.', text):
        missing = sorted({f.name.removeprefix("feature:") for f in features}
                         - {name.strip() for name in listed.group(1).split(",")})
        notes.append(f"cases the --enable-feature help ({MAIN_GO}:{line_of(text, listed.start())})"
                     f" does not list: {', '.join(missing)}")
    return features, notes



# --------------------------------------------------------------------------- output


def header(kind: str, src: Sources, main: Module, sources: list[str], what: str) -> list[str]:
    """Call after deriving: it names the modules that were read."""
    tag = main.tree.tag
    read = {found[0] for path, pkg in src.packages.items()
            if pkg is not None and (found := src.module_of(path)) is not None}
    modules = [m for m in src.modules if m.label and m in read]
    regenerate = [f"python tools/derive_prometheus_reference.py {what}",
                  f"--git-dir <clone of {REPOSITORY}> --tag {tag}"]
    regenerate += [f"--module {m.path}=<clone of https://{m.path}>" for m in modules]
    return [
        f"# {kind} of prometheus {tag}, derived from the release's Go sources.",
        f"# Repository: {REPOSITORY}",
        f"# Tag: {tag} (commit {main.tree.commit})",
        *(f"# Source: {s}" for s in sources),
        *(f"# Module (version from go.mod): {m.label} (commit {m.tree.commit})"
          for m in modules),
        "# Regenerate (do not edit by hand):",
        *(f"#   {part} \\" for part in regenerate),
        f"#     > tests/reference/prometheus-{tag}-{what}.txt",
    ]


def render_keys(src: Sources, main: Module) -> str:
    tree = derive_keys(src, main)
    config = strip_comments(main.tree.show(CONFIG_GO))
    strict = re.search(r"^func Load\(.*?yaml\.UnmarshalStrict\(", config, re.MULTILINE | re.DOTALL)
    if strict is None:
        raise DeriveError(f"{CONFIG_GO}: Load does not use yaml.UnmarshalStrict; keys may pass")
    stdlib = sorted(t for t in tree.outside if "." not in t.rsplit(".", 1)[0].split("/", 1)[0])
    out = header("YAML config keys", src, main, [
        f"{CONFIG_GO} type {ROOT_TYPE} and every type it reaches (`yaml` tags, `,inline`)",
        f"{SD_REGISTRY} (static_configs) and the service discoveries {SD_INSTALL} imports",
    ], "keys")
    out += [
        "# Syntax: a.b = key b in mapping a; a[] = each item of list a; * = any one key;",
        "# a trailing * allows anything below. Every prefix of a path is a known key.",
        "# Prometheus reads the file with yaml.UnmarshalStrict "
        f"({CONFIG_GO}:{line_of(config, strict.end())}): an unknown key is an error;",
        "# an untagged exported field is read under its lower-cased name.",
        "# Notes:",
        *(f"#   {path}: untagged Go field ({where})"
          for path, where in sorted(tree.untagged.items())),
        *(f"#   {name}: its UnmarshalYAML reads a value, not keys ({where})"
          for name, where in sorted(tree.custom.items())),
        *(f"#   {name}: module not parsed; taken as a value without keys"
          for name in sorted(tree.outside - set(stdlib))),
        f"#   standard library types taken as values: {', '.join(stdlib)}",
    ]
    out += sorted(path for path, hand in tree.paths.items() if not hand)
    out += ["", "# ---- Shapes a custom UnmarshalYAML reads, listed by hand (type: reason) ----"]
    out += sorted(f"{path}  # {why}" for path, why in tree.paths.items() if why)
    return "\n".join(out) + "\n"


def render_flags(src: Sources, main: Module) -> str:
    flags, builtins, notes = derive_flags(src, main)
    features, feature_notes = derive_features(main)
    out = header("Command-line flags", src, main, [
        f"{MAIN_GO}: flag clauses, and the switch in {FEATURE_FUNC} for --enable-feature",
    ], "flags")
    out += [
        "# Format: `<flag name>  # <file>:<line> [attributes]`; `feature:<name>` is a value of",
        "# --enable-feature. Attributes: server-only/agent-only (the other mode exits),",
        "# hidden, deprecated (help text or a warning says so), no-op (only logs a warning).",
        "# Notes:",
        *(f"#   {note}" for note in [*notes, *feature_notes]),
    ]
    out += [_flag_line(f) for f in sorted(flags, key=lambda f: f.name)]
    out += ["", "# ---- --enable-feature values ----"]
    out += [_flag_line(f) for f in sorted(features, key=lambda f: f.name)]
    out += ["", "# ---- kingpin built-ins, listed by hand ----", *map(_flag_line, builtins)]
    return "\n".join(out) + "\n"


def _flag_line(flag: Flag) -> str:
    attributes = f" [{', '.join(flag.attributes)}]" if flag.attributes else ""
    return f"{flag.name}  # {flag.where}{attributes}"


# --------------------------------------------------------------------------- reading it back


@dataclass(frozen=True)
class FlagReference:
    """A committed flags file: flag name, or --enable-feature value, -> its attributes."""

    flags: dict[str, frozenset[str]]
    features: dict[str, frozenset[str]]


def load_flag_reference(path: Path) -> FlagReference:
    flags: dict[str, frozenset[str]] = {}
    features: dict[str, frozenset[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, comment = line.partition("#")
        name = name.strip()
        if not name:
            continue
        found = re.search(r"\[([^\]]*)\]\s*$", comment)
        attributes = frozenset(a.strip() for a in found.group(1).split(",")) if found else None
        if name.startswith("feature:"):
            features[name.removeprefix("feature:")] = attributes or frozenset()
        else:
            flags[name] = attributes or frozenset()
    if not flags or not features:
        raise ValueError(f"{path}: no flags or no features")
    return FlagReference(flags, features)


# --------------------------------------------------------------------------- main


def load_modules(git_dir: str, tag: str, module_dirs: list[str]) -> list[Module]:
    """The required modules given as PATH=DIR, at their go.mod versions; Prometheus last."""
    main = Module(PROMETHEUS, GitTree(git_dir, tag), "")
    versions = go_mod_versions(main.tree.show("go.mod"))
    modules = []
    for spec in module_dirs:
        path, _, directory = spec.partition("=")
        if path not in versions or not directory:
            raise DeriveError(f"--module {spec}: not PATH=DIR of a module {tag} requires")
        tree = GitTree(directory, versions[path])
        if not re.search(rf"^module\s+{re.escape(path)}\s*$", tree.show("go.mod"), re.MULTILINE):
            raise DeriveError(f"{directory} at {versions[path]} is not module {path}")
        modules.append(Module(path, tree, f"{path}@{versions[path]}"))
    return [*modules, main]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("what", choices=["keys", "flags"])
    parser.add_argument("--git-dir", required=True, help="clone of prometheus/prometheus")
    parser.add_argument("--tag", required=True, help="release tag, e.g. v3.14.0")
    parser.add_argument("--module", action="append", default=[], metavar="PATH=DIR",
                        help="clone of a Go module the release requires, read at its go.mod"
                        " version; types of modules not given are taken as values without keys")
    args = parser.parse_args(argv)
    try:
        modules = load_modules(args.git_dir, args.tag, args.module)
        render = render_keys if args.what == "keys" else render_flags
        sys.stdout.write(render(Sources(modules), modules[-1]))
    except DeriveError as err:
        print(f"derive_prometheus_reference: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reading a release's docs at its tag: git access, markdown fences, the pseudo-YAML blocks of
Loki's and Tempo's configuration references, and the key paths they expand to."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

LIST = "[]"


ANY = "*"


KEY = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
KEY_LINE = re.compile(rf"^({KEY}):(?:\s+(.*))?$")
BRACKET_KEY = re.compile(rf"^\[\s*({KEY})\s*:\s*(.*)$")
TYPE = re.compile(r"^<([^>]*)>")


class DeriveError(Exception):
    pass


class Repo:
    def __init__(self, git_dir: str, tag: str) -> None:
        self.git_dir = git_dir
        self.tag = tag
        self.commit = self.git("rev-parse", "--verify", f"{tag}^{{commit}}").strip()

    def git(self, *args: str, check: bool = True) -> str:
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
        return self.git("show", f"{self.commit}:{path}")


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

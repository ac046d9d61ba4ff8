"""Show what a change does to what lands on the host: a unified diff of two rendered trees.

`python -m review.diff --stack staging --base origin/main` renders the base commit in a temporary
git worktree and the working tree here, then prints the diff on stdout, empty when nothing
changed; one line on stderr says which files differ, or that none do.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from review.render import render
from settings.stack_file import ROOT, stack_argument


def _files(tree: Path) -> dict[str, str]:
    if not tree.exists():
        return {}
    return {str(path.relative_to(tree)): path.read_text()
            for path in sorted(tree.rglob("*")) if path.is_file()}


def changed_files(base: Path, head: Path) -> list[str]:
    """The paths whose content differs (added and removed ones too), in path order."""
    before, after = _files(base), _files(head)
    return [name for name in sorted(before.keys() | after.keys())
            if before.get(name) != after.get(name)]


def diff_trees(base: Path, head: Path) -> Iterator[str]:
    """Unified diff lines, file by file, in path order."""
    before, after = _files(base), _files(head)
    for name in changed_files(base, head):
        old, new = before.get(name, ""), after.get(name, "")
        yield from difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"a/{name}" if name in before else "/dev/null",
            tofile=f"b/{name}" if name in after else "/dev/null")


# Where the offline render lived, newest first: a base from before the layout of issue 11 still
# renders with its own code.
RENDER_MODULES: Final = ("review.render", "tools.render")


def render_module(ref: str) -> str | None:
    """The render module of git `ref`, or None where it predates offline rendering."""
    for module in RENDER_MODULES:
        path = module.replace(".", "/") + ".py"
        if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{ref}:{path}"],
                          check=False, capture_output=True).returncode == 0:
            return module
    return None


def render_ref(ref: str, module: str, stack: str, out: Path, scratch: Path) -> None:
    """Render `stack` as of git `ref`, with this virtualenv, in a throwaway worktree."""
    worktree = scratch / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet",
                    str(worktree), ref], check=True)
    try:
        subprocess.run([sys.executable, "-m", module, "--stack", stack, "--out", str(out)],
                       cwd=worktree, check=True, stdout=subprocess.DEVNULL)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                       check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, type=stack_argument)
    parser.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main")
    args = parser.parse_args(argv)
    module = render_module(args.base)
    if module is None:
        print(f"cannot diff: {args.base} has no review/render.py (it predates offline rendering)",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        render_ref(args.base, module, args.stack, scratch / "base-tree", scratch)
        render(args.stack, scratch / "head-tree")
        sys.stdout.writelines(diff_trees(scratch / "base-tree", scratch / "head-tree"))
        sys.stdout.flush()
        changed = changed_files(scratch / "base-tree", scratch / "head-tree")
    print(summary(args.stack, args.base, changed), file=sys.stderr)
    return 0


def summary(stack: str, base: str, changed: list[str]) -> str:
    """The line for a person (stderr, so stdout stays a diff): which files differ, or none."""
    if not changed:
        return f"{stack}: no difference: the working tree renders exactly what {base} renders"
    return f"{stack}: {len(changed)} rendered file(s) differ from {base}: {', '.join(changed)}"


if __name__ == "__main__":
    sys.exit(main())

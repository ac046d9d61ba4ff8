"""Write the config declarations of Pulumi.yaml and the README's config table from settings.KEYS,
the README's stack diagram (review/diagram.py) from the services table and the builders,
docs/alerts.md (review/alerts_doc.py) from the runbooks beside the rules, and the generated
pages of docs/: each stack's diagrams (docs/stacks.md, review/stacks_page.py) and each
dashboard's layout (docs/dashboards/, review/dashboard_pictures.py).

`python -m review.config_docs` (`make docs`) rewrites them in place and says which files it
rewrote, or that all were up to date; the tests fail when any drifts, so defaults and
descriptions live only in settings/keys.py, ports in services.py, layouts in the dashboard
builders.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import yaml

from configs.mixins import dashboards
from review import alerts_doc, dashboard_pictures, diagram, stacks_page
from settings import KEYS, ConfigKey, Kind
from settings.stack_file import ROOT, file_settings

README_BEGIN: Final = "<!-- config-table:begin -->"
README_END: Final = "<!-- config-table:end -->"
STACKS_PAGE: Final = Path("docs/stacks.md")
DASHBOARDS_DIR: Final = Path("docs/dashboards")


def declaration(key: ConfigKey) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": key.kind.value, "description": key.documented}
    if key.kind is Kind.ARRAY:
        entry["items"] = {"type": "string"}
    # No default makes the CLI demand a value: that is what "required" means here.
    if key.default is not None:
        entry["default"] = list(key.default) if isinstance(key.default, tuple) else key.default
    return entry


def pulumi_config() -> dict[str, dict[str, Any]]:
    """The declared keys: every key but the secrets.

    The CLI cannot declare an optional secret: a declared key without a default is required of
    every stack, and a default is merged in as plain text, which the CLI then refuses for a key
    typed secret ("must be encrypted as it's secret"; pulumi/pulumi pkg/v3 v3.276.0
    workspace/config.go `mergeConfig`). So the secrets stay undeclared, and the program reads
    them, refuses one set without `--secret` and names each one a stack needs but lacks.
    """
    return {key.name: declaration(key) for key in KEYS if not key.secret}


def _secrets_comment() -> str:
    names = [f"#   {key.name}\n" for key in KEYS if key.secret]
    return ("# Secrets are not declared here: Pulumi cannot declare an optional secret (a default\n"
            "# is merged as plain text and refused). Set each with `pulumi config set --secret`;\n"
            "# the program names those a stack needs:\n" + "".join(names))


def render_pulumi_yaml(current: str) -> str:
    """The project file with its `config:` block regenerated and everything above it kept."""
    head = current.split("\n# Secrets are not declared here", 1)[0]
    head = head.split("\nconfig:\n", 1)[0].rstrip("\n")
    body = yaml.safe_dump({"config": pulumi_config()}, sort_keys=False, width=100)
    return f"{head}\n{_secrets_comment()}{body}"


def _default_text(key: ConfigKey) -> str:
    if key.default is None:
        return "required"
    if key.default in ("", ()):
        return "unset"
    if isinstance(key.default, bool):
        return f"`{str(key.default).lower()}`"
    return f"`{key.default}`"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def readme_table() -> str:
    rows = [f"| `{key.name}` | {key.kind.value}{' (secret)' if key.secret else ''} | "
            f"{_default_text(key)} | {_escape(key.documented)} |" for key in KEYS]
    return "\n".join(["| Key | Type | Default | What it sets |", "|---|---|---|---|", *rows])


def render_readme(current: str) -> str:
    pattern = re.compile(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), re.S)
    return pattern.sub(f"{README_BEGIN}\n{readme_table()}\n{README_END}", current)


# Each generated file and what in it is generated, in the order they are written.
GENERATED: Final[tuple[tuple[str, str, Callable[[str], str]], ...]] = (
    ("Pulumi.yaml", "the config: block", render_pulumi_yaml),
    ("README.md", "the config table", render_readme),
    ("README.md", "the stack diagram", diagram.render_readme),
    # Whole: every line of it comes from the runbooks beside the rules.
    ("docs/alerts.md", "the alert runbooks", lambda _current: alerts_doc.render()),
)


def regenerate() -> dict[str, list[str]]:
    """Rewrite every generated part in place; the parts that changed, by file."""
    rewritten: dict[str, list[str]] = {}
    for name, part, render in GENERATED:
        path = ROOT / name
        current = path.read_text()
        updated = render(current)
        if updated != current:
            path.write_text(updated)
            rewritten.setdefault(name, []).append(part)
    return rewritten


def generated_docs() -> dict[Path, str]:
    """Every file of docs/ that `make docs` writes whole, by path from the repository root."""
    by_stack = {stack: dashboards(file_settings(stack)) for stack in stacks_page.STACKS}
    pictures = {DASHBOARDS_DIR / name: text
                for name, text in dashboard_pictures.files(by_stack).items()}
    return {STACKS_PAGE: stacks_page.page(), **pictures}


def stale_docs(root: Path = ROOT) -> list[Path]:
    """Files in docs/dashboards/ that no dashboard makes any more (one removed or renamed)."""
    wanted = set(generated_docs())
    folder = root / DASHBOARDS_DIR
    found = sorted(folder.iterdir()) if folder.is_dir() else []
    return [path.relative_to(root) for path in found if path.relative_to(root) not in wanted]


def _write(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def main() -> int:
    rewritten = regenerate()
    for relative, text in generated_docs().items():
        if _write(ROOT / relative, text):
            rewritten.setdefault(str(relative), []).append("whole")
    for relative in stale_docs():
        (ROOT / relative).unlink()
        print(f"make docs: removed {relative} (no dashboard makes it any more)")
    if not rewritten:
        names = [*sorted({name for name, _, _ in GENERATED}), str(STACKS_PAGE),
                 f"{DASHBOARDS_DIR}/"]
        print(f"make docs: all up to date ({', '.join(names)}), nothing rewritten")
    for name, parts in rewritten.items():
        print(f"make docs: rewrote {name} ({', '.join(parts)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

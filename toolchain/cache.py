"""What the builds of toolchain/ share: the cache outside the repository they build into, one
build at a time per lock, the stamp that marks a finished build, the `go` they build with, and
the lines `make tools` and `make images` print about each piece (`Progress`).

A build writes into a scratch directory and moves it into place whole, its stamp last written,
so a directory with a stamp is always a finished build and an interrupted one is never used.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

STAMP: Final = "build.json"
BUILD_TIMEOUT_SECONDS: Final = 3600
# How often a build still under way says so: a cold CLI build is minutes of one `go build`.
HEARTBEAT_SECONDS: Final = 60.0


class BuildError(RuntimeError):
    """Something could not be fetched or built; the message names what, and why."""


def cache_root() -> Path:
    """`$GATEWAYZ_CACHE`, else `$XDG_CACHE_HOME/gatewayz-observability`, else under ~/.cache."""
    explicit = os.environ.get("GATEWAYZ_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gatewayz-observability"


@contextlib.contextmanager
def locked(directory: Path, say: Callable[[str], None] | None = None) -> Iterator[None]:
    """One build at a time per directory: the tests and `make tools` may race on a cold cache.
    `say` hears why nothing happens while another process holds the lock."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if say is not None:
                say(f"waiting for another build to finish (it holds {directory / '.lock'}) ...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def stamp(directory: Path) -> dict[str, Any] | None:
    """The stamp of a finished build in `directory`, or None (never built, or interrupted)."""
    try:
        loaded = json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def finished(directory: Path, name: str) -> Path | None:
    """The binary `name` of the finished build in `directory`, or None (never built, or
    interrupted)."""
    path = directory / name
    return path if stamp(directory) is not None and path.is_file() else None


def required(name: str, pin: str, path: Path | None) -> Path:
    """`path`, the cached build of `name` from `pin`; BuildError before `make tools`."""
    if path is None:
        raise BuildError(f"{name} of {pin} is not built: run `make tools`")
    return path


def install(staged: Path, target: Path, facts: Mapping[str, object]) -> None:
    """Stamp `staged` with `facts` and move it to `target`, replacing what was there."""
    (staged / STAMP).write_text(json.dumps(dict(facts), sort_keys=True, indent=2) + "\n")
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(staged, target)


def writable_copy(source: Path, target: Path) -> None:
    """Copy a module out of the module cache, which is read-only, so a build can write into it
    (placeholders, `go mod edit`, `go generate`)."""
    shutil.copytree(source, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def go(args: list[str], cwd: Path | None = None,
       env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `go` as the builds do: static (cgo off), outside any workspace, no VCS stamping."""
    binary = shutil.which("go")
    if binary is None:
        raise BuildError("go is not installed (https://go.dev/doc/install); `make tools` builds "
                         "the pinned releases and the Pulumi engine with it")
    environment = {**os.environ, "CGO_ENABLED": "0", "GOWORK": "off",
                   "GOFLAGS": "-buildvcs=false", **(env or {})}
    return subprocess.run([binary, *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False)


def download(pin: str) -> dict[str, Any]:
    """Fetch `module@version` through the Go module proxy: `go mod download -json`'s answer
    (`Dir`, `Info`, `Origin`, ...)."""
    result = go(["mod", "download", "-json", pin])
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {}
    if result.returncode != 0 or "Dir" not in info:
        answer = info.get("Error") or result.stderr.strip() or result.stdout.strip()
        proxy = os.environ.get("GOPROXY") or go(["env", "GOPROXY"]).stdout.strip()
        raise BuildError(f"{pin}: not fetched from the Go module proxy ({proxy}): {answer}")
    return dict(info)


def last_of(output: str, limit: int = 2000) -> str:
    """The end of a tool's output (where `go build` and `docker build` say what failed), saying
    how much of its start was left out rather than cutting it silently."""
    output = output.strip()
    if len(output) <= limit:
        return output
    return f"[first {len(output) - limit} characters left out] ...{output[-limit:]}"


def took(seconds: float) -> str:
    """`0.4s`, `42.0s`, `3m07s`: an elapsed time as the progress lines print it."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


class Progress:
    """The lines `make tools` and `make images` print, one piece at a time: `building <what>`
    as a build starts, `still building` every `heartbeat` seconds while it runs, `built <what>
    in <time>` (or `FAILED`) when it ends; `already built` for a piece found in the cache.
    `[n/total]` numbers the pieces when the total is known. Quiet with `report=False`."""

    def __init__(self, total: int | None = None, *, report: bool = True,
                 heartbeat: float = HEARTBEAT_SECONDS,
                 write: Callable[[str], None] | None = None) -> None:
        self.total, self.report, self.heartbeat = total, report, heartbeat
        self.write = write or (lambda line: print(line, flush=True))
        self.count = 0
        self.built = 0
        self.started = time.monotonic()

    def say(self, line: str) -> None:
        if self.report:
            self.write(line)

    def _number(self) -> str:
        self.count += 1
        return f"[{self.count}/{self.total}] " if self.total else ""

    def cached(self, what: str, where: Path | str) -> None:
        """One line: `what` needs no build, and where it is."""
        self.say(f"{self._number()}already built: {what}, cached in {where}")

    def found(self, what: str, where: Path | str) -> None:
        """One line: `what` is taken from the machine as it is, not built."""
        self.say(f"{self._number()}already there: {what} at {where} (not built)")

    @contextlib.contextmanager
    def building(self, what: str, note: str = "") -> Iterator[Callable[[Path | str], None]]:
        """Around one build: says it starts, that it still runs, and how it ended. The block
        calls what it is given with where the build went, for the last line."""
        number = self._number()
        began = time.monotonic()
        self.say(f"{number}building {what}{f': {note}' if note else ''} ...")
        where: list[Path | str] = []
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.heartbeat):
                self.say(f"{number}still building {what}: {took(time.monotonic() - began)} "
                         "so far")

        ticker = threading.Thread(target=beat, daemon=True)

        def quiet() -> None:
            stop.set()
            if ticker.is_alive():
                ticker.join()

        if self.report:
            ticker.start()
        try:
            yield where.append
        except BaseException:
            quiet()
            self.say(f"{number}FAILED {what} after {took(time.monotonic() - began)}")
            raise
        quiet()
        self.built += 1
        self.say(f"{number}built {what} in {took(time.monotonic() - began)}"
                 + (f" -> {where[-1]}" if where else ""))

    def summary(self, what: str) -> str:
        """The last line: how many pieces were built, and the time it all took."""
        elapsed = took(time.monotonic() - self.started)
        if not self.built:
            return f"{what}: nothing built, {self.count} already there ({elapsed})"
        return f"{what}: built {self.built} of {self.count} in {elapsed}"


def reported_version(binary: Path, env: Mapping[str, str] | None = None) -> str:
    """What `binary version` prints, stripped (how a build is checked), or "" when it does not
    run."""
    try:
        result = subprocess.run([str(binary), "version"], capture_output=True, text=True,
                                timeout=60, check=False, env={**os.environ, **(env or {})})
    except OSError:
        return ""
    return result.stdout.strip()


class GoBuild(Protocol):
    """A piece `make tools` builds with `go`: the binaries it installs, by name."""

    @property
    def binaries(self) -> Iterable[str]: ...


B = TypeVar("B", bound=GoBuild)


def build_missing(pieces: Sequence[B], *, root: Path, title: str, report: bool,
                  installed: Callable[[str], Path | None], describe: Callable[[B], str],
                  where: Callable[[B], Path], note: Callable[[B], str],
                  build: Callable[[B], Path]) -> None:
    """Build each piece whose binaries are not all `installed`, one build at a time under
    `root`'s lock; with `report`, one line per piece (already built and where, or `building`
    as it starts and `built` with how long it took), then a summary of `title`."""
    progress = Progress(len(pieces), report=report)
    with locked(root, progress.say):
        for piece in pieces:
            if all(installed(name) is not None for name in piece.binaries):
                progress.cached(describe(piece), where(piece))
                continue
            with progress.building(describe(piece), note(piece)) as went:
                went(build(piece))
    progress.say(progress.summary(title))


def make_tools_main(ensure: Callable[[], object]) -> int:
    """`make tools`' entry for one kind of build: run it, and fail with one line saying why."""
    try:
        ensure()
    except (BuildError, subprocess.TimeoutExpired, OSError) as error:
        print(f"FAIL make tools: {error}", file=sys.stderr)
        return 1
    return 0

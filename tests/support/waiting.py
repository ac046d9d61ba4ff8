"""The one way a test waits: for a named condition, up to a deadline, failing with what it
waited for and what it saw last. A live test never sleeps a fixed time: a loaded CI machine
makes any fixed time too short some day, and a fast one makes it waste the rest."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, TypeVar

import httpx

T = TypeVar("T")
STEP_SECONDS: Final = 0.5
# What a probe may raise while the thing it reads is not there yet: a server not listening or
# answering 5xx, a reply without the field yet, a query refused until its data exists.
NOT_YET: Final = (httpx.HTTPError, OSError, ValueError, KeyError, IndexError)


class WaitTimeoutError(AssertionError):
    """The condition did not hold by the deadline."""


def _shown(value: object, limit: int = 800) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def wait_until(condition: str, seconds: float, read: Callable[[], T],
               done: Callable[[T], bool] = bool, *, step: float = STEP_SECONDS,
               detail: Callable[[], str] | None = None) -> T:
    """`read()` until `done` holds for what it returned, for at most `seconds`; that reading.

    On time out it fails naming `condition`, the deadline, the last reading (or the last error
    `read` raised) and `detail()`, such as a container's last log lines.
    """
    end = time.monotonic() + seconds
    last = "nothing read"
    while True:
        try:
            value = read()
            if done(value):
                return value
            last = f"last seen: {_shown(value)}"
        except NOT_YET as error:
            last = f"last error: {type(error).__name__}: {error}"
        if time.monotonic() + step > end:
            extra = f"\n{detail()}" if detail is not None else ""
            raise WaitTimeoutError(f"waited {seconds:g}s for {condition}; {last}{extra}")
        time.sleep(step)


__all__ = ["NOT_YET", "WaitTimeoutError", "wait_until"]

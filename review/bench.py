"""Print, per stack, how many resources the program registers and how long it takes to evaluate
under mocks, beside the bare cost of importing the SDKs in the same process.

`make bench`. Numbers are wall-clock seconds on this machine, best of a few runs.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Final

SDKS: Final = ("pulumi", "pulumi_docker", "pulumi_random", "pulumiverse_grafana")
STACKS: Final = ("staging", "production")
ROUNDS: Final = 3


def main() -> int:
    started = time.perf_counter()
    for module in SDKS:
        importlib.import_module(module)
    import_seconds = time.perf_counter() - started

    # Imported after the timing above, so it is not counted as SDK import time.
    from review.mock_runtime import run_program, stack_config  # noqa: PLC0415

    print(f"SDK import (once per process): {import_seconds:.2f}s ({', '.join(SDKS)})")
    print(f"{'stack':<12}{'resources':>10}{'first run':>12}{'best of ' + str(ROUNDS):>12}")
    for stack in STACKS:
        config, secret_keys = stack_config(stack)
        timings = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            run = run_program(stack, config, secret_keys)
            timings.append(time.perf_counter() - started)
        print(f"{stack:<12}{len(run.resources):>10}{timings[0]:>11.2f}s{min(timings):>11.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Runs the whole program under Pulumi mocks, once per stack, from the real stack files."""

from __future__ import annotations

import functools

import pytest

from review.mock_runtime import ProgramRun, run_content, run_program, stack_config

STACKS = ("staging", "production")
# The example stack of the Kubernetes platform (Pulumi.cluster.yaml): the engine tier runs it,
# the Docker stacks' tests here do not.
CLUSTER = "cluster"


@functools.cache
def _run(stack: str) -> ProgramRun:
    config, secret_keys = stack_config(stack)
    return run_program(stack, config, secret_keys)


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def program(stack: str) -> ProgramRun:
    """The program's run for one stack (shared: runs are deterministic and read-only)."""
    return _run(stack)


@functools.cache
def _content(stack: str) -> ProgramRun:
    return run_content(_run(stack))


@pytest.fixture
def content(stack: str) -> ProgramRun:
    """The Grafana content project's run for one stack, reading that stack's outputs."""
    return _content(stack)


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, not in tests/smoke/conftest.py: pytest reads options only from the first conftests.
    parser.addoption("--stack", choices=(*STACKS, CLUSTER, "dev"),
                     help="the stack the smoke test (make smoke) or the engine tier (make engine; "
                          "dev: `make up` itself; cluster: on the tests' Kubernetes control "
                          "plane) runs")

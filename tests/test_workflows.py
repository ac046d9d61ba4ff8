"""The GitHub workflows: valid by GitHub's workflow schema, and wired the way docs/review.md says.

Previews and deploys run the policy pack on both stacks, production waits for its environment and
for staging, no step prints a secret, and every `make` target a workflow calls exists.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from toolchain import pulumi_engine

ROOT: Final = Path(__file__).resolve().parent.parent
WORKFLOWS: Final = ROOT / ".github" / "workflows"
STACKS: Final = {"staging", "production", "cluster"}
PULUMI_ACTION: Final = "pulumi/actions@"
_MATRIX_RE: Final = re.compile(r"^\$\{\{\s*matrix\.(\w+)\s*\}\}$")
_SECRET_RE: Final = re.compile(r"\$\{\{\s*secrets\.")


def workflow(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    document["on"] = document.pop(True)
    return document


def workflow_names() -> list[str]:
    return sorted(path.name for path in WORKFLOWS.glob("*.y*ml"))


def steps(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(job id, job, step) for every step of a workflow."""
    for job_id, job in document["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


def pulumi_steps(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The pulumi/actions steps that run a command on a stack (without one, it installs the
    CLI only)."""
    for job_id, job, step in steps(document):
        if str(step.get("uses", "")).startswith(PULUMI_ACTION) and "command" in step["with"]:
            yield job_id, job, step


def stacks_of(job: dict[str, Any], step: dict[str, Any]) -> set[str]:
    """The stacks a pulumi/actions step runs on: its stack-name, or the matrix values it names."""
    name = str(step["with"]["stack-name"])
    if (match := _MATRIX_RE.match(name)) is None:
        return {name}
    return {str(value) for value in job["strategy"]["matrix"][match[1]]}


def scripts(document: dict[str, Any]) -> Iterator[str]:
    """Every `run:` script, and every repository script a `run:` starts with `bash <path>`."""
    for _, _, step in steps(document):
        script = str(step.get("run", ""))
        yield script
        for path in re.findall(r"\bbash\s+(\S+)", script):
            if (ROOT / path).is_file():
                yield (ROOT / path).read_text()


def _shell_lines(script: str) -> list[str]:
    """The script's command lines: continuations joined, comment lines left out."""
    return [line for line in script.replace("\\\n", " ").splitlines()
            if not line.lstrip().startswith("#")]


def test_there_are_pr_and_deploy_workflows() -> None:
    assert workflow_names() == ["deploy.yml", "pr.yml"]


def test_workflows_match_the_github_workflow_schema() -> None:
    # check-jsonschema ships the schema (SchemaStore's github-workflow.json): no network needed.
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *(str(WORKFLOWS / name) for name in workflow_names())],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pull_requests_preview_both_stacks_through_the_policy_pack() -> None:
    pr = workflow("pr.yml")
    assert "pull_request" in pr["on"]
    previews = [(job, step) for _, job, step in pulumi_steps(pr)
                if step["with"]["command"] == "preview"]
    assert set().union(*(stacks_of(job, step) for job, step in previews)) == STACKS
    for _, step in previews:
        assert step["with"]["policyPacks"] == "policy"
        assert step["with"]["diff"] is True
        assert step["with"]["comment-on-pr"] is True


def test_main_deploys_staging_then_production_after_approval() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    ups = {stack: (job_id, job, step) for job_id, job, step in pulumi_steps(deploy)
           for stack in stacks_of(job, step) if step["with"]["command"] == "up"}
    assert set(ups) == STACKS
    assert {step["with"]["policyPacks"] for _, _, step in ups.values()} == {"policy"}
    staging_job, _, _ = ups["staging"]
    _, production, _ = ups["production"]
    environment = production["environment"]
    assert (environment if isinstance(environment, str) else environment["name"]) == "production"
    needs = production["needs"]
    assert staging_job in ([needs] if isinstance(needs, str) else needs)


def test_deploys_of_one_stack_never_overlap() -> None:
    deploy = workflow("deploy.yml")
    groups = {}
    for _, job, step in pulumi_steps(deploy):
        (stack,) = stacks_of(job, step)
        assert job["concurrency"]["cancel-in-progress"] is False
        groups[stack] = job["concurrency"]["group"]
    assert set(groups) == STACKS
    assert len(set(groups.values())) == len(STACKS)


def test_every_pulumi_step_takes_backend_and_passphrase_from_secrets() -> None:
    pinned = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned is not None
    for name in workflow_names():
        for job_id, _, step in pulumi_steps(workflow(name)):
            assert step["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}", job_id
            assert step["env"]["PULUMI_CONFIG_PASSPHRASE"] == (
                "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"), job_id
            # The CLI the same release as the SDK the program runs on.
            assert str(step["with"]["pulumi-version"]) == pinned[1], job_id


@pytest.mark.parametrize("name", workflow_names())
def test_no_step_prints_a_secret(name: str) -> None:
    document = workflow(name)
    for job_id, job, step in steps(document):
        script = str(step.get("run", ""))
        # Secrets reach scripts through env only: an expression would be pasted into the script.
        assert not _SECRET_RE.search(script), f"{job_id}: ${{{{ secrets }}}} inside run"
        env = {**document.get("env", {}), **job.get("env", {}), **step.get("env", {})}
        secret_vars = [var for var, value in env.items() if _SECRET_RE.search(str(value))]
        for line in _shell_lines(script):
            if re.search(r"\b(echo|printf|cat)\b|set -x|set -o xtrace", line):
                leaked = [var for var in secret_vars if re.search(rf"\${{?{var}\b", line)]
                assert not leaked, f"{job_id}: {line.strip()!r} prints {leaked}"


def test_every_make_target_a_workflow_calls_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", makefile, re.MULTILINE))
    called = set()
    for name in workflow_names():
        for script in scripts(workflow(name)):
            for line in _shell_lines(script):
                for arguments in re.findall(r"\bmake((?:\s+[^\s|;&<>]+)+)", line):
                    called |= {(name, word) for word in arguments.split()
                               if "=" not in word and not word.startswith("-")}
    assert called, "no workflow calls make"
    assert {(name, target) for name, target in called if target not in targets} == set()


def test_the_test_job_installs_the_engine_make_tools_would_otherwise_build() -> None:
    """No vendored sources on GitHub's runners: the engine tests' CLI and docker plugin come
    from their downloads, at the versions `make tools` looks for (docs/engine.md)."""
    test_job = workflow("pr.yml")["jobs"]["test"]
    (install,) = [step for step in test_job["steps"]
                  if str(step.get("uses", "")).startswith(PULUMI_ACTION)]
    assert "command" not in install["with"]
    assert f"v{install['with']['pulumi-version']}" == pulumi_engine.CLI_VERSION
    script = "\n".join(str(step.get("run", "")) for step in test_job["steps"])
    plugin = f"pulumi plugin install resource docker {pulumi_engine.sdk_docker_version()}"
    assert plugin in script


def test_the_test_job_installs_what_ci_run_would() -> None:
    """.ci/run installs and stops these itself as root; the job does it with sudo beforehand."""
    ci_run = (ROOT / ".ci" / "run").read_text()
    packages = re.search(r"^APT_PACKAGES=\((.*)\)$", ci_run, re.MULTILINE)
    units = re.search(r"^for unit in (.*); do$", ci_run, re.MULTILINE)
    assert packages is not None
    assert units is not None
    test_job = workflow("pr.yml")["jobs"]["test"]
    script = "\n".join(_shell_lines("\n".join(str(s.get("run", "")) for s in test_job["steps"])))
    installed = re.search(r"apt-get install (.*)", script)
    stopped = re.search(r"systemctl stop (.*)", script)
    assert installed is not None
    assert stopped is not None
    assert [w for w in installed[1].split() if not w.startswith("-")] == packages[1].split()
    assert stopped[1].split() == units[1].split()
    assert "bash .ci/run" in script


def test_only_the_preview_job_may_write_and_only_its_comment() -> None:
    writes = set()
    for name in workflow_names():
        document = workflow(name)
        assert document["permissions"] == {"contents": "read"}, name
        for job_id, job in document["jobs"].items():
            writes |= {(name, job_id, scope) for scope, level in job.get("permissions", {}).items()
                       if level == "write"}
    assert writes == {("pr.yml", "preview", "pull-requests")}


def test_actions_are_pinned_to_a_major_version() -> None:
    for name in workflow_names():
        for job_id, _, step in steps(workflow(name)):
            if "uses" in step:
                assert re.match(r"^[\w.-]+/[\w.-]+@v\d+$", step["uses"]), (job_id, step["uses"])

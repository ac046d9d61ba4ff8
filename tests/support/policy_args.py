"""The arguments pulumi-policy 1.21 would hand a policy, built from a mocked program's resources.

Its analyzer deserializes the engine's properties (secret markers dropped, unknowns behind a
checking proxy) and passes protect, parent, the URN and the provider resource; this does the same
with pulumi-policy's own functions, so the real policies can judge the whole program without a CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from review.mock_runtime import ProgramRun, Registration
from settings import PROJECT

PROVIDER_TYPE_PREFIX = "pulumi:providers:"


def engine_props(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Properties in the engine's wire form (secrets as signature maps), as a policy reads them."""
    return unknown_checking_proxy(deserialize_properties(dict(props)))  # type: ignore[no-any-return]


def resource_args(resource_type: str, props: Mapping[str, Any], *, stack: str = "staging",
                  name: str = "resource", urn: str | None = None, protect: bool = False,
                  parent: str | None = None,
                  provider: PolicyProviderResource | None = None) -> ResourceValidationArgs:
    """A policy's view of one resource; `props` in wire form, as in `Registration.inputs`."""
    # Only what a Registration records; the policies read none of the other options.
    options = PolicyResourceOptions(
        protect=protect, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
        parent=parent)
    return ResourceValidationArgs(
        resource_type, engine_props(props),
        urn or f"urn:pulumi:{stack}::{PROJECT}::{resource_type}::{name}", name, options, provider)


def provider_resource(urn: str, props: Mapping[str, Any]) -> PolicyProviderResource:
    """A provider as the engine describes it: type and name come from its URN."""
    qualified_type, name = urn.split("::")[2:4]
    # A parent's type is prefixed with `$` (mocks put pulumi:pulumi:Stack there).
    return PolicyProviderResource(qualified_type.rsplit("$", 1)[-1], engine_props(props), urn,
                                  name)


def provider_of(resource: Registration, run: ProgramRun) -> PolicyProviderResource | None:
    """The provider the engine would report: the explicit one, or the package's default."""
    if resource.provider:
        # A provider reference is `<provider urn>::<provider id>`.
        urn = resource.provider.rpartition("::")[0]
        (registered,) = [r for r in run.resources if r.urn == urn]
        return provider_resource(urn, registered.inputs)
    if not resource.custom or resource.type.startswith(PROVIDER_TYPE_PREFIX):
        return None
    package = resource.type.split(":", 1)[0]
    return provider_resource(
        f"urn:pulumi:{run.stack}::{PROJECT}::{PROVIDER_TYPE_PREFIX}{package}::default", {})


def registration_args(resource: Registration, run: ProgramRun) -> ResourceValidationArgs:
    """What a policy receives for `resource` when `run`'s program is previewed with the pack.

    Inputs are the program's, not the provider's checked inputs: a provider's defaults are absent.
    """
    return resource_args(resource.type, resource.inputs, name=resource.name, urn=resource.urn,
                         protect=resource.protect, parent=resource.parent or None,
                         provider=provider_of(resource, run))

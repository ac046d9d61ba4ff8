"""Serves the GatewayZ observability policies to the Pulumi engine, every one mandatory.

`pulumi preview --policy-pack policy` starts `python -m pulumi.policy <engine> .` inside this
directory, which runs this file with `runpy.run_path(".")`.
"""

from typing import TYPE_CHECKING

from pulumi_policy import EnforcementLevel, PolicyPack

# run_path puts this directory, not the repository, on sys.path: at run time the policies are the
# top-level module `policies`. Type checkers (and tests) reach the same file as `policy.policies`.
if TYPE_CHECKING:
    from policy.policies import POLICIES
else:
    from policies import POLICIES

PolicyPack(
    name="gatewayz-observability",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)

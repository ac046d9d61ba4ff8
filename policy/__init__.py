"""GatewayZ observability policy pack: `policies.py` holds the policies, `__main__.py` serves them.

A package so that tests and type checkers import `policy.policies`; pulumi itself runs the
directory as a script and never imports this file.
"""

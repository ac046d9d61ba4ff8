"""The Kubernetes layer built so far, as a program: a stack's own settings (its stack file,
`platform` left at `docker`, which refuses `kubernetes` until every service is built) deployed
by components/kubernetes/. The mock tests and the control-plane test both run it."""

from components.kubernetes.stack import run_kubernetes
from settings.pulumi_config import load_settings

settings, _ = load_settings()
run_kubernetes(settings)

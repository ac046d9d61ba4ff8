"""The Kubernetes platform: a sibling of the Docker layer (components/service.py and the
services' components) over the same service table and config builders. It deploys Alertmanager
so far; `platform: kubernetes` is refused until it deploys every service (settings/parse.py)."""

"""The Kubernetes platform: a sibling of the Docker layer (components/service.py and the
services' components) over the same service table and config builders. It deploys Prometheus,
Alertmanager and redis_exporter so far."""

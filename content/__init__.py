"""The Grafana content project (its own Pulumi.yaml); `__main__.py` is its program."""

"""Pure builders: settings in, file contents and dashboard JSON out. Nothing here imports Pulumi."""

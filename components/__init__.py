"""One ComponentResource per service of the stack, plus Grafana's content."""

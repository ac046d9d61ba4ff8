"""The Loki and Tempo key references, and the script that derives them at a release bump."""

"""What an operator runs against a deployed stack: the ssh tunnel and `make verify`."""

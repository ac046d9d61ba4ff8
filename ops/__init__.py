"""What an operator runs to bring up and check a stack: the local dev stack (`make up`), the ssh
tunnel and `make verify`."""

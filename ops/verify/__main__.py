"""`python -m ops.verify --stack <stack>`: see ops/verify/cli.py."""

import sys

from ops.verify.cli import main

sys.exit(main())

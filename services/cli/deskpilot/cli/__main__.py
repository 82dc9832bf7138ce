"""`python -m deskpilot.cli` is the `deskpilot` command."""

import sys

from deskpilot.cli.main import main

sys.exit(main())

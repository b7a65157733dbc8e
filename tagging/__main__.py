"""`python -m tagging`: the command-line client (see tagging.cli)."""

import sys

from tagging.cli import main

sys.exit(main())

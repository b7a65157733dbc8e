"""`python -m tagging_client`: the command-line client (see tagging_client.cli)."""

import sys

from tagging_client.cli import main

sys.exit(main())

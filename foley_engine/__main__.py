"""`python -m foley_engine` is the `foley` command."""

import sys

from .cli import main

sys.exit(main())

"""python3 -m ckptvault: the command line (ckptvault.cli)."""

import sys

from .cli import main

sys.exit(main())

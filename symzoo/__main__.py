"""``python -m symzoo``: the symzoo command line (see `symzoo.cli`)."""

import sys

from symzoo.cli import main

if __name__ == "__main__":
    sys.exit(main())

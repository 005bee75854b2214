"""``python -m nnscratch ...`` runs the ``nnscratch`` command line (see nnscratch/cli.py)."""
import sys

from nnscratch.cli import main

if __name__ == "__main__":
    sys.exit(main())

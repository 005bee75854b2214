"""``python -m nnscratch.bench`` = ``nnscratch bench``."""
import sys

from nnscratch.bench.command import main

if __name__ == "__main__":
    sys.exit(main())

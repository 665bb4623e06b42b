"""`python -m studio.cli`: the `studio` command."""
import sys

from studio.cli import main

if __name__ == "__main__":  # not in a process a parallel export spawns (it imports this module again)
    sys.exit(main())

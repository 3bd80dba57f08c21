"""``python -m fr_eval key=value ...``: the same as the ``fr-eval`` command."""
import sys

from .cli import entry

if __name__ == "__main__":  # worker processes (spawn) must not run it again
    sys.exit(entry())

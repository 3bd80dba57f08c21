"""``python -m fr_eval key=value ...``: the same as the ``fr-eval`` command."""
import sys

if __name__ == "__main__":  # worker processes (spawn) import this module: they must neither run it nor load the CLI
    from .cli import entry

    sys.exit(entry())

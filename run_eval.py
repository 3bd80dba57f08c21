#!/usr/bin/env python
"""fr-eval's main command: ``python run_eval.py scenario=4`` (see README.md)."""
import sys

from fr_eval.cli import main

if __name__ == "__main__":
    sys.exit(main())

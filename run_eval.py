if __name__ == "__main__":  # worker processes (spawn) import this file: they must neither run it nor load the CLI
    from fr_eval.cli import entry  # `python run_eval.py ...` is the same as `fr-eval ...` (see README.md)

    raise SystemExit(entry())

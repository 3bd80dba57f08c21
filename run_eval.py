from fr_eval.cli import entry  # `python run_eval.py ...` is the same as `fr-eval ...` (see README.md)
if __name__ == "__main__": raise SystemExit(entry())  # noqa: E701  (guarded: worker processes import this file)

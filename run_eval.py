from fr_eval.cli import main  # `python run_eval.py ...` is the same as `fr-eval ...` (see README.md)
if __name__ == "__main__": raise SystemExit(main())  # noqa: E701  (guarded: worker processes import this file)

"""The three stages of a scenario run, each a module with one public function and a frozen result:

- :func:`plan.make_plan` -> :class:`plan.Plan`: samples, variants, Table 3 rows, comparisons;
- :func:`acquire.acquire` -> :class:`acquire.Acquired`: per (sample, variant) an embedding or a
  failure, and quality values (or :func:`acquire.from_embeddings`, for embeddings from a file);
- :func:`evaluate.evaluate` -> :class:`evaluate.Evaluated`: thresholds, each row's figures and scores.

``fr_eval.runner.run`` composes them; score import enters at ``fr_eval.evaluation.evaluate_table``,
embedding import at ``acquire.from_embeddings``: every figure has one code path.
"""

"""Embeddings from a model fr-eval does not wrap: a run's exported embeddings, read back, give the
run's figures; Parquet works the same; entries the scenarios need but the file lacks are failures."""

import numpy as np

from fr_eval.cli import main


def test_bad_embeddings_files_one_line(tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", sample=np.array(["a"]), role=np.array(["judge"]))
    (tmp_path / "x.txt").write_text("no")
    for f, want in (("bad.npz", "missing subject, variant, embedding"), ("x.txt", "give a .npz or .parquet file"),
                    ("none.npz", "no such file")):
        assert main([f"embeddings={tmp_path / f}", f"out_dir={tmp_path / 'r'}"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and want in err, err

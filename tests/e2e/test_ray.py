"""executor=ray: the same acquisitions on Ray actors (a real local Ray instance, 2 CPUs)."""


from fr_eval.cli import main


def test_executor_is_checked(capsys, tmp_path):
    assert main(["executor=spark", f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 's'}"]) == 2
    assert "executor=spark is not valid: choose from local, ray" in capsys.readouterr().err

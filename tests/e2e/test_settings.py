"""The typed configuration: each default defined once (fr_eval.settings), the same in every way in."""


from fr_eval.cli import keys_text, main


def test_keys_lists_each_key_with_its_default(capsys):
    text = keys_text(["system=sface"])
    lines = {ln.split()[0]: ln for ln in text.splitlines() if ln.strip() and "=" in ln.split()[0]}
    assert "fmr=0.001" in lines and "as a fraction" in lines["fmr=0.001"]
    assert "bootstrap.n_resamples=1000" in lines and "system.det_thresh=0.9" in lines
    assert "system.pack=buffalo_l" not in lines  # sface has no pack
    assert "system.pack=buffalo_l" in {ln.split()[0] for ln in keys_text(["system=arcface"]).splitlines()}
    assert main(["--keys"]) == 0 and "system.arcface.det_thresh=0.5" in capsys.readouterr().out

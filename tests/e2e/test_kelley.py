"""Kelley's DeOldify [Ke19]: the fork's Unet34 with random weights, saved in each author's layout."""










def test_keys_and_bad_values(capsys, tmp_path):
    from fr_eval.cli import keys_text, main
    text = keys_text([])
    assert "colourisers.<deoldify_kelley>.output=bytescale" in text
    assert "colourisers.<deoldify_kelley>.render_factor=42" in text and "colourisers.<deoldify>.render_factor=35" in text
    code = main(["scenario=4", "colouriser=deoldify-kelley", "colourisers.deoldify-kelley.output=stretch",
                 f"out_dir={tmp_path / 'r'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "colourisers.deoldify-kelley.output" in err[0] and "bytescale" in err[0]

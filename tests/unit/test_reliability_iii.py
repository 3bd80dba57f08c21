"""The third outside probe (issue 36), kept as tests: a fault of fr-eval is said as one (exit 3, its traceback in
error.log), headers with spaces after the commas read as without, float images scaled from the range they
occupy, attribute files with one group or with names that differ from the folders', an embedding file with an
unknown variant, a manifest whose references were all set aside, several systems with a colouriser override,
and every CSV of the three run kinds one number per cell."""

import pytest




def test_every_reader_strips_header_names(tmp_path, capsys):
    from fr_eval.datasets.base import read_csv_rows, stripped_columns
    from fr_eval.errors import FrEvalError
    (tmp_path / "a.csv").write_text("subject , team,\tscore\nx,a,1\ny,b,2,extra\nz\n")
    header, rows = read_csv_rows(tmp_path / "a.csv", "t")
    assert header == ["subject", "team", "score"]
    assert rows[0] == (2, {"subject": "x", "team": "a", "score": "1"})
    assert rows[1][1][None] == ["extra"] and rows[2][1] == {"subject": "z", "team": None, "score": None}
    (tmp_path / "b.csv").write_text("score, score\n1,2\n")
    with pytest.raises(FrEvalError, match="names column 'score' twice"):
        read_csv_rows(tmp_path / "b.csv", "t")
    assert stripped_columns({" a ": 1, "b": 2}, "t", "p") == {"a": 1, "b": 2}


# -- CSVs for machines ----------------------------------------------------------------------------------------------------
def test_machine_table_cells():
    from fr_eval.report.io import machine_table
    header = ["Scenario", "FTA (%)", "b - a (points)", "95% CI (subjects)", "Rank", "Images a / b", "Group", "p"]
    body = [["4 [exemplar]", "0 [0, 75]", "+2.38", "[+1.47, +3.69]", "not ranked (n too small)", "7 / 5", "very light\u2020",
             "p \u2264 0.0001"],
            ["1", "2.38 [1.47, 3.69]\u2020", "\u22120.50", "n/a", "1", "5 / 5", "tan", "0.24"],
            ["2", "-21.5 [-32.4, -12.6]", "0.00", "[-0.15, +1.12]", "5 (n too small)", "3 / 2", "dark", "1"]]
    h, b = machine_table(header, body)
    assert h == ["Scenario", "FTA (%)", "FTA (%) low", "FTA (%) high", "FTA (%) flag", "b - a (points)",
                 "b - a (points) low", "b - a (points) high", "Rank", "Rank note", "Images a", "Images b", "Group",
                 "Group flag", "p", "p note"]
    assert b[0] == ["4 [exemplar]", "0", "0", "75", "", "2.38", "1.47", "3.69", "", "not ranked (n too small)", "7", "5",
                    "very light", "\u2020", "0.0001", "\u2264"]
    assert b[1][1:8] == ["2.38", "1.47", "3.69", "\u2020", "-0.50", "", ""] and b[2][8:10] == ["5", "n too small"]
    # an interval left out over too few units: no number, its count as a note (the column stays numeric)
    h, b = machine_table(["d (points)", "95% CI (subjects)"], [["+0.50", "(2 subjects: n too small)"],
                                                              ["-1.00", "[-2.00, +0.25]"]])
    assert h == ["d (points)", "d (points) low", "d (points) high", "d (points) note"]
    assert b == [["0.50", "", "", "2 subjects: n too small"], ["-1.00", "-2.00", "0.25", ""]]

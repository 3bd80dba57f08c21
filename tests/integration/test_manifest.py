import json




def write(path, text):
    path.write_text(text)
    return path


def test_manifest_end_to_end(lfw_small, tmp_path, capsys):
    from fr_eval.cli import main
    subjects = sorted(p for p in lfw_small.iterdir() if p.is_dir())[:6]
    lines = ["path,subject,role,condition"]
    for s in subjects:
        files = sorted(s.glob("*.jpg"))
        lines.append(f"{files[0].relative_to(lfw_small)},{s.name},reference,studio")
        lines += [f"{f.relative_to(lfw_small)},{s.name},probe,{'indoor' if i % 2 else 'outdoor'}"
                  for i, f in enumerate(files[1:])]
    lines.append(f"{subjects[0].name}/nope.jpg,{subjects[0].name},probe,outdoor")
    m = write(tmp_path / "m.csv", "\n".join(lines) + "\n")
    out = tmp_path / "r"
    code = main(["scenario=[1,2]", "system=sface", "dataset=manifest", f"dataset.path={m}",
                 f"dataset.root={lfw_small}", f"out_dir={out}", f"store_dir={tmp_path / 's'}", "progress=false",
                 "bootstrap.n_resamples=100", "report.breakdown=[condition]"])
    assert code == 0
    r = json.loads((out / "metrics.json").read_text())
    assert r["table1"]["subjects"] == 6 and r["table1"]["probes"] == 18
    assert [p["kind"] for p in r["dataset"]["problems"]] == ["missing file"]
    # FNMR/FRR per probe condition: 6 subjects x (2 outdoor + 1 indoor) probes
    for row in r["rows"]:
        groups = {g["value"]: g for g in row["breakdown"]["condition"]}
        assert {k: (g["n_attempts"], g["n_subjects"]) for k, g in groups.items()} == {
            "indoor": (6, 6), "outdoor": (12, 6)}
        assert sum(g["n_false_non_matches"] for g in groups.values()) == row["n_false_non_matches"]
    assert (out / "breakdown.csv").read_text().count("condition") == 4  # 2 scenarios x 2 values
    code = main(["scenario=1", "system=sface", "dataset=manifest", f"dataset.path={m}", f"dataset.root={lfw_small}",
                 f"out_dir={tmp_path / 'r_weather'}", f"store_dir={tmp_path / 's'}", "report.breakdown=[weather]"])
    assert code == 2
    assert "report.breakdown: weather is not a metadata field of dataset manifest; its fields: condition" \
        in capsys.readouterr().err

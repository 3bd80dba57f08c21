import json

import pytest
from PIL import Image

from fr_eval.datasets import load_dataset
from fr_eval.errors import ConfigError, FrEvalError


@pytest.fixture
def images(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for name in ("a1", "a2", "a3", "b1", "b2", "c1", "d1"):
        Image.new("RGB", (8, 8), (10, 20, 30)).save(d / f"{name}.png")
    return d


def write(path, text):
    path.write_text(text)
    return path


def test_manifest_rows_metadata_and_problems(images, tmp_path):
    m = write(tmp_path / "m.csv", "\n".join([
        "path,subject,role,session,condition",
        "imgs/a1.png,A,reference,1,controlled",
        "imgs/a2.png,A,probe,2,uncontrolled",
        "imgs/a3.png,A,PROBE,3,uncontrolled",
        "imgs/a2.png,A,probe,2,uncontrolled",      # duplicate path
        "imgs/b1.png,B,reference,1,controlled",
        "imgs/b2.png,B,gallery,1,controlled",      # unknown role
        "imgs/zz.png,B,probe,2,controlled",        # missing file
        "imgs/c1.png,C,probe,1,controlled",        # probe without reference
        ",D,reference,1,controlled",               # malformed (empty path)
        "imgs/d1.png,D,reference,1,controlled,x",  # more fields than columns
    ]) + "\n")
    ds = load_dataset({"type": "manifest", "path": str(m)})
    assert [s.rel for s in ds.references] == ["imgs/a1.png"]
    assert [s.rel for s in ds.probes] == ["imgs/a2.png", "imgs/a3.png"]
    assert dict(ds.probes[0].meta) == {"session": "2", "condition": "uncontrolled"}
    kinds = sorted(p["kind"] for p in ds.problems)
    assert kinds == ["duplicate path", "malformed row", "malformed row", "missing file", "probe without reference",
                     "unknown role"]
    assert {e["subject"]: e["reason"] for e in ds.excluded} == {"B": "no probe (dataset.single_image_subjects=drop)", "C": "no reference"}
    with pytest.raises(FrEvalError) as e:
        load_dataset({"type": "manifest", "path": str(m), "strict": True})
    msg = str(e.value)
    assert "6 problem(s)" in msg and "1 missing file" in msg and "m.csv:5" in msg


def test_manifest_root_and_header(images, tmp_path):
    (tmp_path / "sub").mkdir()
    m = write(tmp_path / "sub" / "m.csv", "subject,role,path\nA,reference,a1.png\nA,probe,a2.png\n")
    ds = load_dataset({"type": "manifest", "path": str(m), "root": str(images)})
    assert [s.rel for s in ds.references + ds.probes] == ["a1.png", "a2.png"]
    bad = write(tmp_path / "bad.csv", "file,identity\nx,y\n")
    with pytest.raises(ConfigError, match="missing column"):
        load_dataset({"type": "manifest", "path": str(bad)})


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

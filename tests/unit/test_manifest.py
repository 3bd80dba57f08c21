
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

"""FRGC v2 is licensed: the loader is tested on a synthetic tree in the distribution's layout
(nd1/<semester>/<subject>d<recording>.jpg, BEE_DIST signature sets and metadata), built from LFW."""
import shutil

import pytest

from fr_eval.datasets import load_dataset
from fr_eval.errors import FrEvalError

SIGSETS = "BEE_DIST/FRGC2.0/signature_sets/experiments"


def sigset(path, entries):
    """entries: (subject id, recording id, file name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f'  <biometric-signature name="nd1S{s}">\n    <presentation name="{r}" modality="face" '
                   f'file-name="{f}" file-format="jpeg"/>\n  </biometric-signature>\n' for s, r, f in entries)
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<biometric-signature-set>\n{body}'
                    f'</biometric-signature-set>\n')


def build(tmp_path, lfw_small, metadata=True):
    src = sorted(lfw_small.rglob("*.jpg"))
    root = tmp_path / "FRGC-2.0"
    files = {  # file -> (semester, condition, capture date)
        "04201d302.jpg": ("Spring2003", "controlled", "3/3/2003"),
        "04201d303.jpg": ("Spring2003", "uncontrolled", "3/3/2003"),
        "04201d310.jpg": ("Spring2003", "controlled", "3/10/2003"),
        "04201d311.JPG": ("Spring2003", "uncontrolled", "3/10/2003"),
        "04202d401.jpg": ("Fall2003", "uncontrolled", "10/1/2003"),  # one session
        "04202d402.jpg": ("Fall2003", "controlled", "10/1/2003"),
        "04202d403.jpg": ("Fall2003", "controlled", "10/1/2003"),
        "04203d500.jpg": ("Spring2004", "uncontrolled", "2/2/2004"),  # no controlled image
        "04203d501.jpg": ("Spring2004", "uncontrolled", "2/9/2004"),
    }
    for i, (name, (sem, _, _)) in enumerate(files.items()):
        d = root / "nd1" / sem
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(src[i], d / name)
    (root / "nd1" / "Spring2003" / "04201d302.abs").write_text("3-D data")  # not a still: skipped silently
    (root / "nd1" / "Spring2003" / "readme.jpg").write_bytes(b"")
    rec = {name: f"nd1R{1000 + i}" for i, name in enumerate(files)}
    entries = {c: [(n[:5], rec[n], f"nd1/{sem}/{n[:-4]}") for n, (sem, cc, _) in files.items() if cc == c]
               for c in ("controlled", "uncontrolled")}
    entries["controlled"].append(("04299", "nd1R9999", "nd1/Fall2003/04299d100"))  # listed, not on disk
    sigset(root / SIGSETS / "FRGC_Exp_2.0.1_Target.xml", entries["controlled"])
    sigset(root / SIGSETS / "FRGC_Exp_2.0.4_Query.xml", entries["uncontrolled"])
    if metadata:
        meta = root / "BEE_DIST/FRGC2.0/metadata/FRGC_2.0_Metadata.xml"
        meta.parent.mkdir(parents=True)
        recs = "".join(f'<Recording recording_id="{rec[n]}" subject_id="nd1S{n[:5]}" capturedate="{d}">'
                       f'<LeftEyeCenter x="1" y="2"/></Recording>\n' for n, (_, _, d) in files.items())
        meta.write_text(f"<Metadata>\n{recs}</Metadata>\n")
    return root


def test_frgc_with_signature_sets_and_metadata(tmp_path, lfw_small):
    root = build(tmp_path, lfw_small)
    ds = load_dataset({"type": "frgc", "root": str(root)})
    refs = {s.subject: s.rel for s in ds.references}
    # 04201: the first controlled image of its first session; probes only from the later session
    assert refs == {"04201": "nd1/Spring2003/04201d302.jpg", "04202": "nd1/Fall2003/04202d402.jpg"}
    probes = {s.rel.split("/")[-1]: dict(s.meta) for s in ds.probes}
    assert set(probes) == {"04201d310.jpg", "04201d311.JPG", "04202d401.jpg", "04202d403.jpg"}
    assert probes["04201d311.JPG"] == {"session": "2003-03-10", "session_source": "metadata capturedate",
                                       "condition": "uncontrolled", "recording": "311", "session_gap_days": "7",
                                       "same_session": "false"}
    assert probes["04202d401.jpg"]["same_session"] == "true"  # one session: that session's other images
    assert {e["subject"]: e["reason"] for e in ds.excluded} == {"04203": "no controlled image for the reference"}
    assert [i["path"] for i in ds.ignored] == ["nd1/Spring2003/readme.jpg"]
    assert [p["kind"] for p in ds.problems] == ["missing file"] and "04299d100" in ds.problems[0]["detail"]
    assert ds.settings["images_with_capture_date"] == 9 and ds.settings["images_with_condition"] == 9
    with pytest.raises(FrEvalError, match="1 problem.*missing file"):
        load_dataset({"type": "frgc", "root": str(root), "strict": True})
    # uncontrolled probes only (FRGC Experiment 4's kind of comparison)
    ds4 = load_dataset({"type": "frgc", "root": str(root), "probe_conditions": ["uncontrolled"]})
    assert {s.rel.split("/")[-1] for s in ds4.probes} == {"04201d311.JPG", "04202d401.jpg"}


def test_frgc_without_metadata_or_signature_sets(tmp_path, lfw_small):
    root = build(tmp_path, lfw_small, metadata=False)
    ds = load_dataset({"type": "frgc", "root": str(root)})
    # no capture dates: the collection folder is the (coarse) session, and the samples say so
    assert all(dict(s.meta)["session_source"] == "folder" for s in ds.probes)
    assert {s.rel.split("/")[-1] for s in ds.probes if s.subject == "04201"} == {
        "04201d303.jpg", "04201d310.jpg", "04201d311.JPG"}
    shutil.rmtree(root / "BEE_DIST")
    ds = load_dataset({"type": "frgc", "root": str(root)})
    # no condition known for anyone: the first image of the first session is the reference
    assert {s.subject: s.rel.split("/")[-1] for s in ds.references} == {
        "04201": "04201d302.jpg", "04202": "04202d401.jpg", "04203": "04203d500.jpg"}
    assert all(dict(s.meta)["condition"] == "unknown" for s in ds.probes)
    with pytest.raises(FrEvalError, match="dataset.controlled: .*nope.xml is not a file"):
        load_dataset({"type": "frgc", "root": str(root), "controlled": ["nope.xml"]})
    bad = root / "bad.xml"
    bad.write_text("<biometric-signature-set><oops></biometric-signature-set>")
    with pytest.raises(FrEvalError, match="could not be read as XML"):
        load_dataset({"type": "frgc", "root": str(root), "controlled": [str(bad)]})


def test_frgc_end_to_end_with_breakdowns(tmp_path, lfw_small):
    import json

    from fr_eval.cli import main
    from fr_eval.runner import bin_label
    root = build(tmp_path, lfw_small)
    out = tmp_path / "r"
    assert main(["dataset=frgc", f"dataset.root={root}", "scenario=[1,2]", "system=sface", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=50",
                 "report.breakdown=[condition,session_gap_days]",
                 "report.breakdown_bins={session_gap_days:[1,30]}"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["table1"] == {"dataset": "frgc", "subjects": 2, "references": 2, "probes": 4, "genuine": 4,
                           "impostor": 4}
    bd = m["rows"][0]["breakdown"]
    assert [(g["value"], g["n_attempts"]) for g in bd["condition"]] == [("controlled", 2), ("uncontrolled", 2)]
    assert [(g["value"], g["n_attempts"]) for g in bd["session_gap_days"]] == [("< 1", 2), ("[1, 30)", 2)]
    assert [bin_label(v, [1, 30]) for v in ("0", "1", "29.5", "30", "")] == ["< 1", "[1, 30)", "[1, 30)", ">= 30", ""]

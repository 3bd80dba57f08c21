"""FRGC v2 is licensed: the loader is tested on a synthetic tree laid out as FRGC-2.0-dist is
(validation stills in nd1/Fall2003 and nd1/Spring2004, training stills in nd1/Fall2002/<date>/ and
nd1/Spring2003, 3-D scans in nd1/Fall2003range, namespaced BEE signature sets and the metadata
file under BEE_DIST/FRGC2.0 or BEE_DIST/linux/FRGC/FRGC2.0), built from LFW images."""
import logging
import shutil

import pytest

from fr_eval.datasets import load_dataset
from fr_eval.errors import FrEvalError

NS = "http://www.bee-biometrics.org/schemas/sigset/0.1"
EXPERIMENTS = "FRGC2.0/signature_sets/experiments"
FILES = {  # file -> (folder, condition, capture date, listed as written in the sigset)
    "04201d302.jpg": ("Fall2003", "controlled", "10/1/2003", "nd1/Fall2003/04201d302.jpg"),
    "04201d303.jpg": ("Fall2003", "uncontrolled", "10/1/2003", "nd1/Fall2003/04201d303.jpg"),
    "04201d410.jpg": ("Spring2004", "controlled", "2/3/2004", "nd1/Spring2004/04201d410"),  # bob style: no ext.
    "04201d411.JPG": ("Spring2004", "uncontrolled", "2/3/2004", "nd1/Spring2004/04201d411.jpg"),  # .JPG on disk
    "04202d501.jpg": ("Fall2003", "uncontrolled", "10/8/2003", "nd1/Fall2003/04202d501.jpg"),  # one session
    "04202d502.jpg": ("Fall2003", "controlled", "10/8/2003", "nd1/Fall2003/04202d502.jpg"),
    "04202d503.jpg": ("Fall2003", "controlled", "10/8/2003", "nd1/Fall2003/04202d503.jpg"),
    "04203d600.jpg": ("Spring2004", "uncontrolled", "3/1/2004", "nd1/Spring2004/04203d600.jpg"),  # no controlled
    "04203d601.jpg": ("Spring2004", "uncontrolled", "3/8/2004", "nd1/Spring2004/04203d601.jpg"),
}
TRAINING = {"Fall2002/2002-240/04204d100.JPG", "Spring2003/04205d200.jpg", "Spring2003/04201d150.jpg"}


def sigset(path, entries):
    """entries: (subject id, recording id, file name as listed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f'  <biometric-signature name="nd1S{s}">\n    <presentation name="{r}" modality="face" '
                   f'file-name="{f}" file-format="jpeg"/>\n  </biometric-signature>\n' for s, r, f in entries)
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<biometric-signature-set xmlns="{NS}">\n{body}'
                    f'</biometric-signature-set>\n')


def build(tmp_path, lfw_small, *, metadata=True, bee="BEE_DIST", bad_date=None):
    src = sorted(lfw_small.rglob("*.jpg"))
    root = tmp_path / "FRGC-2.0-dist"
    for i, (name, (folder, *_)) in enumerate(FILES.items()):
        (root / "nd1" / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(src[i], root / "nd1" / folder / name)
    for j, rel in enumerate(sorted(TRAINING)):  # training stills: in no experiment's target or query set
        (root / "nd1" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src[20 + j], root / "nd1" / rel)
    (root / "nd1" / "Fall2003range").mkdir(parents=True)
    (root / "nd1" / "Fall2003range" / "04201d302.abs.gz").write_bytes(b"")
    rec = {name: f"nd1R{53000 + i}" for i, name in enumerate(FILES)}
    entries = {c: [(n[:5], rec[n], listed) for n, (_, cc, _, listed) in FILES.items() if cc == c]
               for c in ("controlled", "uncontrolled")}
    entries["controlled"].append(("04299", "nd1R99999", "nd1/Fall2003/04299d100.jpg"))  # listed, not on disk
    sets = root / bee / EXPERIMENTS
    sigset(sets / "FRGC_Exp_2.0.1_Target.xml", entries["controlled"])
    sigset(sets / "FRGC_Exp_2.0.4_Query.xml", entries["uncontrolled"])
    if metadata:
        meta = root / bee / "FRGC2.0/metadata/FRGC_2.0_Metadata.xml"
        meta.parent.mkdir(parents=True)
        recs = "".join(f'<Recording recording_id="{rec[n]}" subject_id="nd1S{n[:5]}" capturedate="'
                       f'{bad_date if bad_date and n == "04201d410.jpg" else d}">'
                       f'<LeftEyeCenter x="1" y="2"/></Recording>\n' for n, (_, _, d, _) in FILES.items())
        meta.write_text(f"<Metadata><CoordinateData>\n{recs}</CoordinateData></Metadata>\n")
    return root


def test_frgc_selected_through_signature_sets(tmp_path, lfw_small):
    root = build(tmp_path, lfw_small)
    ds = load_dataset({"type": "frgc", "root": str(root)})
    refs = {s.subject: s.rel for s in ds.references}
    # 04201: the first controlled image of its first session; probes only from the later session
    assert refs == {"04201": "nd1/Fall2003/04201d302.jpg", "04202": "nd1/Fall2003/04202d502.jpg"}
    probes = {s.rel.split("/")[-1]: dict(s.meta) for s in ds.probes}
    assert set(probes) == {"04201d410.jpg", "04201d411.JPG", "04202d501.jpg", "04202d503.jpg"}
    assert probes["04201d411.JPG"] == {"session": "2004-02-03", "session_source": "metadata capturedate",
                                       "condition": "uncontrolled", "recording": "411", "session_gap_days": "125",
                                       "same_session": "false"}
    assert probes["04202d501.jpg"]["same_session"] == "true"  # one session: that session's other images
    assert {e["subject"]: e["reason"] for e in ds.excluded} == {"04203": "no controlled image for the reference"}
    # training stills (Fall2002, Spring2003) are never scanned: their subjects do not appear at all
    assert {s.subject for s in ds.references + ds.probes} == {"04201", "04202"}
    assert not any("Spring2003" in s.rel or "Fall2002" in s.rel for s in ds.references + ds.probes)
    assert [p["kind"] for p in ds.problems] == ["missing file"] and "04299d100" in ds.problems[0]["detail"]
    assert ds.settings["images_listed_present"] == 9 and ds.settings["images_with_capture_date"] == 9
    with pytest.raises(FrEvalError, match="1 problem.*missing file"):
        load_dataset({"type": "frgc", "root": str(root), "strict": True})
    # uncontrolled probes only (FRGC Experiment 4's kind of comparison)
    ds4 = load_dataset({"type": "frgc", "root": str(root), "probe_conditions": ["uncontrolled"]})
    assert {s.rel.split("/")[-1] for s in ds4.probes} == {"04201d411.JPG", "04202d501.jpg"}


def test_frgc_sets_under_linux_folder(tmp_path, lfw_small):
    """Some copies keep the BEE files under BEE_DIST/linux/FRGC/ (bob.db.frgc looks there too)."""
    root = build(tmp_path, lfw_small, bee="BEE_DIST/linux/FRGC")
    ds = load_dataset({"type": "frgc", "root": str(root)})
    assert {s.subject: s.rel for s in ds.references} == {"04201": "nd1/Fall2003/04201d302.jpg",
                                                         "04202": "nd1/Fall2003/04202d502.jpg"}
    assert all(dict(s.meta)["condition"] in ("controlled", "uncontrolled") for s in ds.probes)
    assert "linux/FRGC" in ds.settings["metadata"] and ds.settings["images_with_capture_date"] == 9


def test_frgc_without_signature_sets_stops_naming_where(tmp_path, lfw_small):
    root = build(tmp_path, lfw_small)
    shutil.rmtree(root / "BEE_DIST")
    with pytest.raises(FrEvalError) as err:
        load_dataset({"type": "frgc", "root": str(root)})
    msg = str(err.value)
    assert "FRGC_Exp_2.0.1_Target.xml not found" in msg and "BEE_DIST/FRGC2.0/signature_sets/experiments" in msg
    assert "BEE_DIST/linux/FRGC/FRGC2.0/signature_sets/experiments" in msg and "\n" not in msg
    with pytest.raises(FrEvalError, match="dataset.controlled: .*nope.xml is not a file"):
        load_dataset({"type": "frgc", "root": str(root), "controlled": ["nope.xml"]})
    bad = root / "bad.xml"
    bad.write_text("<biometric-signature-set><oops></biometric-signature-set>")
    with pytest.raises(FrEvalError, match="could not be read as XML"):
        load_dataset({"type": "frgc", "root": str(root), "controlled": [str(bad)], "uncontrolled": [str(bad)]})


def test_frgc_unparseable_date_and_no_metadata_warn(tmp_path, lfw_small, caplog):
    root = build(tmp_path, lfw_small, bad_date="sometime in 2004")
    with caplog.at_level(logging.WARNING):
        ds = load_dataset({"type": "frgc", "root": str(root)})
    warned = [r.getMessage() for r in caplog.records if "no usable capture date" in r.getMessage()]
    assert len(warned) == 1 and "1 of 9 images" in warned[0] and "1 with a capturedate in no known format" in warned[0]
    meta = {s.rel.split("/")[-1]: dict(s.meta) for s in ds.probes}
    assert meta["04201d410.jpg"]["session_source"] == "folder" and meta["04201d410.jpg"]["session"] == "Spring2004"
    assert ds.settings["images_with_folder_session"] == 1
    caplog.clear()
    root2 = build(tmp_path / "nometa", lfw_small, metadata=False)
    with caplog.at_level(logging.WARNING):
        ds2 = load_dataset({"type": "frgc", "root": str(root2)})
    assert any("9 of 9 images" in r.getMessage() for r in caplog.records)
    assert all(dict(s.meta)["session_source"] == "folder" for s in ds2.probes)
    assert {s.rel.split("/")[-1] for s in ds2.probes if s.subject == "04201"} == {"04201d410.jpg", "04201d411.JPG"}


def test_frgc_end_to_end_with_breakdowns(tmp_path, lfw_small):
    import json

    from fr_eval.cli import main
    from fr_eval.stages.plan import bin_label
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
    assert [(g["value"], g["n_attempts"]) for g in bd["session_gap_days"]] == [("< 1", 2), (">= 30", 2)]
    assert [bin_label(v, [1, 30]) for v in ("0", "1", "29.5", "30", "")] == ["< 1", "[1, 30)", "[1, 30)", ">= 30", ""]


def test_frgc_subject_attributes_from_the_metadata(tmp_path, lfw_small):
    """Subject attributes a Recording carries (gender, race, yob) reach every sample of the subject: groups for
    report.differentials."""
    root = build(tmp_path, lfw_small)
    meta = next(root.rglob("FRGC_2.0_Metadata.xml"))
    text = meta.read_text()
    text = text.replace('subject_id="nd1S04201"', 'subject_id="nd1S04201" gender="Female" race="Asian" yob="1980"')
    text = text.replace('subject_id="nd1S04202"', 'subject_id="nd1S04202" gender="Male"')
    meta.write_text(text)
    ds = load_dataset({"type": "frgc", "root": str(root)})
    by = {}
    for s in ds.references + ds.probes:
        m = dict(s.meta)
        by.setdefault(s.subject, set()).add((m.get("gender"), m.get("race"), m.get("yob")))
    assert by == {"04201": {("Female", "Asian", "1980")}, "04202": {("Male", None, None)}}
